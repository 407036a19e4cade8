import { randomBytes } from 'node:crypto';
import { kubectl } from './control-plane.ts';

export interface IntegrationEnv {
  kubeconfigPath: string;
  prometheusUrl: string;
  runId: string;
}

/** What the integration global setup started (or found running) for this run. */
export function integrationEnv(): IntegrationEnv {
  const kubeconfigPath = process.env.FLEDGE_KUBECONFIG;
  const prometheusUrl = process.env.FLEDGE_PROMETHEUS_URL;
  const runId = process.env.FLEDGE_TEST_RUN;
  if (!kubeconfigPath || !prometheusUrl || !runId) {
    throw new Error('integration environment missing: run through `make test` or `npm run test:integration`');
  }
  return { kubeconfigPath, prometheusUrl, runId };
}

export const testRunLabel = 'fledge.dev/test-run';

/** Creates a uniquely named namespace for one test file; global teardown deletes it. */
export async function createTestNamespace(prefix: string): Promise<string> {
  const { kubeconfigPath, runId } = integrationEnv();
  const name = `${prefix}-${randomBytes(3).toString('hex')}`.toLowerCase();
  const manifest = {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name, labels: { [testRunLabel]: runId } },
  };
  await kubectl(kubeconfigPath, ['create', '-f', '-'], JSON.stringify(manifest));
  return name;
}
