// A leaf of src/api: the API schema imports the router registry, so routers must not load it.
import { API_VERSION, CANARY_KIND } from '../api/constants.ts';
import type { JsonPatchOperation } from '../kube/patch.ts';
import { ORIGINAL_CONFIGURATION_ANNOTATION, RouterConfigError, type RoutableCanary } from './router.ts';

// Metadata helpers shared by the Services and the router objects: owner
// references, adoption of objects that existed before the Canary, the
// annotation holding their original configuration, and Flux's opt-out marks.

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

/** The owner's values of the labels and annotations Fledge sets on an adopted object (null: the key was absent). */
export interface OriginalMetadata {
  labels?: Record<string, string | null>;
  annotations?: Record<string, string | null>;
}

/** `known` plus the live values (null where absent) of the keys `desired` sets that `known` lacks. */
function withOwnerValues(
  known: Record<string, string | null> | undefined,
  live: Record<string, string> | undefined,
  desired: Record<string, string> | undefined,
): Record<string, string | null> | undefined {
  const missing = Object.keys(desired ?? {}).filter((key) => known === undefined || !(key in known));
  if (missing.length === 0) return known;
  return { ...known, ...Object.fromEntries(missing.map((key) => [key, live?.[key] ?? null])) };
}

/**
 * What to save in the original-configuration annotation before Fledge writes `desired`
 * over an adopted object, or undefined when the saved original already covers it. On
 * adoption that is `fresh()`; either way it gets the owner's values of every label and
 * annotation `desired` sets and the saved one lacks. Keys Fledge never set still hold
 * the owner's value, so this also covers keys added to the spec after adoption and
 * objects adopted by an older Fledge that set fewer keys.
 */
export function originalToSave<T extends OriginalMetadata>(
  live: ObjectMeta,
  desired: ObjectMeta,
  fresh: () => T,
  description: string,
): T | undefined {
  const saved = savedOriginal<T>(live, description);
  const original: T = { ...(saved ?? fresh()) };
  const labels = withOwnerValues(original.labels, live.labels, desired.labels);
  if (labels !== undefined) original.labels = labels;
  const annotations = withOwnerValues(original.annotations, live.annotations, desired.annotations);
  if (annotations !== undefined) original.annotations = annotations;
  return saved !== undefined && JSON.stringify(original) === JSON.stringify(saved) ? undefined : original;
}

/** Puts back the owner's values of the keys Fledge set, removing the ones it added. */
function restoreEntryOps(
  meta: ObjectMeta,
  field: 'labels' | 'annotations',
  saved: Record<string, string | null> | undefined,
): JsonPatchOperation[] {
  const current = meta[field];
  if (current === undefined) {
    // Someone removed the whole map since adoption: a per-key add would have no parent.
    const kept = Object.entries(saved ?? {}).filter(([, value]) => value !== null);
    return kept.length === 0
      ? []
      : [{ op: 'add', path: `/metadata/${field}`, value: Object.fromEntries(kept) }];
  }
  return Object.entries(saved ?? {}).flatMap(([key, value]): JsonPatchOperation[] => {
    const path = `/metadata/${field}/${pointer(key)}`;
    if (value !== null) return current[key] === value ? [] : [{ op: 'add', path, value }];
    return key in current ? [{ op: 'remove', path }] : [];
  });
}

/** Operations giving an adopted object its owner's labels and annotations back. */
export function restoreOwnerMetadataOps(meta: ObjectMeta, saved: OriginalMetadata): JsonPatchOperation[] {
  return [
    ...restoreEntryOps(meta, 'labels', saved.labels),
    ...restoreEntryOps(meta, 'annotations', saved.annotations),
  ];
}

/**
 * Set on every Service and routing object Fledge writes: kustomize-controller then
 * skips the object and helm-controller's drift detection ignores it, so Flux never
 * puts the Git version back over Fledge's (an apex selecting the target's pods while
 * the target is scaled to zero would be an outage). They win over the spec's own
 * annotations, and are taken off again when the object is handed back.
 */
export const FLUX_OPT_OUT_ANNOTATIONS: Readonly<Record<string, string>> = Object.freeze({
  'kustomize.toolkit.fluxcd.io/reconcile': 'disabled',
  'helm.toolkit.fluxcd.io/driftDetection': 'disabled',
});

export function withFluxOptOut(annotations: Record<string, string> | undefined): Record<string, string> {
  return { ...annotations, ...FLUX_OPT_OUT_ANNOTATIONS };
}

/**
 * A router object's metadata: `custom` labels and annotations (the apex's), Flux's opt-out
 * marks while Fledge manages it, and the owner reference when Fledge created it.
 */
export function routerObjectMetadata(
  canary: RoutableCanary,
  name: string,
  custom: { labels?: Record<string, string>; annotations?: Record<string, string> } | undefined,
  owned: boolean,
  managed: boolean,
): ObjectMeta {
  const metadata: ObjectMeta = { name, namespace: canary.metadata.namespace };
  if (custom?.labels !== undefined) metadata.labels = { ...custom.labels };
  const annotations = managed ? withFluxOptOut(custom?.annotations) : custom?.annotations;
  if (annotations !== undefined) metadata.annotations = { ...annotations };
  if (owned) metadata.ownerReferences = [canaryOwnerReference(canary)];
  return metadata;
}

/**
 * Operations taking the opt-out marks off an object Fledge created and hands back:
 * each key gets the value the spec's own annotations give it, or is removed.
 */
export function dropFluxOptOutOps(
  meta: ObjectMeta,
  specAnnotations: Record<string, string> | undefined,
): JsonPatchOperation[] {
  const wanted = Object.fromEntries(
    Object.keys(FLUX_OPT_OUT_ANNOTATIONS).map((key) => [key, specAnnotations?.[key] ?? null]),
  );
  return restoreEntryOps(meta, 'annotations', wanted);
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
