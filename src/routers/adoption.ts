import type { KubernetesObject } from '@kubernetes/client-node';
import type { KubeObjectClient, ObjectRef } from '../kube/client.ts';
import { isNotFound } from '../kube/errors.ts';
import { applyGuardedJsonPatch, applyObject } from '../kube/patch.ts';
import {
  ownershipOf,
  originalToSave,
  removeOriginalOp,
  restoreOwnerMetadataOps,
  saveOriginalOps,
  savedOriginal,
  unchangedSince,
  type ObjectMeta,
  type OriginalMetadata,
} from './objects.ts';
import type { HandBack, RoutableCanary } from './router.ts';

// Writing and handing back a router's own objects (an HTTPRoute, a VirtualService, ...):
// created ones carry an owner reference to the Canary; one that existed before is
// adopted, its spec and metadata saved for finalize to restore.

/** A routing object as read from the apiserver. */
export interface RoutingObject extends KubernetesObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec: unknown;
}

/** A routing object whose spec has a known shape. */
export interface SpecObject<S> extends RoutingObject {
  spec: S;
}

/** Whether the Canary created the object or found it; throws when another controller has it. */
export type Ownership = (
  meta: ObjectMeta,
  canary: RoutableCanary,
  description: string,
) => 'owned' | 'adopted';

/** What an adopted object looked like before Fledge took it over. */
interface OriginalObject extends OriginalMetadata {
  spec: unknown;
}

export function refOf(object: Pick<RoutingObject, 'apiVersion' | 'kind' | 'metadata'>): ObjectRef {
  return {
    apiVersion: object.apiVersion,
    kind: object.kind,
    namespace: object.metadata.namespace,
    name: object.metadata.name ?? '',
  };
}

export async function liveObject<T extends RoutingObject>(
  client: KubeObjectClient,
  ref: ObjectRef,
): Promise<T | undefined> {
  try {
    return await client.get<T>(ref);
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

export function describeRef(ref: ObjectRef): string {
  return ref.namespace === undefined ? `${ref.kind} ${ref.name}` : `${ref.kind} ${ref.namespace}/${ref.name}`;
}

/** Whether Fledge created the object for this Canary (true) or found it there (false). */
export function isOwned(live: RoutingObject | undefined, canary: RoutableCanary): boolean {
  return live === undefined || ownershipOf(live.metadata, canary, describeRef(refOf(live))) === 'owned';
}

/** Whether `live` carries what Fledge wrote: an object it created, or one it adopted and has written since. */
export function writtenByFledge(
  live: RoutingObject,
  canary: RoutableCanary,
  description: string,
  ownership: Ownership = ownershipOf,
): boolean {
  return (
    ownership(live.metadata, canary, description) === 'owned' ||
    savedOriginal(live.metadata, description) !== undefined
  );
}

/**
 * Server-side applies what `render` makes (`owned`: with the owner reference). An object
 * that existed before the Canary is adopted: its spec and the owner's values of the labels
 * and annotations Fledge sets are saved first, and on adoption its spec is replaced.
 * `ownership` tells the two apart (by default: the Canary's owner reference).
 */
export async function applyAdopting<T extends RoutingObject>(
  client: KubeObjectClient,
  ref: ObjectRef,
  live: T | undefined,
  canary: RoutableCanary,
  render: (owned: boolean) => T,
  ownership: Ownership = ownershipOf,
): Promise<void> {
  const description = describeRef(ref);
  const owned = live === undefined || ownership(live.metadata, canary, description) === 'owned';
  // Render first, so a spec error leaves an adopted object untouched.
  const desired = render(owned);
  // What the object holds before the apply: the apply is skipped when it holds `desired` already.
  let current = live;
  if (!owned && live !== undefined) {
    const adopting = savedOriginal(live.metadata, description) === undefined;
    const original = originalToSave<OriginalObject>(
      live.metadata,
      desired.metadata,
      () => ({ spec: live.spec }),
      description,
    );
    if (original !== undefined) {
      // Replacing the spec on adoption drops fields the owner set and Fledge does not,
      // which server-side apply would otherwise leave in place under the owner's manager.
      await applyGuardedJsonPatch(client, ref, [
        ...unchangedSince(live.metadata),
        ...saveOriginalOps(live.metadata, original),
        ...(adopting ? [{ op: 'replace' as const, path: '/spec', value: desired.spec }] : []),
      ]);
      current = undefined;
    }
  }
  await applyObject(client, desired, { live: current });
}

/**
 * Finalize for one object: an adopted one gets its saved spec, labels and annotations
 * back; one Fledge created goes to `handOff`.
 */
export async function finalizeObject<T extends RoutingObject>(
  client: KubeObjectClient,
  ref: ObjectRef,
  canary: RoutableCanary,
  handOff: (live: T) => Promise<unknown>,
  ownership: Ownership = ownershipOf,
): Promise<void> {
  const live = await liveObject<T>(client, ref);
  if (live === undefined) return;
  if (await restoreAdopted(client, live)) return;
  if (ownership(live.metadata, canary, describeRef(ref)) === 'owned') await handOff(live);
}

/** Finalize for one object whose created form is handed back as `handoff` makes it. */
export async function handBackObject<T extends RoutingObject>(
  client: KubeObjectClient,
  ref: ObjectRef,
  canary: RoutableCanary,
  handoff: (owned: boolean) => T,
  handBack: HandBack,
): Promise<void> {
  await finalizeObject<T>(client, ref, canary, () => applyHandoff(client, handoff, handBack));
}

/** Applies what `handoff` makes; without the owner reference (release) the object outlives the Canary. */
export async function applyHandoff<T extends RoutingObject>(
  client: KubeObjectClient,
  handoff: (owned: boolean) => T,
  handBack: HandBack,
): Promise<void> {
  await applyObject(client, handoff(!handBack.release));
}

/**
 * Gives an adopted object its saved spec, labels and annotations back. False when the
 * object carries no saved original (Fledge created it, or never wrote it).
 */
export async function restoreAdopted(client: KubeObjectClient, live: RoutingObject): Promise<boolean> {
  const ref = refOf(live);
  const original = savedOriginal<OriginalObject>(live.metadata, describeRef(ref));
  if (original === undefined) return false;
  await applyGuardedJsonPatch(client, ref, [
    ...unchangedSince(live.metadata),
    { op: 'replace', path: '/spec', value: original.spec },
    ...restoreOwnerMetadataOps(live.metadata, original),
    removeOriginalOp(),
  ]);
  return true;
}
