import type { KubernetesObject } from '@kubernetes/client-node';
import type { KubeObjectClient, ObjectRef, RequestOptions } from './client.ts';
import { knownSecrets } from '../telemetry/secrets.ts';
import { KubeRequestError, normalizeKubeError } from './errors.ts';

/** The content types of the apiserver's patch kinds. */
export const PatchStrategy = {
  JsonPatch: 'application/json-patch+json',
  MergePatch: 'application/merge-patch+json',
  StrategicMergePatch: 'application/strategic-merge-patch+json',
  ServerSideApply: 'application/apply-patch+yaml',
} as const;

/** The field manager for every server-side apply Fledge makes. */
export const fieldManager = 'fledge';

export type JsonPatchOperation =
  | { op: 'test'; path: string; value: unknown }
  | { op: 'add'; path: string; value: unknown }
  | { op: 'replace'; path: string; value: unknown }
  | { op: 'remove'; path: string };

export interface StatusPatchOptions extends RequestOptions {
  /** When given, the apiserver rejects the patch with Conflict if the object changed since this version. */
  resourceVersion?: string | undefined;
}

/**
 * Merge-patches the status subresource of `object` with `{status}` only, so a
 * status write can never touch spec or metadata (and never bumps metadata.generation).
 * Merge-patch semantics: keys set to null are removed, objects merge, arrays replace.
 */
export async function patchStatus<T extends KubernetesObject>(
  client: KubeObjectClient,
  object: KubernetesObject,
  status: Record<string, unknown>,
  options: StatusPatchOptions = {},
): Promise<T> {
  const { resourceVersion, ...request } = options;
  // Status messages quote what endpoints answered, and an answer may echo a credential.
  const redacted = knownSecrets.redactDeep(status);
  const body =
    resourceVersion === undefined
      ? { status: redacted }
      : { metadata: { resourceVersion }, status: redacted };
  return client.patch<T>(refOf(object), body, PatchStrategy.MergePatch, {
    ...request,
    subresource: 'status',
  });
}

/**
 * JSON patch adding `finalizer`, guarded by a test that the list is still what
 * the caller saw. Undefined when the finalizer is already there.
 */
export function addFinalizerPatch(
  current: readonly string[] | undefined,
  finalizer: string,
): JsonPatchOperation[] | undefined {
  if (current?.includes(finalizer)) return undefined;
  if (!current || current.length === 0) {
    // A missing list tests equal to null; an empty one must be tested as []. Either way the guard holds.
    return [
      { op: 'test', path: '/metadata/finalizers', value: current ?? null },
      { op: 'add', path: '/metadata/finalizers', value: [finalizer] },
    ];
  }
  return [
    { op: 'test', path: '/metadata/finalizers', value: [...current] },
    { op: 'add', path: '/metadata/finalizers/-', value: finalizer },
  ];
}

/**
 * JSON patch removing `finalizer` by index, guarded by a test that the element at
 * that index is still this finalizer. Undefined when it is not there.
 */
export function removeFinalizerPatch(
  current: readonly string[] | undefined,
  finalizer: string,
): JsonPatchOperation[] | undefined {
  const index = current?.indexOf(finalizer) ?? -1;
  if (index < 0) return undefined;
  return [
    { op: 'test', path: `/metadata/finalizers/${index}`, value: finalizer },
    { op: 'remove', path: `/metadata/finalizers/${index}` },
  ];
}

/** Adds `finalizer` to `object` (as the caller last saw it). Returns the updated object, or undefined if nothing to do. */
export async function addFinalizer<T extends KubernetesObject>(
  client: KubeObjectClient,
  object: T,
  finalizer: string,
  options: RequestOptions = {},
): Promise<T | undefined> {
  const operations = addFinalizerPatch(object.metadata?.finalizers, finalizer);
  return operations && applyGuardedJsonPatch<T>(client, refOf(object), operations, options);
}

/** Removes `finalizer` from `object` (as the caller last saw it). Returns the updated object, or undefined if nothing to do. */
export async function removeFinalizer<T extends KubernetesObject>(
  client: KubeObjectClient,
  object: T,
  finalizer: string,
  options: RequestOptions = {},
): Promise<T | undefined> {
  const operations = removeFinalizerPatch(object.metadata?.finalizers, finalizer);
  return operations && applyGuardedJsonPatch<T>(client, refOf(object), operations, options);
}

/**
 * Sends a JSON patch whose `test` operations guard against concurrent change. A
 * patch the apiserver cannot apply (a failed test, or a path that no longer
 * exists) comes back as 422 Invalid without field causes, unlike a validation
 * failure; it is reported as a Conflict so callers handle it like any
 * optimistic-concurrency clash: re-read, retry.
 */
export async function applyGuardedJsonPatch<T extends KubernetesObject>(
  client: KubeObjectClient,
  ref: ObjectRef,
  operations: readonly JsonPatchOperation[],
  options: RequestOptions = {},
): Promise<T> {
  try {
    return await client.patch<T>(ref, operations, PatchStrategy.JsonPatch, options);
  } catch (error) {
    const normalized = normalizeKubeError(error);
    if (normalized.code === 422 && !normalized.causes?.length) {
      const where = `${ref.kind} ${ref.namespace ? `${ref.namespace}/` : ''}${ref.name}`;
      throw new KubeRequestError(
        {
          code: 409,
          reason: 'Conflict',
          message: `${where} changed since it was read: ${normalized.message}`,
        },
        { cause: error },
      );
    }
    throw error;
  }
}

export interface ApplyOptions extends RequestOptions {
  /** Take ownership of fields another manager set. Default true: Fledge owns the children it generates. */
  force?: boolean;
  /**
   * The object as the caller just read it, for a kind no informer caches: a CachedObjectClient
   * then skips an apply this shows done, as it does for cached kinds.
   */
  live?: KubernetesObject | undefined;
}

/**
 * Server-side apply of `object` (apiVersion, kind, metadata.name and, for
 * namespaced kinds, metadata.namespace are required) as field manager "fledge".
 * Send only the fields Fledge manages: every field sent becomes Fledge's.
 */
export async function applyObject<T extends KubernetesObject>(
  client: KubeObjectClient,
  object: T,
  options: ApplyOptions = {},
): Promise<T> {
  const { force = true, ...request } = options;
  return client.patch<T>(refOf(object), object, PatchStrategy.ServerSideApply, {
    ...request,
    query: { ...request.query, fieldManager, force },
  });
}

function refOf(object: KubernetesObject): ObjectRef {
  const name = object.metadata?.name;
  if (!object.apiVersion || !object.kind || !name) {
    throw new Error(
      `object needs apiVersion, kind and metadata.name to be patched (got ${object.kind ?? '?'} ${name ?? '?'})`,
    );
  }
  return { apiVersion: object.apiVersion, kind: object.kind, namespace: object.metadata?.namespace, name };
}
