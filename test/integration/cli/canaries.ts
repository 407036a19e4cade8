import type { Canary, CanaryStatus } from '../../../src/api/index.ts';
import { kubectl } from '../../harness/control-plane.ts';
import { integrationEnv } from '../../harness/env.ts';

// Helpers the CLI integration tests share: create Canaries, play the operator
// by writing their status, and read back what the commands changed.

/** A minimal valid progressive canary: weights 10, 20, 30, 40, 50; rolls back at 3 failed checks. */
export async function createCanary(
  namespace: string,
  name: string,
  annotations: Record<string, string> = {},
): Promise<void> {
  const manifest = {
    apiVersion: 'fledge.dev/v1beta1',
    kind: 'Canary',
    metadata: { name, namespace, annotations },
    spec: {
      provider: 'linkerd',
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name },
      service: { port: 9898 },
      analysis: {
        interval: '30s',
        threshold: 3,
        stepWeight: 10,
        maxWeight: 50,
        metrics: [{ name: 'request-success-rate', interval: '1m', thresholdRange: { min: 99 } }],
      },
    },
  };
  await kubectl(integrationEnv().kubeconfigPath, ['create', '-f', '-'], JSON.stringify(manifest));
}

/** Merge-patches the status subresource, as the operator would. */
export async function setStatus(namespace: string, name: string, status: CanaryStatus): Promise<void> {
  await kubectl(integrationEnv().kubeconfigPath, [
    'patch',
    'canary',
    name,
    '-n',
    namespace,
    '--subresource=status',
    '--type=merge',
    '-p',
    JSON.stringify({ status }),
  ]);
}

export async function getCanary(namespace: string, name: string): Promise<Canary> {
  const out = await kubectl(integrationEnv().kubeconfigPath, [
    'get',
    'canary',
    name,
    '-n',
    namespace,
    '-o',
    'json',
  ]);
  return JSON.parse(out) as Canary;
}

/** The common flags that point a command at the test cluster and namespace. */
export function target(namespace: string): string[] {
  return ['--kubeconfig', integrationEnv().kubeconfigPath, '-n', namespace];
}
