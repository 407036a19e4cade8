import type { KubernetesObject } from '@kubernetes/client-node';
import type { Canary, NormalizedCanarySpec } from '../api/index.ts';

export interface CanaryIdentity {
  name: string;
  namespace: string;
  uid: string;
}

/** Name, namespace and uid, which every Canary read from the apiserver has. */
export function identityOf(canary: Canary): CanaryIdentity {
  const { name, namespace, uid } = canary.metadata;
  if (!name || !namespace || !uid)
    throw new Error('a Canary from the apiserver always has a name, namespace and uid');
  return { name, namespace, uid };
}

/** The router the Canary uses; normalisation always fills it from the operator default. */
export function providerOf(spec: NormalizedCanarySpec): string {
  if (!spec.provider) throw new Error('spec.provider missing after normalisation');
  return spec.provider;
}

/** Our schema keeps timestamps as strings; client-node types them as Date. The wire format is the same. */
export function asKubeObject(canary: Canary): KubernetesObject {
  return canary as unknown as KubernetesObject;
}
