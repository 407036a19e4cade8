import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { kubectl, waitEstablished } from './control-plane.ts';
import { repoRoot, waitFor } from './processes.ts';
import { installGatewayApiCrds } from './third-party.ts';

/** Applies Fledge's generated CRDs (if generated yet) and waits until they are served. */
export async function installFledgeCrds(kubeconfigPath: string): Promise<void> {
  const dir = join(repoRoot, 'crds');
  if (!existsSync(dir) || readdirSync(dir).filter((f) => f.endsWith('.yaml')).length === 0) return;
  await kubectl(kubeconfigPath, ['apply', '--server-side', '--force-conflicts', '-f', dir]);
  await waitEstablished(kubeconfigPath, ['-f', dir]);
  // Established is not enough: storage for a new kind answers 429 for a moment.
  const kinds = ['canaries', 'metrictemplates', 'alertproviders'].map((plural) => `${plural}.fledge.dev`);
  await waitFor('Fledge kinds to be served', async () => {
    await kubectl(kubeconfigPath, ['get', kinds.join(','), '--all-namespaces']);
    return true;
  });
}

/** Everything a test cluster or the sandbox needs: Fledge's CRDs and the upstream Gateway API CRDs. */
export async function installCrds(kubeconfigPath: string): Promise<void> {
  await Promise.all([installFledgeCrds(kubeconfigPath), installGatewayApiCrds(kubeconfigPath)]);
}
