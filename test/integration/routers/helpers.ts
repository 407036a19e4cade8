import type { Canary, CanarySpec } from '../../../src/api/index.ts';
import { KubeObjectClient, loadKubeConfig } from '../../../src/kube/client.ts';
import { routableCanary, type RoutableCanary } from '../../../src/routers/index.ts';
import { kubectl } from '../../harness/control-plane.ts';
import { integrationEnv } from '../../harness/env.ts';

export function objectClient(): KubeObjectClient {
  return new KubeObjectClient(loadKubeConfig({ kubeconfigPath: integrationEnv().kubeconfigPath }));
}

/**
 * Creates a real Canary (so owner references point at a live object and the
 * garbage collector leaves the children alone) and returns it as routers see it.
 */
export async function createCanary(
  namespace: string,
  name: string,
  spec: CanarySpec,
): Promise<RoutableCanary> {
  const manifest = { apiVersion: 'fledge.dev/v1beta1', kind: 'Canary', metadata: { name, namespace }, spec };
  const out = await kubectl(
    integrationEnv().kubeconfigPath,
    ['create', '-o', 'json', '-f', '-'],
    JSON.stringify(manifest),
  );
  return routableCanary(JSON.parse(out) as Canary);
}

/** kubectl get -o json, parsed. */
export async function getJson<T>(namespace: string, resource: string, name: string): Promise<T> {
  const out = await kubectl(integrationEnv().kubeconfigPath, [
    'get',
    resource,
    name,
    '-n',
    namespace,
    '-o',
    'json',
  ]);
  return JSON.parse(out) as T;
}

export function targetRef(name: string): CanarySpec['targetRef'] {
  return { apiVersion: 'apps/v1', kind: 'Deployment', name };
}
