import { cloneJson } from '../api/clone.ts';
import { createHash } from 'node:crypto';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { KubeConfig } from './config.ts';
import {
  KubeObjectClient,
  type KubeClientOptions,
  type ObjectRef,
  type PatchRequest,
  type RequestOptions,
} from './client.ts';
import { KubeRequestError } from './errors.ts';
import { PatchStrategy } from './patch.ts';

// Reads of the kinds an informer already watches are answered from its cache, and a
// server-side apply that the cache shows already done is not sent: a reconcile that
// finds the world as it wants it costs the apiserver nothing. Writes go through.

/** An informer's cache of one kind: the object, or undefined when it does not exist. */
export interface ObjectCache {
  get(namespace: string, name: string): Readonly<KubernetesObject> | undefined;
  list(namespace: string): readonly Readonly<KubernetesObject>[];
}

/** The cache holding `ref`'s kind and namespace; undefined when none does (the read goes to the apiserver). */
export type CacheFor = (ref: ObjectRef) => ObjectCache | undefined;

export interface CachedReadCounters {
  /** A read answered from an informer's cache. */
  cached(kind: string): void;
  /** A server-side apply not sent: the cache shows it applied. */
  applySkipped(kind: string): void;
}

export interface CachedObjectClientOptions extends KubeClientOptions {
  /** How long after a write its object is read from the apiserver unless the cache shows it first. Default 10 s. */
  writeSettleMs?: number;
  now?: () => number;
  counters?: CachedReadCounters;
}

/** What the last write of one object left: its resourceVersion (null: deleted), when, and the object it answered. */
interface Written {
  resourceVersion: string | null | undefined;
  at: number;
  /** The whole object as the write left it (as the informers cache it); absent when the answer was another kind (a Scale). */
  object?: KubernetesObject;
}

/**
 * A KubeObjectClient that reads through informer caches:
 * - `get` of a cached kind answers from the cache (a copy, JSON as the apiserver sends it),
 *   absent objects included, since a synced informer knows them all;
 * - after this client wrote an object, reads of it answer with what the write returned until
 *   the cache shows that write (its resourceVersion or a later one, or its deletion), so a
 *   reconcile reads its writes without asking again; after a write whose answer was not the
 *   object (a /scale patch) or a delete, such reads go to the apiserver;
 * - a namespace's list of a cached kind comes from the cache too;
 * - a server-side apply with the same fields as the last one this client applied to that object
 *   (so it removes nothing), and whose every field the cached object (or, for a kind no informer caches, the object the
 *   caller just read: ApplyOptions.live) already holds, is not sent. A field dropped from the
 *   body changes its fields, so it is applied (and removed) as before.
 */
export class CachedObjectClient extends KubeObjectClient {
  readonly #cacheFor: CacheFor;
  readonly #settleMs: number;
  readonly #now: () => number;
  readonly #counters: CachedReadCounters | undefined;
  readonly #written = new Map<string, Written>();
  /** Per object, a digest of the fields (not their values) of the last server-side apply sent, and its query. */
  readonly #applied = new Map<string, string>();

  constructor(kubeConfig: KubeConfig, cacheFor: CacheFor, options: CachedObjectClientOptions = {}) {
    super(kubeConfig, options);
    this.#cacheFor = cacheFor;
    this.#settleMs = options.writeSettleMs ?? 10_000;
    this.#now = options.now ?? Date.now;
    this.#counters = options.counters;
  }

  override async get<T extends KubernetesObject>(ref: ObjectRef, options: RequestOptions = {}): Promise<T> {
    const found = this.#fromCache(ref);
    if (found === 'uncached') return super.get<T>(ref, options);
    this.#counters?.cached(ref.kind);
    if (found === undefined) {
      throw new KubeRequestError({
        code: 404,
        reason: 'NotFound',
        message: `${ref.kind} "${ref.name ?? ''}" not found in the informer's cache`,
      });
    }
    return found as T;
  }

  /** A namespace's objects of a cached kind come from the cache (a copy); other lists from the apiserver. */
  override async list<T extends KubernetesObject>(
    ref: ObjectRef,
    options: RequestOptions = {},
  ): Promise<{ metadata?: { resourceVersion?: string }; items: T[] }> {
    const cache = ref.namespace === undefined || options.query ? undefined : this.#cacheFor(ref);
    if (cache === undefined) return super.list<T>(ref, options);
    this.#counters?.cached(ref.kind);
    return { items: cache.list(ref.namespace ?? '').map((object) => copyOf(object) as T) };
  }

  override async patch<T extends KubernetesObject>(
    ref: ObjectRef,
    body: unknown,
    contentType: string,
    options: PatchRequest = {},
  ): Promise<T> {
    const key = keyOf(ref);
    const apply = contentType === PatchStrategy.ServerSideApply && options.subresource === undefined;
    const digest = apply ? fieldsDigest(body, options.query) : undefined;
    if (digest !== undefined && this.#applied.get(key) === digest) {
      const cached = this.#fromCache(ref);
      const live = cached === 'uncached' ? options.live : cached;
      if (live !== undefined && contains(live, body, true)) {
        this.#counters?.applySkipped(ref.kind);
        return live as T;
      }
    }
    const written = await super.patch<T>(ref, body, contentType, options);
    this.#wrote(ref, written);
    if (digest !== undefined) this.#applied.set(key, digest);
    return written;
  }

  override async create<T extends KubernetesObject>(object: T, options: RequestOptions = {}) {
    const created = await super.create<T>(object, options);
    this.#wrote(refOfObject(created), created);
    return created;
  }

