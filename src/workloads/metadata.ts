import type { V1OwnerReference } from '@kubernetes/client-node';
import { API_VERSION, CANARY_KIND } from '../api/index.ts';
import type { JsonPatchOperation } from '../kube/patch.ts';
import type { ObjectMeta } from './objects.ts';
import { FLEDGE_KEY_PREFIX } from './options.ts';

// Labels and annotations copied from a user's object onto a generated one.

/**
 * Keys never copied, whatever the include list says: each one belongs to the
 * tool that wrote it on the original and would mislead that tool on the copy.
 */
const neverCopied: readonly ((key: string) => boolean)[] = [
  // Flux marks the objects it applied; a copy carrying the mark would be pruned by Flux.
  (key) => key.includes('toolkit.fluxcd.io'),
  // kubectl's client-side apply record and controller bookkeeping describe the original only.
  (key) => key === 'kubectl.kubernetes.io/last-applied-configuration',
  (key) => key === 'deployment.kubernetes.io/revision',
  (key) => key === 'deprecated.daemonset.template.generation',
  // KEDA pause markers: a paused primary ScaledObject would hold the primary at zero (Flagger #1934).
  (key) => key.startsWith('autoscaling.keda.sh/paused'),
  // Fledge's own keys on a generated object are set by Fledge, never inherited.
  (key) => key.startsWith(FLEDGE_KEY_PREFIX),
];

/** The entries of `source` whose key starts with one of `includePrefixes` (`*`: any) and may be copied. */
export function filterMetadata(
  source: Readonly<Record<string, string>> | undefined,
  includePrefixes: readonly string[],
): Record<string, string> {
  const copyAll = includePrefixes.includes('*');
  const result: Record<string, string> = {};
  for (const [key, value] of Object.entries(source ?? {})) {
    if (neverCopied.some((matches) => matches(key))) continue;
    if (copyAll || includePrefixes.some((prefix) => key.startsWith(prefix))) result[key] = value;
  }
  return result;
}

export interface CanaryIdentity {
  name: string;
  namespace: string;
  uid: string;
}

/**
 * Controller reference to the Canary: the garbage collector deletes the object
 * with the Canary, and no other controller may claim it. blockOwnerDeletion
 * needs `update` on `canaries/finalizers` in the operator's RBAC.
 */
export function canaryOwnerReference(canary: CanaryIdentity): V1OwnerReference {
  return {
    apiVersion: API_VERSION,
    kind: CANARY_KIND,
    name: canary.name,
    uid: canary.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/**
 * Whether Fledge may write a generated object that already exists: `ours` when
 * this Canary controls it, `unowned` when nothing does (Fledge adopts it, e.g.
 * after the Canary was deleted with --cascade=orphan or migrated from Flagger).
 * Another controller's object is never taken over.
 */
export function controlOf(
  metadata: ObjectMeta,
  canary: CanaryIdentity,
  description: string,
): 'ours' | 'unowned' {
  const controller = metadata.ownerReferences?.find((ref) => ref.controller === true);
  if (!controller) return 'unowned';
  if (controller.uid === canary.uid) return 'ours';
  throw new Error(
    `${description} is controlled by ${controller.kind} ${controller.name} (${controller.apiVersion}), not by ` +
      `Canary ${canary.name}: Fledge will not take it over; delete it, or orphan it from its controller first`,
  );
}

/**
 * JSON patch adding the Canary's controller reference, guarded by a test that
 * the list is still what was read. A patch rather than an apply: an apply of
 * the owner reference alone would release every other field Fledge may have
 * applied to the object before, and the apiserver would remove them.
 */
export function adoptPatch(
  current: ObjectMeta['ownerReferences'],
  canary: CanaryIdentity,
): JsonPatchOperation[] {
  const owner = canaryOwnerReference(canary);
  if (!current || current.length === 0) {
    return [
      { op: 'test', path: '/metadata/ownerReferences', value: current ?? null },
      { op: 'add', path: '/metadata/ownerReferences', value: [owner] },
    ];
  }
  return [
    { op: 'test', path: '/metadata/ownerReferences', value: current },
    { op: 'add', path: '/metadata/ownerReferences/-', value: owner },
  ];
}

/** Drops empty maps so a rendered object never claims (and later empties) a map it has nothing for. */
export function nonEmpty(map: Record<string, string>): Record<string, string> | undefined {
  return Object.keys(map).length > 0 ? map : undefined;
}
