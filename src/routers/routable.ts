import type { Canary } from '../api/index.ts';
import { normalizeCanary, type NormalizeOptions } from '../api/index.ts';
import type { RoutableCanary } from './router.ts';

/** Builds a RoutableCanary from a Canary read from the apiserver. */
export function routableCanary(canary: Canary, options: NormalizeOptions = {}): RoutableCanary {
  const { name, namespace, uid } = canary.metadata;
  if (!name || !namespace || !uid) {
    throw new Error(
      'a Canary needs metadata.name, namespace and uid to be routed: read it from the apiserver',
    );
  }
  const routable: RoutableCanary = {
    metadata: { name, namespace, uid },
    spec: normalizeCanary(canary, options).spec,
  };
  const annotations = canary.metadata.annotations;
  if (annotations !== undefined) routable.metadata.annotations = annotations;
  if (canary.status !== undefined) routable.status = canary.status;
  return routable;
}
