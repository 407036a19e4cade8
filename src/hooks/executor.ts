import type { Counter, Gauge, Histogram } from 'prom-client';
import { systemClock, type Clock, type TimerHandle } from '../runtime/clock.ts';
import { Handover } from '../runtime/handover.ts';
import type { Logger } from '../telemetry/logger.ts';

// Runs slow I/O the engine asked for (webhooks, metric queries) off the
// reconcile path. A reconcile requests a task by a deterministic id and moves
// on; when the task settles the canary is re-enqueued, and a later reconcile
// reads the result. In memory only: after a restart the engine asks for the
// same ids again and they run again, finding what the stopped run left behind.

/** A task's end, in Promise.allSettled's shape: a task that throws still settles. */
export type TaskOutcome<T> = { status: 'fulfilled'; value: T } | { status: 'rejected'; reason: unknown };

export type TaskState = 'queued' | 'running' | 'settled';

/**
 * The signal aborts when the task is forgotten or the executor shuts down (then with a Handover
 * reason); tasks must honour it.
 */
export type Task<T> = (signal: AbortSignal) => Promise<T>;

/** prom-client objects the executor reports into; every series is labelled with the executor name. */
export interface TaskExecutorMetrics {
  readonly started: Counter<'executor'>;
  /** outcome: fulfilled, rejected, or cancelled (forgotten or shut down while running). */
  readonly finished: Counter<'executor' | 'outcome'>;
  readonly running: Gauge<'executor'>;
  /** Seconds between request and start. */
  readonly queueWait: Histogram<'executor'>;
}

export interface TaskExecutorOptions {
  /** Metric label and log name, e.g. "webhooks" or "metrics". */
  readonly name: string;
  /** Tasks running at once, across all canaries. */
  readonly concurrency: number;
  /** Tasks one canary may run at once; default: concurrency. Lower it to keep room for others. */
  readonly perKeyConcurrency?: number;
  /** How long a settled result is kept for its canary to read it. */
  readonly resultTtlMs: number;
  /** Called once per settled task with its key; the controller re-enqueues that canary. */
  readonly onSettled: (key: string) => void;
  readonly logger: Logger;
  readonly clock?: Clock;
  readonly metrics?: TaskExecutorMetrics;
}

interface Entry<T> {
  readonly key: string;
  readonly id: string;
  readonly task: Task<T>;
  readonly requestedAt: number;
  state: TaskState;
  abort?: AbortController;
  outcome?: TaskOutcome<T>;
  expiry?: TimerHandle;
}

interface KeyQueues<T> {
  readonly queued: Entry<T>[];
  running: number;
  /** When this key last got a slot (a dispatch counter; 0 = never): ties go to the longest unserved. */
  servedAt: number;
}

/**
 * Runs tasks keyed by (canary key, id):
 * - a task runs once per id: requests while it is queued, running or settled are no-ops;
 * - at most `concurrency` tasks run at once; a freed slot goes to the canary with the fewest
 *   running tasks (ties: the one waiting longest), so a canary with many slow hooks delays
 *   others by at most one task, never starves them;
 * - results stay readable for `resultTtlMs`, or until the canary forgets them.
 */
export class TaskExecutor<T> {
  readonly name: string;
  readonly #concurrency: number;
  readonly #perKeyConcurrency: number;
  readonly #ttlMs: number;
  readonly #onSettled: (key: string) => void;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #metrics: TaskExecutorMetrics | undefined;

  /** Entries by key, then id. */
  readonly #entries = new Map<string, Map<string, Entry<T>>>();
  /** Queues of keys with queued or running entries, in the order they first asked. */
  readonly #keys = new Map<string, KeyQueues<T>>();
  #running = 0;
  #dispatches = 0;
  readonly #inFlight = new Set<Promise<void>>();
  #stopped = false;

