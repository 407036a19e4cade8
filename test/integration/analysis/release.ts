import { inPhase, waitForCanary } from '../../harness/canary.ts';
import { apply, canary, deployment, setImage } from '../controller/fixtures.ts';

/**
 * Creates a Deployment running example/app:1 and its Canary, waits until the
 * Canary is initialised, then starts a release by moving the image to example/app:2.
 */
export async function startRelease(
  kubeconfigPath: string,
  namespace: string,
  name: string,
  spec: Record<string, unknown>,
): Promise<void> {
  await apply(kubeconfigPath, deployment(namespace, name, 'example/app:1'), canary(namespace, name, spec));
  await waitForCanary(kubeconfigPath, namespace, name, inPhase('Initialized'), {
    what: `${name} initialised`,
    timeoutMs: 60_000,
  });
  await setImage(kubeconfigPath, namespace, name, 'example/app:2');
}
