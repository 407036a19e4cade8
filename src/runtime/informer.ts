import type { KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';
import type { Counter, Gauge } from 'prom-client';
import { apiserverPool } from '../kube/agent.ts';
import type { KubeConfig } from '../kube/config.ts';
import { PooledWatch } from '../kube/watch.ts';
import { forCache } from '../kube/cached-client.ts';
import { describeKubeError, normalizeKubeError } from '../kube/errors.ts';
import type { Logger } from '../telemetry/logger.ts';
import { assertBackoffPolicy, exponentialDelay, withJitter, type BackoffPolicy } from './backoff.ts';
import { systemClock, type Clock, type TimerHandle } from './clock.ts';
import { keyOf } from './keys.ts';
import { ListWatch, type WatchClient } from './list-watch.ts';

/** Why a handler is being called. `resync` = seen again on a relist, unchanged. */
export type ChangeType = 'add' | 'update' | 'delete' | 'resync';

export interface InformerHandler<T extends KubernetesObject> {
  /**
   * Maps a changed object to the work-queue keys to reconcile (e.g. a Deployment
   * to the Canaries that target it). Defaults to the object's own namespace/name.
   * The object is the informer's cached copy: read it, never mutate it.
   */
  keysFor?: (object: Readonly<T>, change: ChangeType) => Iterable<string>;
  enqueue: (key: string) => void;
}

export type { WatchClient };

type WatchCallback = Parameters<WatchClient['watch']>[2];
type WatchDone = Parameters<WatchClient['watch']>[3];
type WatchQuery = Parameters<WatchClient['watch']>[1];

export interface InformerMetrics {
  readonly restarts: Counter<'resource' | 'reason'>;
  readonly relists: Counter<'resource'>;
  readonly events: Counter<'resource' | 'type'>;
  readonly synced: Gauge<'resource'>;
}

export interface SupervisedInformerOptions<T extends KubernetesObject> {
  /** Name used in logs and metric labels, e.g. "deployments". */
  resource: string;
  /** Collection path to watch, e.g. /apis/apps/v1/deployments or /api/v1/namespaces/x/configmaps. */
  path: string;
  /** Lists the same collection, as plain JSON. */
  list: () => Promise<KubernetesListObject<T>>;
  /** PooledWatch (src/kube/watch.ts); tests pass a scripted one. */
  watch: WatchClient;
  labelSelector?: string;
  fieldSelector?: string;
  /** Restart delay after errors and stalls: jittered exponential. Default 1 s doubling to 60 s. */
  restartBackoff?: BackoffPolicy;
  /** No event, list or watch (re)connect for this long restarts the informer. Default 2 min. */
  stallTimeoutMs?: number;
  /** Full relist that re-enqueues every key. Default 10 min (plus up to 10 % jitter). */
  resyncIntervalMs?: number;
  clock?: Clock;
  /** Uniform [0, 1) source for jitter. */
  random?: () => number;
  metrics?: InformerMetrics;
  log?: Logger;
  /**
   * Applied to every listed and watched object (freshly parsed, so it may change it in place)
   * before it is cached and handed to handlers.
   */
  transform?: (object: T) => T;
  /** Called when the watch stalls or a list or watch times out: its connection may be dead. */
  onUnresponsive?: () => void;
}

export interface InformerHealth {
  started: boolean;
  synced: boolean;
  /** No activity for two stall periods: the watchdog's restarts are not recovering it. */
  stalled: boolean;
  lastActivityAt: number | undefined;
}

// Capped low: after an apiserver outage the caches are watched again within 15 s (at 60 s, a
// 50 s outage left them stale for up to a minute more), and a failing list costs one request.
const defaultRestartBackoff: BackoffPolicy = { baseMs: 1_000, maxMs: 15_000 };
const restartJitter = 0.5;
const resyncJitter = 0.1;

/** One ListWatch run. Each restart or relist replaces it with a fresh one. */
interface Generation<T extends KubernetesObject> {
  readonly listWatch: ListWatch<T>;
  stopped: boolean;
  /** Its first list has completed, so its cache is complete. */
  synced: boolean;
}

type RestartReason = 'error' | 'stall' | 'relist';

/**
 * An informer that keeps working:
 * - every restart (after an error, a stall or for the periodic relist) goes through
 *   one path that replaces the ListWatch with a fresh one after a jittered back-off;
 * - a watchdog restarts it when nothing (event, list, watch connect) happened for
 *   `stallTimeoutMs`, since a watch can hang silently;
 * - the periodic relist calls handlers for every object, so missed events heal;
 * - reads are served from the last complete cache while a new one is listing.
 * Handlers only map objects to keys and enqueue them.
 */
export class SupervisedInformer<T extends KubernetesObject> {
  readonly resource: string;
  readonly #options: SupervisedInformerOptions<T>;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #restartBackoff: BackoffPolicy;
  readonly #stallTimeoutMs: number;
  readonly #resyncIntervalMs: number;
  readonly #handlers: InformerHandler<T>[] = [];

  #state: 'created' | 'running' | 'stopped' = 'created';
  /** The ListWatch currently listing or watching. */
  #active: Generation<T> | undefined;
  /** The ListWatch whose cache answers reads: the newest one that finished its list. */
  #readable: Generation<T> | undefined;
  #consecutiveFailures = 0;
  /** Last sign of life from the apiserver: an event, a completed list, an established watch. */
  #lastActivityAt: number | undefined;
  /** When the current generation was started; the watchdog gives each one a full period. */
  #lastStartAt = 0;
  #startedAt = 0;
  #restartTimer: TimerHandle | undefined;
  #watchdogTimer: TimerHandle | undefined;
  #resyncTimer: TimerHandle | undefined;
  #syncWaiters: { resolve: () => void; reject: (error: Error) => void }[] = [];

  constructor(options: SupervisedInformerOptions<T>) {
    this.resource = options.resource;
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
    this.#restartBackoff = options.restartBackoff ?? defaultRestartBackoff;
    assertBackoffPolicy(this.#restartBackoff, `informer "${options.resource}" restartBackoff`);
    this.#stallTimeoutMs = positive(options.stallTimeoutMs ?? 120_000, 'stallTimeoutMs', options.resource);
    this.#resyncIntervalMs = positive(
      options.resyncIntervalMs ?? 600_000,
      'resyncIntervalMs',
      options.resource,
    );
    const labels = { resource: this.resource };
    options.metrics?.restarts.inc({ ...labels, reason: 'error' }, 0);
    options.metrics?.restarts.inc({ ...labels, reason: 'stall' }, 0);
    options.metrics?.relists.inc(labels, 0);
    for (const type of ['add', 'update', 'delete', 'resync'] as const) {
      options.metrics?.events.inc({ ...labels, type }, 0);
    }
    options.metrics?.synced.set(labels, 0);
  }

  /** Registers a handler; only allowed before start so no handler misses the initial list. */
  addHandler(handler: InformerHandler<T>): void {
    if (this.#state !== 'created') {
      throw new Error(`informer "${this.resource}": register handlers before start()`);
    }
    this.#handlers.push(handler);
  }

  start(): void {
    if (this.#state !== 'created') {
      throw new Error(`informer "${this.resource}" cannot start: it is ${this.#state}`);
    }
    this.#state = 'running';
    this.#startedAt = this.#clock.now();
    this.#startGeneration();
    this.#armWatchdog();
    this.#armResync();
  }

  /** Stops watching for good. The last cache stays readable. */
  stop(): void {
    if (this.#state === 'stopped') return;
    this.#state = 'stopped';
    for (const timer of [this.#restartTimer, this.#watchdogTimer, this.#resyncTimer]) timer?.cancel();
    if (this.#active) this.#stopGeneration(this.#active);
    const waiters = this.#syncWaiters;
    this.#syncWaiters = [];
    for (const waiter of waiters)
      waiter.reject(new Error(`informer "${this.resource}" stopped before it synced`));
  }

  /** True once a complete list has been loaded into the cache. */
  hasSynced(): boolean {
    return this.#readable !== undefined;
  }

  /** Resolves once the cache holds a complete list; rejects if the informer stops first. */
  whenSynced(): Promise<void> {
    if (this.hasSynced()) return Promise.resolve();
    if (this.#state === 'stopped') {
      return Promise.reject(new Error(`informer "${this.resource}" stopped before it synced`));
    }
    return new Promise((resolve, reject) => this.#syncWaiters.push({ resolve, reject }));
  }

  /** The cached object, shared with the informer: treat it as read-only (cloneJson before changing). */
  get(namespace: string, name: string): Readonly<T> | undefined {
    return this.#readable?.listWatch.get(name, namespace || undefined);
  }

  /** Cached objects, in one namespace or all; read-only like get(). */
  list(namespace?: string): readonly Readonly<T>[] {
    return this.#readable?.listWatch.list(namespace) ?? [];
  }

  health(): InformerHealth {
    const started = this.#state === 'running';
    const idleFor = this.#clock.now() - (this.#lastActivityAt ?? this.#startedAt);
    return {
      started,
      synced: this.hasSynced(),
      stalled: started && idleFor > 2 * this.#stallTimeoutMs,
      lastActivityAt: this.#lastActivityAt,
    };
  }

  #startGeneration(): void {
    const { path, labelSelector, fieldSelector, transform } = this.#options;
    const list =
      transform === undefined
        ? this.#options.list
        : async () => {
            const listed = await this.#options.list();
            return { ...listed, items: listed.items.map(transform) };
          };
    // The guarded watch needs the generation, which needs the ListWatch: resolve lazily.
    const listWatch = new ListWatch<T>({
      path,
      watch: { watch: this.#guardedWatch(() => generation) },
      list,
      labelSelector,
      fieldSelector,
      delay: (ms) => new Promise<void>((resolve) => this.#clock.setTimer(resolve, ms)),
    });
    const generation: Generation<T> = { listWatch, stopped: false, synced: false };
    listWatch.on('add', (object) => this.#onObject(generation, object, 'add'));
    listWatch.on('update', (object) => this.#onObject(generation, object, 'update'));
    listWatch.on('delete', (object) => this.#onObject(generation, object, 'delete'));
    listWatch.on('error', (error: unknown) => this.#onGenerationError(generation, error));
    this.#active = generation;
    this.#lastStartAt = this.#clock.now();
    listWatch.start().catch((error: unknown) => this.#onGenerationError(generation, error));
  }

  /**
   * Wraps Watch.watch for one generation. Its first call means the list finished;
   * a resolved call that did not end means the watch is established. It also turns
   * a throw (no cluster, failed auth) into an ordinary watch error, and refuses to
   * open a watch for a stopped generation: ListWatch can reach watch() after stop()
   * when stop() lands during its reconnect delay.
   */
  #guardedWatch(generationOf: () => Generation<T>) {
    return async (path: string, query: WatchQuery, callback: WatchCallback, done: WatchDone) => {
      const generation = generationOf();
      if (generation.stopped) return new AbortController();
      this.#onListed(generation);
      let ended = false;
      const guardedDone: WatchDone = (error) => {
        ended = true;
        if (!generation.stopped) done(error);
      };
      const guardedCallback: WatchCallback = (phase, object) => {
        if (generation.stopped) return;
        this.#markActivity();
        const transform = this.#options.transform;
        callback(phase, transform === undefined ? object : transform(object as T));
      };
      try {
        const request = await this.#options.watch.watch(path, query, guardedCallback, guardedDone);
        if (generation.stopped) request.abort();
        else if (!ended) this.#onWatchEstablished();
        return request;
      } catch (error) {
        guardedDone(error);
        return new AbortController();
      }
    };
  }

  #onListed(generation: Generation<T>): void {
    this.#markActivity();
    if (generation !== this.#active || generation.synced) return;
    generation.synced = true;
    const previous = this.#readable;
    this.#readable = generation;
    if (previous && previous !== generation) {
      // Objects deleted while no watch was running: their delete events never came.
      for (const object of previous.listWatch.list()) {
        const name = object.metadata?.name ?? '';
        if (!generation.listWatch.get(name, object.metadata?.namespace)) this.#dispatch(object, 'delete');
      }
    }
    this.#options.metrics?.synced.set({ resource: this.resource }, 1);
    const waiters = this.#syncWaiters;
    this.#syncWaiters = [];
    for (const waiter of waiters) waiter.resolve();
  }

  #onWatchEstablished(): void {
    this.#markActivity();
    this.#consecutiveFailures = 0;
  }

  #onObject(generation: Generation<T>, object: T, listed: 'add' | 'update' | 'delete'): void {
    if (generation.stopped) return;
    this.#markActivity();
    let change: ChangeType = listed;
    if (listed === 'add' && !generation.synced && this.#readable) {
      // A fresh list after a restart: report what actually changed against the last cache.
      const known = this.#readable.listWatch.get(object.metadata?.name ?? '', object.metadata?.namespace);
      if (known) {
        change = known.metadata?.resourceVersion === object.metadata?.resourceVersion ? 'resync' : 'update';
      }
    }
    this.#dispatch(object, change);
  }

  #dispatch(object: T, change: ChangeType): void {
    this.#options.metrics?.events.inc({ resource: this.resource, type: change });
    for (const handler of this.#handlers) {
      try {
        const keys = handler.keysFor ? handler.keysFor(object, change) : [keyOf(object)];
        for (const key of keys) handler.enqueue(key);
      } catch (error) {
        // A throwing handler must not break the ListWatch loop that called it.
        this.#options.log?.error(
          { err: error, resource: this.resource, object: object.metadata?.name, change },
          'informer handler failed',
        );
      }
    }
  }

  #onGenerationError(generation: Generation<T>, error: unknown): void {
    if (generation.stopped || generation !== this.#active) return;
    this.#options.log?.warn(
      { resource: this.resource, error: describeKubeError(error) },
      'informer watch failed; restarting',
    );
    if (normalizeKubeError(error).reason === 'Timeout') this.#options.onUnresponsive?.();
    this.#restart('error');
  }

  /** The single restart path: errors, stalls and periodic relists all come here. */
  #restart(reason: RestartReason): void {
    if (this.#state !== 'running' || this.#restartTimer) return;
    if (this.#active) this.#stopGeneration(this.#active);
    let delay = 0;
    if (reason === 'relist') {
      this.#options.metrics?.relists.inc({ resource: this.resource });
    } else {
      this.#consecutiveFailures++;
      this.#options.metrics?.restarts.inc({ resource: this.resource, reason });
      const base = exponentialDelay(this.#consecutiveFailures, this.#restartBackoff);
      delay = withJitter(base, restartJitter, this.#random, this.#restartBackoff.maxMs);
    }
    this.#options.log?.info(
      { resource: this.resource, reason, delayMs: Math.round(delay) },
      'informer restart scheduled',
    );
    this.#restartTimer = this.#clock.setTimer(() => {
      this.#restartTimer = undefined;
      if (this.#state !== 'running') return;
      this.#startGeneration();
    }, delay);
  }

  #stopGeneration(generation: Generation<T>): void {
    generation.stopped = true;
    generation.listWatch.stop();
  }

  #markActivity(): void {
    this.#lastActivityAt = this.#clock.now();
  }

  /** Idle time as the watchdog sees it: since the last activity or the last (re)start, whichever is later. */
  #watchdogIdleMs(): number {
    return this.#clock.now() - Math.max(this.#lastActivityAt ?? 0, this.#lastStartAt);
  }

  /** Checks four times per stall period, so a stall is caught within 1.25 periods. */
  #armWatchdog(): void {
    this.#watchdogTimer = this.#clock.setTimer(() => {
      if (this.#state !== 'running') return;
      const idleMs = this.#watchdogIdleMs();
      if (idleMs >= this.#stallTimeoutMs && !this.#restartTimer) {
        this.#options.log?.warn({ resource: this.resource, idleMs }, 'informer stalled; restarting');
        this.#options.onUnresponsive?.();
        this.#restart('stall');
      }
      this.#armWatchdog();
    }, this.#stallTimeoutMs / 4);
  }

  #armResync(): void {
    const interval = withJitter(this.#resyncIntervalMs, resyncJitter, this.#random);
    this.#resyncTimer = this.#clock.setTimer(() => {
      if (this.#state !== 'running') return;
      this.#restart('relist');
      this.#armResync();
    }, interval);
  }
}

/**
 * An informer over a real cluster: its watches on the kubeconfig's pooled
 * connections (src/kube/agent.ts, src/kube/watch.ts).
 */
export function createInformer<T extends KubernetesObject>(
  kubeConfig: KubeConfig,
  options: Omit<SupervisedInformerOptions<T>, 'watch'>,
): SupervisedInformer<T> {
  return new SupervisedInformer({
    // A stalled watch on a shared connection means the connection is dead for everyone.
    onUnresponsive: () => apiserverPool(kubeConfig).resetConnections(),
    transform: forCache,
    ...options,
    watch: new PooledWatch(kubeConfig),
  });
}

function positive(value: number, field: string, resource: string): number {
  if (!(value > 0)) throw new Error(`informer "${resource}": ${field} must be > 0, got ${value}`);
  return value;
}