  override async replace<T extends KubernetesObject>(object: T, options: RequestOptions = {}) {
    const replaced = await super.replace<T>(object, options);
    this.#wrote(refOfObject(replaced), replaced);
    return replaced;
  }

  override async delete(ref: ObjectRef, options: RequestOptions & { uid?: string } = {}) {
    const key = keyOf(ref);
    try {
      await super.delete(ref, options);
    } finally {
      // Deleted, or in an unknown state: read it from the apiserver until the cache shows it gone.
      this.#applied.delete(key);
      if (this.#cacheFor(ref) !== undefined)
        this.#written.set(key, { resourceVersion: null, at: this.#now() });
    }
  }

  /** The cached object (a copy), undefined when the cache says it does not exist, or 'uncached'. */
  #fromCache(ref: ObjectRef): KubernetesObject | undefined | 'uncached' {
    const cache = ref.name === undefined ? undefined : this.#cacheFor(ref);
    if (cache === undefined) return 'uncached';
    const object = cache.get(ref.namespace ?? '', ref.name ?? '');
    const key = keyOf(ref);
    const written = this.#written.get(key);
    if (written !== undefined) {
      const seen =
        written.resourceVersion === null
          ? object === undefined
          : atLeast(object?.metadata?.resourceVersion, written.resourceVersion);
      if (!seen && this.#now() - written.at < this.#settleMs) {
        return written.object === undefined ? 'uncached' : copyOf(written.object);
      }
      this.#written.delete(key);
    }
    return object === undefined ? undefined : copyOf(object);
  }

  #wrote(ref: ObjectRef, object: KubernetesObject | undefined): void {
    if (this.#cacheFor(ref) === undefined) return;
    const whole = object?.kind === ref.kind && object.apiVersion === ref.apiVersion;
    this.#written.set(keyOf(ref), {
      resourceVersion: object?.metadata?.resourceVersion,
      at: this.#now(),
      ...(whole ? { object: forCache(copyOf(object)) } : {}),
    });
  }
}

type ManagedFields = NonNullable<NonNullable<KubernetesObject['metadata']>['managedFields']>;

/**
 * An object as the informers cache it. metadata.managedFields is about half of a cached
 * Deployment and of every copy a cached read makes; the only reader is the question who owns
 * a primary's spec.replicas (src/workloads/primary.ts), so only the entries owning that field
 * stay, cut down to it. Changes `object` in place: it is freshly parsed from the apiserver.
 */
export function forCache<T extends KubernetesObject>(object: T): T {
  const metadata = object.metadata;
  if (metadata?.managedFields === undefined) return object;
  const owners: ManagedFields = metadata.managedFields.flatMap((entry) => {
    const spec = (entry.fieldsV1 as { 'f:spec'?: { 'f:replicas'?: unknown } } | undefined)?.['f:spec'];
    return spec?.['f:replicas'] === undefined
      ? []
      : [{ ...entry, fieldsV1: { 'f:spec': { 'f:replicas': {} } } }];
  });
  if (owners.length === 0) delete metadata.managedFields;
  else metadata.managedFields = owners;
  return object;
}

/** A copy in the apiserver's JSON form: callers may change it, and the cache must not change. */
function copyOf(object: Readonly<KubernetesObject>): KubernetesObject {
  return cloneJson(object as KubernetesObject);
}

/**
 * Whether the cache's version of an object is `written` or later. Resource versions of one
 * resource compare as integers (KEP-5504, GA in Kubernetes 1.35); any other form only by equality.
 */
export function atLeast(cached: string | undefined, written: string | undefined): boolean {
  if (cached === undefined || written === undefined) return cached === written;
  const integer = /^[1-9][0-9]*$/;
  if (!integer.test(cached) || !integer.test(written)) return cached === written;
  return cached.length === written.length ? cached >= written : cached.length > written.length;
}

function keyOf(ref: ObjectRef): string {
  return `${ref.apiVersion}/${ref.kind}/${ref.namespace ?? ''}/${ref.name ?? ''}`;
}

function refOfObject(object: KubernetesObject): ObjectRef {
  return {
    apiVersion: object.apiVersion ?? '',
    kind: object.kind ?? '',
    namespace: object.metadata?.namespace,
    name: object.metadata?.name ?? '',
  };
}

/**
 * What an apply would own: its fields, values left out (list lengths kept). An apply with the
 * same fields as the last one removes nothing, so whether it changes anything is only whether
 * the object holds its values already.
 */
function fieldsDigest(body: unknown, query: unknown): string {
  const fields = (value: unknown): unknown =>
    Array.isArray(value)
      ? value.map(fields)
      : typeof value === 'object' && value !== null
        ? Object.fromEntries(Object.entries(value).map(([key, item]) => [key, fields(item)]))
        : null;
  return createHash('sha256')
    .update(JSON.stringify([fields(body), query ?? null]))
    .digest('base64url');
}

/**
 * Whether `live` holds every field of `desired` with the same value. Lists must match
 * item for item (an applied list is the whole list); apiVersion and kind at the top are
 * skipped, as list items come without them. Anything else counts as a difference.
 */
export function contains(live: unknown, desired: unknown, top = false): boolean {
  if (Array.isArray(desired)) {
    return (
      Array.isArray(live) &&
      live.length === desired.length &&
      desired.every((item, index) => contains(live[index], item))
    );
  }
  if (typeof desired === 'object' && desired !== null) {
    if (typeof live !== 'object' || live === null || Array.isArray(live)) return false;
    return Object.entries(desired).every(
      ([key, value]) =>
        value === undefined ||
        (top && (key === 'apiVersion' || key === 'kind')) ||
        contains((live as Record<string, unknown>)[key], value),
    );
  }
  return live === desired;
}
