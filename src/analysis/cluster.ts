import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { normalizeKubeError } from '../kube/errors.ts';
import { Handover } from '../runtime/handover.ts';
import { ProviderError } from './provider.ts';

// The port through which stores that live in the cluster (job, keptn,
// externalmetrics) reach the Kubernetes API. The operator passes its client;
// the analysis layer knows only these few calls.

export interface ClusterRef {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespace?: string;
  readonly name?: string;
}

export interface ClusterObject {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata?: { readonly name?: string; readonly uid?: string };
}

export interface ClusterRequestOptions {
  readonly signal?: AbortSignal;
  readonly query?: Record<string, string | boolean | undefined>;
}

export interface ClusterClient {
  get<T extends ClusterObject>(ref: ClusterRef, options?: ClusterRequestOptions): Promise<T>;
  create<T extends ClusterObject>(object: T, options?: ClusterRequestOptions): Promise<T>;
  delete(ref: ClusterRef, options?: ClusterRequestOptions & { uid?: string }): Promise<void>;
  /** A GET of an API path, for aggregated APIs that serve no objects. */
  request<T>(
    method: 'GET',
    path: string,
    body: undefined,
    contentType: undefined,
    options: ClusterRequestOptions,
  ): Promise<T>;
}

/** What every store factory is given besides its config. */
export interface StoreContext {
  /** The operator's Kubernetes client; absent where no cluster is at hand (e.g. the CLI). */
  readonly cluster?: ClusterClient;
}

/** The cluster client, or a config error for a store that cannot run without it. */
export function clusterOf(context: StoreContext, type: string): ClusterClient {
  if (!context.cluster) {
    throw new ProviderError(
      'config',
      `the ${type} store reads the cluster and no Kubernetes client was given`,
    );
  }
  return context.cluster;
}

/**
 * A failed API call as a ProviderError: refused (403) names the RBAC to grant,
 * invalid (400, 422) is the query's fault, throttling and outages stay transient.
 */
export function clusterError(err: unknown, what: string, signal?: AbortSignal): ProviderError {
  if (err instanceof ProviderError) return err;
  if (signal?.aborted) return new ProviderError('cancelled', `${what} was cancelled`);
  const { code, reason, message } = normalizeKubeError(err);
  const said = `${what}: ${reason}${code !== undefined ? ` (${code})` : ''}: ${message}`;
  if (code === 401 || code === 403) {
    return new ProviderError('auth', `${said}; grant the operator's service account this access`);
  }
  if (code === 400 || code === 422) return new ProviderError('bad-query', said);
  if (code === 429) return new ProviderError('rate-limited', said);
  if (reason === 'Timeout') return new ProviderError('timeout', said);
  if (code === undefined) return new ProviderError('connection', said, { cause: err });
  return new ProviderError('http-status', said);
}

interface CreatedObject extends ClusterObject {
  readonly metadata?: {
    readonly name?: string;
    readonly generateName?: string;
    readonly namespace?: string;
    readonly uid?: string;
  };
}

/** Hex digits of the request id's digest in an object's name: 64 bits, no collision in one namespace. */
const digestLength = 16;
/** The longest DNS-1123 label, so the name also fits label values such as a Job's pods' job-name. */
const maxNameLength = 63;

/**
 * The name of the object a measurement creates: `prefix` (as a generateName),
 * made DNS-1123-safe and cut to fit, then a digest of the engine's request id
 * (canary uid, run, tick, metric). The same measurement always names the same
 * object, so the operator that asks again after a restart finds it.
 */
export function measurementObjectName(prefix: string, requestId: string): string {
  const digest = createHash('sha256').update(requestId).digest('hex').slice(0, digestLength);
  const safe = prefix
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^[^a-z0-9]+/, '');
  return `${safe.slice(0, maxNameLength - digestLength)}${digest}`;
}

/**
 * Creates `object` in its namespace, reads it every `pollMs` until `verdict`
 * returns a number, and deletes it, with its dependents, whatever happened
 * but a Handover: the operator stopping leaves it to its successor. An object
 * with a name that exists already was created for the same measurement (by
 * this operator before a restart, or by the previous leader): it is adopted
 * and awaited instead of run twice. `what` names the object in errors, e.g.
 * "a Job".
 */
export async function createAndAwait<T extends CreatedObject>(
  cluster: ClusterClient,
  object: T,
  what: string,
  verdict: (current: T, where: string) => number | undefined,
  signal: AbortSignal,
  pollMs = 1000,
): Promise<number> {
  const namespace = object.metadata?.namespace ?? '';
  const ref = {
    apiVersion: object.apiVersion ?? '',
    kind: object.kind ?? '',
    namespace,
    name: object.metadata?.name ?? '',
  };
  let uid: string | undefined;
  try {
    const created = await cluster.create(object, { signal });
    ref.name = created.metadata?.name ?? '';
    uid = created.metadata?.uid;
  } catch (err) {
    if (ref.name === '' || normalizeKubeError(err).code !== 409) {
      throw clusterError(err, `creating ${what} in ${namespace}`, signal);
    }
  }
  const where = `${ref.kind} ${namespace}/${ref.name}`;
  try {
    for (;;) {
      let current: T;
      try {
        current = await cluster.get<T>(ref, { signal });
      } catch (err) {
        throw clusterError(err, `reading ${where}`, signal);
      }
      uid ??= current.metadata?.uid;
      const value = verdict(current, where);
      if (value !== undefined) return value;
      try {
        await sleep(pollMs, undefined, { signal });
      } catch {
        throw new ProviderError('cancelled', `waiting for ${where} was cancelled`);
      }
    }
  } finally {
    // Background propagation takes dependents (a Job's pods) with it. The uid
    // precondition spares a namesake that is not the object created or read here.
    if (uid !== undefined && !(signal.reason instanceof Handover)) {
      await cluster.delete(ref, { query: { propagationPolicy: 'Background' }, uid }).catch(() => undefined);
    }
  }
}
