import type { KubernetesObject } from '@kubernetes/client-node';
import { isNotFound, normalizeKubeError } from '../kube/errors.ts';

export type ReferencedKind = 'MetricTemplate' | 'AlertProvider';

export interface ReferenceSources<T> {
  /** The informer cache, which holds the watched namespace (or every namespace). */
  cached(namespace: string, name: string): T | undefined;
  /** A direct GET, for namespaces the informers do not cover. */
  read(kind: ReferencedKind, namespace: string, name: string): Promise<T>;
}

/** A referenced object RBAC keeps Fledge from reading; its message says the fix. */
export class ReferenceUnreadableError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ReferenceUnreadableError';
  }
}

/**
 * Resolves a Canary's reference to a MetricTemplate or AlertProvider: from the
 * cache, or, outside the one namespace the operator watches, from the apiserver.
 * Missing is `undefined`; a read RBAC refuses gets an error that says the fix.
 */
export function referenceResolver<T extends KubernetesObject>(
  kind: ReferencedKind,
  watched: string | undefined,
  sources: ReferenceSources<T>,
): (namespace: string, name: string) => Promise<T | undefined> {
  return async (namespace, name) => {
    if (watched === undefined || namespace === watched) return sources.cached(namespace, name);
    try {
      return await sources.read(kind, namespace, name);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      if (normalizeKubeError(err).reason === 'Forbidden') {
        throw new ReferenceUnreadableError(
          `${kind} ${namespace}/${name} is outside the watched namespace ${watched} and Fledge may not read it: ` +
            `move it into ${watched}, or run Fledge cluster-wide`,
          { cause: err },
        );
      }
      throw err;
    }
  };
}