  constructor(options: TaskExecutorOptions) {
    this.name = options.name;
    this.#concurrency = positiveInteger(options.concurrency, 'concurrency', options.name);
    this.#perKeyConcurrency = positiveInteger(
      options.perKeyConcurrency ?? options.concurrency,
      'perKeyConcurrency',
      options.name,
    );
    if (!(options.resultTtlMs > 0)) {
      throw new Error(
        `task executor "${options.name}": resultTtlMs must be positive, got ${options.resultTtlMs}`,
      );
    }
    this.#ttlMs = options.resultTtlMs;
    this.#onSettled = options.onSettled;
    this.#logger = options.logger;
    this.#clock = options.clock ?? systemClock;
    this.#metrics = options.metrics;
    this.#metrics?.running.set({ executor: this.name }, 0);
  }

  /**
   * Starts `task` for `id` unless that id is already queued, running or settled for `key`.
   * Returns the id's state after the call.
   */
  request(key: string, id: string, task: Task<T>): TaskState {
    if (this.#stopped)
      throw new Error(`task executor "${this.name}" is shut down: cannot run ${id} for ${key}`);
    const existing = this.#entries.get(key)?.get(id);
    if (existing) return existing.state;

    const entry: Entry<T> = { key, id, task, requestedAt: this.#clock.now(), state: 'queued' };
    let ids = this.#entries.get(key);
    if (!ids) this.#entries.set(key, (ids = new Map()));
    ids.set(id, entry);
    let queues = this.#keys.get(key);
    if (!queues) this.#keys.set(key, (queues = { queued: [], running: 0, servedAt: 0 }));
    queues.queued.push(entry);
    this.#dispatch();
    return entry.state;
  }

  /** The settled outcome of `id`, or undefined while it is queued or running (or unknown). */
  result(key: string, id: string): TaskOutcome<T> | undefined {
    return this.#entries.get(key)?.get(id)?.outcome;
  }

  state(key: string, id: string): TaskState | undefined {
    return this.#entries.get(key)?.get(id)?.state;
  }

  /**
   * Drops every entry of `key` whose id is not in `keep`: queued ones never start, running ones
   * are aborted (their outcome is discarded), results are deleted. `forget(key)` drops them all
   * (the canary was deleted).
   */
  forget(key: string, keep: Iterable<string> = []): void {
    const ids = this.#entries.get(key);
    if (!ids) return;
    const kept = new Set(keep);
    for (const [id, entry] of ids) {
      if (!kept.has(id)) this.#drop(entry);
    }
    const queues = this.#keys.get(key);
    if (queues) {
      queues.queued.splice(0, queues.queued.length, ...queues.queued.filter((entry) => kept.has(entry.id)));
    }
    this.#cleanupKey(key);
  }

  /**
   * Stops for good (shutdown or lost leadership): queued tasks never start, running ones are
   * aborted, and onSettled is no longer called. Resolves once every running task has ended.
   */
  async shutdown(): Promise<void> {
    this.#stopped = true;
    for (const ids of this.#entries.values()) {
      for (const entry of ids.values()) {
        this.#drop(entry, new Handover(`task ${entry.id} of ${entry.key} stopped with the operator`));
      }
    }
    this.#entries.clear();
    this.#keys.clear();
    await Promise.all(this.#inFlight);
  }

  /** Tasks running now, across all keys. */
  get running(): number {
    return this.#running;
  }

  #dispatch(): void {
    while (!this.#stopped && this.#running < this.#concurrency) {
      const queues = this.#nextKey();
      if (!queues) return;
      const entry = queues.queued.shift() as Entry<T>;
      this.#start(entry, queues);
    }
  }

  /**
   * The waiting key with the fewest running tasks; ties go to the key served longest ago, so
   * equally loaded keys take turns.
   */
  #nextKey(): KeyQueues<T> | undefined {
    let chosen: KeyQueues<T> | undefined;
    for (const queues of this.#keys.values()) {
      if (queues.queued.length === 0 || queues.running >= this.#perKeyConcurrency) continue;
      if (
        !chosen ||
        queues.running < chosen.running ||
        (queues.running === chosen.running && queues.servedAt < chosen.servedAt)
      ) {
        chosen = queues;
      }
    }
    if (chosen) chosen.servedAt = ++this.#dispatches;
    return chosen;
  }

  #start(entry: Entry<T>, queues: KeyQueues<T>): void {
    const abort = new AbortController();
    entry.state = 'running';
    entry.abort = abort;
    queues.running++;
    this.#running++;
    const labels = { executor: this.name };
    this.#metrics?.started.inc(labels);
    this.#metrics?.running.set(labels, this.#running);
    this.#metrics?.queueWait.observe(labels, Math.max(0, this.#clock.now() - entry.requestedAt) / 1000);

    const run = (async (): Promise<TaskOutcome<T>> => {
      try {
        return { status: 'fulfilled', value: await entry.task(abort.signal) };
      } catch (reason) {
        return { status: 'rejected', reason };
      }
    })().then((outcome) => {
      queues.running--;
      this.#running--;
      this.#metrics?.running.set(labels, this.#running);
      const cancelled = abort.signal.aborted;
      this.#metrics?.finished.inc({ ...labels, outcome: cancelled ? 'cancelled' : outcome.status });
      if (!cancelled) this.#settle(entry, outcome);
      this.#cleanupKey(entry.key);
      this.#dispatch();
    });
    this.#inFlight.add(run);
    void run.finally(() => this.#inFlight.delete(run));
  }

  #settle(entry: Entry<T>, outcome: TaskOutcome<T>): void {
    entry.state = 'settled';
    entry.outcome = outcome;
    if (outcome.status === 'rejected') {
      this.#logger.warn(
        { executor: this.name, key: entry.key, id: entry.id, err: outcome.reason },
        'task failed',
      );
    }
    entry.expiry = this.#clock.setTimer(() => {
      this.#remove(entry);
      this.#cleanupKey(entry.key);
    }, this.#ttlMs);
    try {
      this.#onSettled(entry.key);
    } catch (error) {
      this.#logger.error({ executor: this.name, key: entry.key, err: error }, 'onSettled callback threw');
    }
  }

  #drop(entry: Entry<T>, reason = new Error(`task ${entry.id} of ${entry.key} is no longer needed`)): void {
    entry.abort?.abort(reason);
    entry.expiry?.cancel();
    this.#remove(entry);
  }

  #remove(entry: Entry<T>): void {
    const ids = this.#entries.get(entry.key);
    // The id may have been requested again since: leave the newer entry alone.
    if (ids?.get(entry.id) === entry) ids.delete(entry.id);
  }

  /** Forgets a key's bookkeeping once nothing of it is left. */
  #cleanupKey(key: string): void {
    const ids = this.#entries.get(key);
    if (ids && ids.size === 0) this.#entries.delete(key);
    const queues = this.#keys.get(key);
    if (queues && queues.queued.length === 0 && queues.running === 0) this.#keys.delete(key);
  }
}

function positiveInteger(value: number, field: string, name: string): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`task executor "${name}": ${field} must be a positive integer, got ${value}`);
  }
  return value;
}
