import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { KubernetesObject, V1APIResourceList } from '@kubernetes/client-node';
import { request } from 'undici';
import { version } from '../version.ts';
import { apiserverPool } from './agent.ts';
import { KubeConfig, SERVICE_ACCOUNT_DIR } from './config.ts';
import { ApiResponseError } from './errors.ts';

const userAgent = `fledge/${version}`;

export interface KubeConfigSource {
  /** Explicit kubeconfig file; otherwise KUBECONFIG, ~/.kube/config, then the in-cluster service account. */
  kubeconfigPath?: string;
  /** Context to use instead of the file's current-context. */
  context?: string;
}

/**
 * Loads cluster credentials. Unlike client-node's loadFromDefault, finding none is
 * an error rather than a silent fallback to http://localhost:8080.
 */
export function loadKubeConfig(source: KubeConfigSource = {}): KubeConfig {
  const homeConfig = join(homedir(), '.kube', 'config');
  let kc: KubeConfig;
  if (source.kubeconfigPath) {
    if (!existsSync(source.kubeconfigPath)) {
      throw new Error(`kubeconfig file "${source.kubeconfigPath}" does not exist; check --kubeconfig`);
    }
    kc = KubeConfig.fromFile(source.kubeconfigPath);
  } else if (process.env.KUBECONFIG) {
    kc = KubeConfig.fromFiles(process.env.KUBECONFIG);
  } else if (existsSync(homeConfig)) {
    kc = KubeConfig.fromFile(homeConfig);
  } else if (existsSync(join(SERVICE_ACCOUNT_DIR, 'token')) && process.env.KUBERNETES_SERVICE_HOST) {
    kc = KubeConfig.inCluster();
  } else {
    throw new Error(
      'no Kubernetes credentials found: pass --kubeconfig, set KUBECONFIG, create ~/.kube/config or run in a cluster',
    );
  }
  if (source.context) {
    if (!kc.getContextObject(source.context)) {
      const known = kc.getContexts().map((context) => context.name);
      throw new Error(
        `kubeconfig has no context "${source.context}"; it has: ${known.join(', ') || '(none)'}`,
      );
    }
    kc.setCurrentContext(source.context);
  }
  if (!kc.getCurrentCluster()) {
    throw new Error('kubeconfig has no current cluster: set current-context in the file or pass --context');
  }
  return kc;
}

export interface KubeClientOptions {
  /** Upper bound for any single API request that has no signal of its own. Default 30 s. */
  requestTimeoutMs?: number;
}

export interface KubeClients {
  kubeConfig: KubeConfig;
  /** Any kind by apiVersion/kind, with full control of bodies and patch content types. */
  objects: KubeObjectClient;
}

export function createKubeClients(kubeConfig: KubeConfig, options: KubeClientOptions = {}): KubeClients {
  return { kubeConfig, objects: new KubeObjectClient(kubeConfig, options) };
}

function requestTimeout(options: KubeClientOptions): number {
  const timeout = options.requestTimeoutMs ?? 30_000;
  if (!(timeout > 0)) throw new Error(`requestTimeoutMs must be > 0, got ${timeout}`);
  return timeout;
}

/** Names one object (or, without `name`, a collection). */
export interface ObjectRef {
  apiVersion: string;
  kind: string;
  /** Required for namespaced kinds. */
  namespace?: string;
  name?: string;
}

export interface RequestOptions {
  signal?: AbortSignal;
  query?: Record<string, string | boolean | undefined>;
}

export interface PatchRequest extends RequestOptions {
  /** e.g. "status"; the patch then goes to the subresource. */
  subresource?: string;
  /** See ApplyOptions.live; never sent. */
  live?: KubernetesObject | undefined;
}

type RequestMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/**
 * A small dynamic client: resolves apiVersion/kind to a path through discovery
 * (cached, refreshed once on a miss so CRDs installed later are found), sends
 * exactly the body given with exactly the content type given, and returns the
 * response as parsed JSON (timestamps stay strings). Failures throw ApiResponseError
 * carrying the response text, which normalizeKubeError understands. Every request gets a
 * timeout, so a hung connection cannot hang a reconcile.
 */
export class KubeObjectClient {
  readonly #kubeConfig: KubeConfig;
  /** The cluster's URL (no trailing slash, see KubeConfig); request paths are appended, so a path prefix stays. */
  readonly #server: string;
  readonly #timeoutMs: number;
  readonly #discovery = new Map<string, V1APIResourceList>();

  constructor(kubeConfig: KubeConfig, options: KubeClientOptions = {}) {
    this.#kubeConfig = kubeConfig;
    this.#timeoutMs = requestTimeout(options);
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    this.#server = cluster.server;
  }

  async get<T extends KubernetesObject>(ref: ObjectRef, options: RequestOptions = {}): Promise<T> {
    return this.request<T>('GET', await this.objectPath(ref), undefined, undefined, options);
  }

  async list<T extends KubernetesObject>(
    ref: ObjectRef,
    options: RequestOptions = {},
  ): Promise<{ metadata?: { resourceVersion?: string }; items: T[] }> {
    return this.request('GET', await this.collectionPath(ref), undefined, undefined, options);
  }

