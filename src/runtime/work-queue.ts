import type { Counter, Gauge, Histogram } from 'prom-client';
import { assertBackoffPolicy, controllerBackoff, KeyedBackoff, type BackoffPolicy } from './backoff.ts';
import { systemClock, type Clock, type TimerHandle } from './clock.ts';

/**
 * What a handler asks for after a successful run. `requeueAfterMs` schedules the
 * key again (the analysis interval); leaving it out means "done until something changes".
 */
export interface WorkResult {
  requeueAfterMs?: number;
}

/**
 * Processes one key. Throwing schedules a rate-limited retry. The signal aborts
 * when the queue is stopped without draining (shutdown or lost leadership).
 */
export type WorkHandler = (key: string, signal: AbortSignal) => Promise<WorkResult | void>;

export interface InFlightSnapshot {
  /** Sum of the ages of all in-flight items, in seconds. */
  unfinishedSeconds: number;
  /** Age of the oldest in-flight item, in seconds. */
  longestRunningSeconds: number;
}

/** prom-client objects the queue reports into; every series is labelled with the queue name. */
export interface WorkQueueMetrics {
  readonly depth: Gauge<'name'>;
  readonly adds: Counter<'name'>;
  readonly retries: Counter<'name'>;
  readonly queueDuration: Histogram<'name'>;
  readonly workDuration: Histogram<'name'>;
  /** Registers a probe read at scrape time for the in-flight gauges. */
  readonly trackInFlight: (queueName: string, probe: () => InFlightSnapshot) => void;
}

/** Reconcile outcome metrics, in controller-runtime's shape. */
export interface ReconcileMetrics {
  readonly total: Counter<'result'>;
  readonly errors: Counter;
  readonly time: Histogram;
}

/** Wraps a handler so each run is counted as success, requeue_after or error, and timed. */
export function instrumentHandler(
  handler: WorkHandler,
  metrics: ReconcileMetrics,
  clock: Clock = systemClock,
): WorkHandler {
  return async (key, signal) => {
    const startedAt = clock.now();
    try {
      const result = await handler(key, signal);
      metrics.total.inc({ result: result?.requeueAfterMs === undefined ? 'success' : 'requeue_after' });
      return result;
    } catch (error) {
      metrics.total.inc({ result: 'error' });
      metrics.errors.inc();
      throw error;
    } finally {
      metrics.time.observe((clock.now() - startedAt) / 1000);
    }
  };
}

export interface WorkQueueOptions {
  /** Metric label and log name, e.g. "canary". */
  name: string;
  handler: WorkHandler;
  /** Keys processed at the same time (different keys only). Default 1. */
  workers?: number;
  /** Per-key retry back-off after failures. Default 5 ms doubling to 1000 s. */
  backoff?: BackoffPolicy;
  clock?: Clock;
  metrics?: WorkQueueMetrics;
  /** Told about every failed run and when it will be retried (undefined: not retried, queue shutting down). */
  onError?: (key: string, error: unknown, retryInMs: number | undefined) => void;
}

export interface ShutdownOptions {
  /** true: finish everything already queued first; false: start nothing new and abort in-flight work. */
  drain: boolean;
}

type QueueState = 'created' | 'running' | 'draining' | 'stopped';

interface DelayedAdd {
  dueAt: number;
  timer: TimerHandle;
}

/**
 * A keyed work queue in the style of client-go/controller-runtime:
 * - a key queued several times is processed once (de-duplication);
 * - a key is never processed by two workers at once; adds that arrive while it
 *   runs are held back and queued when the run finishes;
 * - failures are retried with per-key exponential back-off, reset on success;
 * - `addAfter` schedules a key later, and the earliest pending schedule wins.
 */
export class WorkQueue {
  readonly name: string;
  readonly #handler: WorkHandler;
  readonly #workers: number;
  readonly #clock: Clock;
  readonly #metrics: WorkQueueMetrics | undefined;
  readonly #onError: WorkQueueOptions['onError'];
  readonly #backoff: KeyedBackoff;
  readonly #abort = new AbortController();

  /** Ready keys in FIFO order; each also appears in #dirty. */
  #ready: string[] = [];
  /** Keys waiting to be processed, with the time they became ready (for queue latency). */
  readonly #dirty = new Map<string, number>();
  /** Keys being processed, with the time their run started. */
  readonly #processing = new Map<string, number>();
  readonly #delayed = new Map<string, DelayedAdd>();
  #state: QueueState = 'created';
  #idleWaiters: (() => void)[] = [];

  constructor(options: WorkQueueOptions) {
    const workers = options.workers ?? 1;
    if (!Number.isInteger(workers) || workers < 1) {
      throw new Error(`work queue "${options.name}": workers must be a positive integer, got ${workers}`);
    }
    const backoff = options.backoff ?? controllerBackoff;
    assertBackoffPolicy(backoff, `work queue "${options.name}"`);
    this.name = options.name;
    this.#handler = options.handler;
    this.#workers = workers;
    this.#clock = options.clock ?? systemClock;
    this.#metrics = options.metrics;
    this.#onError = options.onError;
    this.#backoff = new KeyedBackoff(backoff);
    this.#metrics?.trackInFlight(this.name, () => this.inFlight());
    this.#metrics?.depth.set({ name: this.name }, 0);
    // Counters exist at 0 from the start, so rate() and increase() see their first increment.
    this.#metrics?.adds.inc({ name: this.name }, 0);
    this.#metrics?.retries.inc({ name: this.name }, 0);
  }

