import type { KubeObjectClient, ObjectRef } from '../kube/client.ts';
import { isNotFound } from '../kube/errors.ts';
import { applyGuardedJsonPatch, applyObject } from '../kube/patch.ts';
import {
  originalToSave,
  ownershipOf,
  removeOriginalOp,
  restoreOwnerMetadataOps,
  saveOriginalOps,
  savedOriginal,
  unchangedSince,
  type ObjectMeta,
  type OriginalMetadata,
} from './objects.ts';
import type { RoutableCanary } from './router.ts';

// Writing a routing object that may have existed before the Canary (adopted) and
// giving it back: the pattern every router object with a spec follows. The object's
// spec and the owner's values of the keys Fledge sets are saved in the
// original-configuration annotation before the first write, and put back on hand-back.

/** A namespaced object whose routing lives in `spec`. */
export interface SpecObject<S> {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec: S;
}

/** What an adopted object looked like before Fledge took it over. */
export interface OriginalSpec<S> extends OriginalMetadata {
  spec: S;
}

export function refOf(object: Pick<SpecObject<unknown>, 'apiVersion' | 'kind' | 'metadata'>): ObjectRef {
  return {
    apiVersion: object.apiVersion,
    kind: object.kind,
    namespace: object.metadata.namespace,
    name: object.metadata.name ?? '',
  };
}

export function describe(ref: ObjectRef): string {
  return `${ref.kind} ${ref.namespace ?? ''}/${ref.name}`;
}

/** The live object, or undefined when it does not exist. */
export async function getLive<T>(client: KubeObjectClient, ref: ObjectRef): Promise<T | undefined> {
  try {
    return await client.get<T & { apiVersion: string; kind: string }>(ref);
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/** Whether Fledge created the object for this Canary (true) or found it there (false). */
export function isOwned(live: SpecObject<unknown> | undefined, canary: RoutableCanary): boolean {
  return live === undefined || ownershipOf(live.metadata, canary, describe(refOf(live))) === 'owned';
}

/**
 * Server-side applies `desired`. Over an adopted object (`live` not owned) the original is
 * saved first, and on adoption the spec is replaced, so fields the owner set and Fledge
 * does not write are dropped instead of staying under the owner's field manager.
 */
export async function applyOverAdopted<S>(
  client: KubeObjectClient,
  canary: RoutableCanary,
  live: SpecObject<S> | undefined,
  desired: SpecObject<S>,
): Promise<void> {
  if (live !== undefined && !isOwned(live, canary)) {
    const description = describe(refOf(live));
    const adopting = savedOriginal(live.metadata, description) === undefined;
    const original = originalToSave<OriginalSpec<S>>(
      live.metadata,
      desired.metadata,
      () => ({ spec: live.spec }),
      description,
    );
    if (original !== undefined) {
      await applyGuardedJsonPatch(client, refOf(live), [
        ...unchangedSince(live.metadata),
        ...saveOriginalOps(live.metadata, original),
        ...(adopting ? [{ op: 'replace' as const, path: '/spec', value: desired.spec }] : []),
      ]);
    }
  }
  await applyObject(client, desired);
}

/**
 * Gives an adopted object its saved spec, labels and annotations back. False when the
 * object carries no saved original (Fledge created it, or never wrote it).
 */
export async function restoreAdopted<S>(client: KubeObjectClient, live: SpecObject<S>): Promise<boolean> {
  const original = savedOriginal<OriginalSpec<S>>(live.metadata, describe(refOf(live)));
  if (original === undefined) return false;
  await applyGuardedJsonPatch(client, refOf(live), [
    ...unchangedSince(live.metadata),
    { op: 'replace', path: '/spec', value: original.spec },
    ...restoreOwnerMetadataOps(live.metadata, original),
    removeOriginalOp(),
  ]);
  return true;
}
