import { API_VERSION, CANARY_KIND } from '../api/index.ts';
import type { JsonPatchOperation } from '../kube/patch.ts';
import { ORIGINAL_CONFIGURATION_ANNOTATION, RouterConfigError, type RoutableCanary } from './router.ts';

// Metadata helpers shared by the Services and the router objects: owner
// references, adoption of objects that existed before the Canary, and the
// annotation holding their original configuration.

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** Object metadata as read from the apiserver (JSON; timestamps stay strings). */
export interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
}

export function canaryOwnerReference(canary: RoutableCanary): OwnerReference {
  return {
    apiVersion: API_VERSION,
    kind: CANARY_KIND,
    name: canary.metadata.name,
    uid: canary.metadata.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/**
 * `owned`: created by (controlled by) this Canary. `adopted`: it existed before and
 * no controller owns it, so Fledge takes it over and restores it on finalize.
 * An object controlled by anything else is an error: two controllers would fight.
 */
export function ownershipOf(
  meta: ObjectMeta,
  canary: RoutableCanary,
  description: string,
): 'owned' | 'adopted' {
  const controller = meta.ownerReferences?.find((ref) => ref.controller === true);
  if (controller === undefined) return 'adopted';
  if (controller.uid === canary.metadata.uid) return 'owned';
  throw new RouterConfigError(
    `${description} is controlled by ${controller.kind} ${controller.apiVersion} "${controller.name}", not by Canary ` +
      `"${canary.metadata.name}": rename spec.service.name or remove that controller`,
  );
}

/** The original configuration saved when the object was adopted, if any. */
export function savedOriginal<T>(meta: ObjectMeta, description: string): T | undefined {
  const text = meta.annotations?.[ORIGINAL_CONFIGURATION_ANNOTATION];
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new Error(
      `${description} has an unreadable ${ORIGINAL_CONFIGURATION_ANNOTATION} annotation (not JSON): fix or remove it`,
    );
  }
}

/** JSON-patch path segment escaping (RFC 6901). */
export function pointer(segment: string): string {
  return segment.replaceAll('~', '~0').replaceAll('/', '~1');
}

/** Guards a JSON patch on the object being unchanged since it was read. */
export function unchangedSince(meta: ObjectMeta): JsonPatchOperation[] {
  return meta.resourceVersion === undefined
    ? []
    : [{ op: 'test', path: '/metadata/resourceVersion', value: meta.resourceVersion }];
}

/** Operations saving `original` in the original-configuration annotation. */
export function saveOriginalOps(meta: ObjectMeta, original: unknown): JsonPatchOperation[] {
  const value = JSON.stringify(original);
  if (meta.annotations === undefined) {
    return [
      { op: 'add', path: '/metadata/annotations', value: { [ORIGINAL_CONFIGURATION_ANNOTATION]: value } },
    ];
  }
  return [{ op: 'add', path: `/metadata/annotations/${pointer(ORIGINAL_CONFIGURATION_ANNOTATION)}`, value }];
}

export function removeOriginalOp(): JsonPatchOperation {
  return { op: 'remove', path: `/metadata/annotations/${pointer(ORIGINAL_CONFIGURATION_ANNOTATION)}` };
}

/** Shallow equality of two string maps (label selectors). */
export function sameStringMap(
  a: Record<string, string> | undefined,
  b: Record<string, string> | undefined,
): boolean {
  const left = Object.entries(a ?? {});
  const right = b ?? {};
  return left.length === Object.keys(right).length && left.every(([key, value]) => right[key] === value);
}