  /** Starts the workers. Keys added before start are processed now. */
  start(): void {
    if (this.#state !== 'created') {
      throw new Error(`work queue "${this.name}" cannot start: it is ${this.#state}`);
    }
    this.#state = 'running';
    this.#pump();
  }

  /** Queues `key` now. Ignored once shutdown has begun. */
  add(key: string): void {
    if (!this.#accepting()) return;
    this.#metrics?.adds.inc({ name: this.name });
    if (this.#dirty.has(key)) return;
    this.#dirty.set(key, this.#clock.now());
    if (!this.#processing.has(key)) {
      this.#ready.push(key);
      this.#reportDepth();
    }
    this.#pump();
  }

  /** Queues `key` after `delayMs`; if the key is already scheduled earlier, that schedule stands. */
  addAfter(key: string, delayMs: number): void {
    if (!this.#accepting()) return;
    if (!(delayMs > 0)) {
      this.add(key);
      return;
    }
    const dueAt = this.#clock.now() + delayMs;
    const existing = this.#delayed.get(key);
    if (existing && existing.dueAt <= dueAt) return;
    existing?.timer.cancel();
    const timer = this.#clock.setTimer(() => {
      this.#delayed.delete(key);
      this.add(key);
    }, delayMs);
    this.#delayed.set(key, { dueAt, timer });
  }

  /** Retries `key` after its next back-off delay and returns that delay. */
  addRateLimited(key: string): number {
    const delay = this.#backoff.nextDelay(key);
    if (this.#accepting()) this.#metrics?.retries.inc({ name: this.name });
    this.addAfter(key, delay);
    return delay;
  }

  /** Resets the back-off of `key` (done automatically after a successful run). */
  forget(key: string): void {
    this.#backoff.forget(key);
  }

  /** Failed runs of `key` since its last success. */
  failures(key: string): number {
    return this.#backoff.failures(key);
  }

  /** Keys ready to run (not counting keys held back behind their own in-flight run). */
  get depth(): number {
    return this.#ready.length;
  }

  isProcessing(key: string): boolean {
    return this.#processing.has(key);
  }

  /** When `key` is next scheduled by addAfter/back-off, as epoch ms. */
  scheduledAt(key: string): number | undefined {
    return this.#delayed.get(key)?.dueAt;
  }

  inFlight(): InFlightSnapshot {
    const now = this.#clock.now();
    let unfinishedSeconds = 0;
    let longestRunningSeconds = 0;
    for (const startedAt of this.#processing.values()) {
      const age = (now - startedAt) / 1000;
      unfinishedSeconds += age;
      longestRunningSeconds = Math.max(longestRunningSeconds, age);
    }
    return { unfinishedSeconds, longestRunningSeconds };
  }

  /**
   * Stops accepting keys and drops scheduled ones. With drain, queued keys still
   * run; without, nothing new starts and in-flight handlers see their signal abort.
   * Resolves once no handler is running (and, when draining, nothing is queued).
   */
  shutdown(options: ShutdownOptions): Promise<void> {
    if (this.#state === 'stopped' || !options.drain) {
      this.#state = 'stopped';
      this.#ready = [];
      this.#dirty.clear();
      this.#reportDepth();
      this.#abort.abort(new Error(`work queue "${this.name}" stopped`));
    } else {
      this.#state = 'draining';
      this.#pump();
    }
    for (const { timer } of this.#delayed.values()) timer.cancel();
    this.#delayed.clear();
    const idle = new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
    this.#notifyIfIdle();
    return idle;
  }

  #accepting(): boolean {
    return this.#state === 'created' || this.#state === 'running';
  }

  #pump(): void {
    if (this.#state !== 'running' && this.#state !== 'draining') return;
    while (this.#processing.size < this.#workers && this.#ready.length > 0) {
      const key = this.#ready.shift() as string;
      const readySince = this.#dirty.get(key) ?? this.#clock.now();
      this.#dirty.delete(key);
      const startedAt = this.#clock.now();
      this.#processing.set(key, startedAt);
      this.#reportDepth();
      this.#metrics?.queueDuration.observe({ name: this.name }, (startedAt - readySince) / 1000);
      void this.#run(key, startedAt);
    }
  }

  async #run(key: string, startedAt: number): Promise<void> {
    let result: WorkResult | void = undefined;
    let failure: { error: unknown } | undefined;
    try {
      result = await this.#handler(key, this.#abort.signal);
    } catch (error) {
      failure = { error };
    }
    this.#processing.delete(key);
    this.#metrics?.workDuration.observe({ name: this.name }, (this.#clock.now() - startedAt) / 1000);
    if (failure) {
      const retryIn = this.#accepting() ? this.addRateLimited(key) : undefined;
      this.#onError?.(key, failure.error, retryIn);
    } else {
      this.#backoff.forget(key);
      if (result?.requeueAfterMs !== undefined) this.addAfter(key, result.requeueAfterMs);
    }
    // An add that arrived during the run was held back; it is ready now.
    if (this.#dirty.has(key)) {
      this.#ready.push(key);
      this.#reportDepth();
    }
    this.#pump();
    this.#notifyIfIdle();
  }

  #reportDepth(): void {
    this.#metrics?.depth.set({ name: this.name }, this.#ready.length);
  }

  #notifyIfIdle(): void {
    if (this.#accepting() || this.#processing.size > 0) return;
    if (this.#state === 'draining' && this.#ready.length > 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