  async create<T extends KubernetesObject>(object: T, options: RequestOptions = {}): Promise<T> {
    const path = await this.collectionPath(refOf(object));
    return this.request<T>('POST', path, object, 'application/json', options);
  }

  /** PUT; the object's metadata.resourceVersion makes it fail with Conflict if the object changed. */
  async replace<T extends KubernetesObject>(object: T, options: RequestOptions = {}): Promise<T> {
    return this.request<T>('PUT', await this.objectPath(refOf(object)), object, 'application/json', options);
  }

  async patch<T extends KubernetesObject>(
    ref: ObjectRef,
    body: unknown,
    contentType: string,
    options: PatchRequest = {},
  ): Promise<T> {
    const path = await this.objectPath(ref, options.subresource);
    return this.request<T>('PATCH', path, body, contentType, options);
  }

  /** Deletes one object; with `uid`, only that incarnation of it (a recreated namesake is left alone). */
  async delete(ref: ObjectRef, options: RequestOptions & { uid?: string } = {}): Promise<void> {
    const { uid, ...request } = options;
    const body =
      uid === undefined ? undefined : { apiVersion: 'v1', kind: 'DeleteOptions', preconditions: { uid } };
    await this.request(
      'DELETE',
      await this.objectPath(ref),
      body,
      body === undefined ? undefined : 'application/json',
      request,
    );
  }

  /** REST path of one object, or of its subresource. */
  async objectPath(ref: ObjectRef, subresource?: string): Promise<string> {
    if (!ref.name) throw new Error(`${ref.kind} reference needs a name`);
    const path = `${await this.collectionPath(ref)}/${encodeURIComponent(ref.name)}`;
    return subresource ? `${path}/${subresource}` : path;
  }

  /** REST path of a collection (namespaced kinds: within ref.namespace). */
  async collectionPath(ref: ObjectRef): Promise<string> {
    const resource = await this.#resource(ref.apiVersion, ref.kind);
    const base = groupVersionPath(ref.apiVersion);
    if (!resource.namespaced) return `${base}/${resource.name}`;
    if (!ref.namespace) {
      throw new Error(`${ref.kind} "${ref.name ?? ''}" is namespaced: the reference needs a namespace`);
    }
    return `${base}/namespaces/${encodeURIComponent(ref.namespace)}/${resource.name}`;
  }

  async request<T>(
    method: RequestMethod,
    path: string,
    body: unknown,
    contentType: string | undefined,
    options: RequestOptions,
  ): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': userAgent };
    if (body !== undefined) {
      if (!contentType) throw new Error(`${method} ${path}: a body needs a content type`);
      headers['content-type'] = contentType;
    }
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) query.append(name, String(value));
    }
    const search = query.size > 0 ? `?${query}` : '';
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    const pool = apiserverPool(this.#kubeConfig);
    const credentials = await pool.authenticate('request', signal);
    // undici's request, not fetch: the same pooled agent at about half the CPU per request
    // (no WHATWG Request, Response and stream objects), which a busy reconcile loop feels.
    const response = await request(`${this.#server}${path}${search}`, {
      method,
      headers: { ...credentials.headers, ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
      dispatcher: credentials.dispatcher,
      signal,
    }).catch((error: unknown) => {
      // Our own timeout, not the caller's abort: the pooled connection may be dead.
      if (timeout.aborted) pool.resetConnections();
      throw error;
    });
    const text = await response.body.text();
    if (response.statusCode < 200 || response.statusCode > 299) {
      // Only Retry-After is kept: the normaliser needs it, and nothing else from the headers may leak into logs.
      const retryAfter = response.headers['retry-after'];
      throw new ApiResponseError(
        response.statusCode,
        `${method} ${path}`,
        text,
        retryAfter === undefined ? {} : { 'retry-after': String(retryAfter) },
      );
    }
    return (text ? JSON.parse(text) : undefined) as T;
  }

  async #resource(apiVersion: string, kind: string): Promise<{ name: string; namespaced: boolean }> {
    let list = this.#discovery.get(apiVersion);
    let found = list?.resources.find((resource) => resource.kind === kind && !resource.name.includes('/'));
    if (!found) {
      list = await this.request<V1APIResourceList>(
        'GET',
        groupVersionPath(apiVersion),
        undefined,
        undefined,
        {},
      );
      this.#discovery.set(apiVersion, list);
      found = list.resources.find((resource) => resource.kind === kind && !resource.name.includes('/'));
    }
    if (!found) {
      throw new Error(
        `the apiserver serves no kind ${kind} in ${apiVersion}; is its CustomResourceDefinition installed?`,
      );
    }
    return found;
  }
}

/** Core kinds live under /api/v1, every group under /apis/<group>/<version>. */
function groupVersionPath(apiVersion: string): string {
  return apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
}

function refOf(object: KubernetesObject): ObjectRef {
  if (!object.apiVersion || !object.kind) {
    throw new Error(`object ${object.metadata?.name ?? '(unnamed)'} needs apiVersion and kind`);
  }
  return {
    apiVersion: object.apiVersion,
    kind: object.kind,
    namespace: object.metadata?.namespace,
    name: object.metadata?.name,
  };
}
