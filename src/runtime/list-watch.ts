import type { KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';

// One list-then-watch run over a collection, with its cache: what client-node's ListWatch does,
// without importing client-node (whose index loads its whole generated API). The informer
// (informer.ts) supervises it: it restarts a run that fails and replaces it for a relist.

type Listener<T> = (object: T) => void;

/** Opens one watch: events go to `callback`, its end (null: closed cleanly) to `done`, once. */
export interface WatchClient {
  watch(
    path: string,
    query: Record<string, string | undefined>,
    callback: (type: string, object: unknown) => void,
    done: (error: unknown) => void,
  ): Promise<AbortController>;
}

export interface ListWatchOptions<T extends KubernetesObject> {
  /** Collection path, e.g. /apis/apps/v1/deployments. */
  path: string;
  watch: WatchClient;
  list: () => Promise<KubernetesListObject<T>>;
  labelSelector?: string | undefined;
  fieldSelector?: string | undefined;
  /** Waits before a watch is opened again after one ended without an event. */
  delay: (ms: number) => Promise<void>;
}

/** After a watch ends without an event, the next waits 1 s, doubling to 30 s; an event resets it. */
const BASE_RECONNECT_DELAY_MS = 1_000;
const MAX_RECONNECT_DELAY_MS = 30_000;

/**
 * Lists the collection, then watches it from the list's resourceVersion, keeping a cache of
 * namespace -> name -> object and telling listeners what was added, updated and deleted. A
 * watch that ends cleanly or goes quiet is opened again from the last version seen; an expired
 * version (410 Gone) lists again; any other failure goes to the error listeners and ends the run.
 */
export class ListWatch<T extends KubernetesObject> {
  readonly #options: ListWatchOptions<T>;
  readonly #objects = new Map<string, Map<string, T>>();
  readonly #listeners = {
    add: [] as Listener<T>[],
    update: [] as Listener<T>[],
    delete: [] as Listener<T>[],
    error: [] as ((error: unknown) => void)[],
  };
  #resourceVersion = '';
  #stopped = false;
  #reconnectDelayMs = 0;
  #hasConnected = false;
  #request: AbortController | undefined;

  constructor(options: ListWatchOptions<T>) {
    this.#options = options;
  }

  on(verb: 'add' | 'update' | 'delete', listener: Listener<T>): void;
  on(verb: 'error', listener: (error: unknown) => void): void;
  on(verb: 'add' | 'update' | 'delete' | 'error', listener: Listener<T> | ((error: unknown) => void)): void {
    if (verb === 'error') this.#listeners.error.push(listener as (error: unknown) => void);
    else this.#listeners[verb].push(listener as Listener<T>);
  }

  async start(): Promise<void> {
    this.#stopped = false;
    this.#reconnectDelayMs = 0;
    this.#hasConnected = false;
    await this.#watchEnded(null);
  }

  stop(): void {
    this.#stopped = true;
    this.#abort();
  }

  get(name: string, namespace?: string): T | undefined {
    return this.#objects.get(namespace ?? '')?.get(name);
  }

  list(namespace?: string): T[] {
    if (namespace) return [...(this.#objects.get(namespace)?.values() ?? [])];
    return [...this.#objects.values()].flatMap((objects) => [...objects.values()]);
  }

  #abort(): void {
    this.#request?.abort();
    this.#request = undefined;
  }

  #emit(verb: 'add' | 'update' | 'delete', object: T): void {
    for (const listener of this.#listeners[verb]) listener(object);
  }

  #fail(error: unknown): void {
    for (const listener of this.#listeners.error) listener(error);
  }

  /** Runs when a watch ended (and to start): list if needed, then watch again. */
  async #watchEnded(error: unknown): Promise<void> {
    this.#abort();
    if (error) {
      const { statusCode, code, name } = error as { statusCode?: unknown; code?: unknown; name?: unknown };
      if (statusCode === 410 || code === 410) {
        this.#resourceVersion = '';
      } else if (name === 'TimeoutError') {
        // The quiet period already spaced the reconnect; waiting more would leave the kind unwatched.
        this.#reconnectDelayMs = 0;
      } else {
        this.#fail(error);
        return;
      }
    }
    if (this.#stopped) return;
    if (!this.#resourceVersion) {
      let listed: KubernetesListObject<T>;
      try {
        listed = await this.#options.list();
      } catch (listError) {
        this.#fail(listError);
        return;
      }
      this.#replaceAll(listed.items);
      this.#resourceVersion = listed.metadata?.resourceVersion ?? '';
    }
    if (this.#reconnectDelayMs > 0 && this.#hasConnected) await this.#options.delay(this.#reconnectDelayMs);
    if (this.#hasConnected) {
      this.#reconnectDelayMs = Math.min(
        this.#reconnectDelayMs > 0 ? this.#reconnectDelayMs * 2 : BASE_RECONNECT_DELAY_MS,
        MAX_RECONNECT_DELAY_MS,
      );
    }
    this.#hasConnected = true;
    const { path, labelSelector, fieldSelector } = this.#options;
    this.#request = await this.#options.watch.watch(
      path,
      {
        resourceVersion: this.#resourceVersion,
        ...(labelSelector === undefined ? {} : { labelSelector }),
        ...(fieldSelector === undefined ? {} : { fieldSelector }),
      },
      (type, object) => this.#event(type, object as T),
      (endError) => void this.#watchEnded(endError),
    );
  }

  #event(type: string, object: T): void {
    switch (type) {
      case 'ERROR':
        // A Status; the watch ends after it. 410: the version expired, so list again.
        if ((object as { code?: number }).code === 410) this.#resourceVersion = '';
        return;
      case 'ADDED':
      case 'MODIFIED':
        this.#addOrUpdate(object);
        break;
      case 'DELETED':
        this.#delete(object);
        break;
      default:
        // BOOKMARK: only its resourceVersion matters.
        break;
    }
    this.#reconnectDelayMs = 0;
    this.#resourceVersion = object.metadata?.resourceVersion ?? '';
  }

  /** A fresh list: objects missing from it are deleted, the rest added or updated. */
  #replaceAll(items: T[]): void {
    const listed = new Set(
      items.map((item) => `${item.metadata?.namespace ?? ''}/${item.metadata?.name ?? ''}`),
    );
    for (const [namespace, objects] of this.#objects) {
      for (const [name, object] of objects) {
        if (listed.has(`${namespace}/${name}`)) continue;
        objects.delete(name);
        this.#emit('delete', object);
      }
      if (objects.size === 0) this.#objects.delete(namespace);
    }
    for (const item of items) this.#addOrUpdate(item);
  }

  #addOrUpdate(object: T): void {
    const namespace = object.metadata?.namespace ?? '';
    const name = object.metadata?.name ?? '';
    let objects = this.#objects.get(namespace);
    if (!objects) {
      objects = new Map();
      this.#objects.set(namespace, objects);
    }
    const known = objects.get(name);
    if (known === undefined) {
      objects.set(name, object);
      this.#emit('add', object);
      return;
    }
    const version = known.metadata?.resourceVersion;
    if (version !== undefined && version === object.metadata?.resourceVersion) return;
    objects.set(name, object);
    this.#emit('update', object);
  }

  #delete(object: T): void {
    const namespace = object.metadata?.namespace ?? '';
    const objects = this.#objects.get(namespace);
    if (!objects?.delete(object.metadata?.name ?? '')) return;
    if (objects.size === 0) this.#objects.delete(namespace);
    this.#emit('delete', object);
  }
}
