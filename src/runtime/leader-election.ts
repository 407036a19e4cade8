import type { Gauge } from 'prom-client';
import type { Logger } from '../telemetry/logger.ts';
import { withJitter } from './backoff.ts';
import { systemClock, type Clock, type TimerHandle } from './clock.ts';

/** The leader-election fields of a coordination.k8s.io/v1 Lease spec; times are epoch ms. */
export interface LeaseRecord {
  /** Empty when released. */
  holderIdentity: string;
  leaseDurationSeconds: number;
  acquireTime: number | undefined;
  renewTime: number | undefined;
  leaseTransitions: number;
}

export interface ObservedLease {
  record: LeaseRecord;
  resourceVersion: string;
}

/**
 * Storage for one Lease. Implementations must make `update` conditional on the
 * resourceVersion (optimistic concurrency) and honour the signal.
 */
export interface LeaseStore {
  /** "namespace/name", for logs. */
  readonly description: string;
  /** Undefined when the Lease does not exist. */
  get(signal: AbortSignal): Promise<ObservedLease | undefined>;
  /** Fails if the Lease already exists. */
  create(record: LeaseRecord, signal: AbortSignal): Promise<ObservedLease>;
  /** Fails if the Lease's resourceVersion is no longer `resourceVersion`. */
  update(record: LeaseRecord, resourceVersion: string, signal: AbortSignal): Promise<ObservedLease>;
}

export type LeadershipLossReason =
  /** No successful renew within the renew deadline (API unreachable or failing). */
  | 'renew-deadline-exceeded'
  /** Another holder was found in the Lease. */
  | 'lease-taken'
  /** stop() was called. */
  | 'stopped';

export type ElectorState = 'created' | 'candidate' | 'leader' | 'lost' | 'stopped';

export interface LeaderElectionMetrics {
  readonly masterStatus: Gauge<'name'>;
}

export interface LeaderElectionOptions {
  /** Unique per replica, e.g. pod name plus a random suffix. */
  identity: string;
  store: LeaseStore;
  /** Metric label; usually the Lease name. */
  name: string;
  /** How long others wait after they last saw the Lease change before taking over. Default 15 s. */
  leaseDurationMs?: number;
  /** The leader gives up (self-fences) when it has not renewed for this long. Default 10 s. */
  renewDeadlineMs?: number;
  /** Pause between attempts. Default 2 s; candidates add up to 120 % jitter. */
  retryPeriodMs?: number;
  /** Hand the Lease back on stop() so a standby takes over without waiting. Default true. */
  releaseOnStop?: boolean;
  clock?: Clock;
  random?: () => number;
  metrics?: LeaderElectionMetrics;
  log?: Logger;
  /** Leadership began; `signal` aborts the moment it ends. */
  onStartedLeading?: (signal: AbortSignal) => void;
  /** Leadership ended: stop acting immediately. */
  onStoppedLeading?: (reason: LeadershipLossReason) => void;
  /** The observed holder changed (including to ourselves). */
  onNewLeader?: (identity: string) => void;
}

export interface ElectorHealth {
  state: ElectorState;
  /** The holder seen in the Lease at the last successful read or write. */
  observedLeader: string | undefined;
  /** When a Lease read or write last succeeded. */
  lastSuccessAt: number | undefined;
}

const candidateJitter = 1.2;

/**
 * Lease-based leader election after controller-runtime's defaults (15 s / 10 s / 2 s).
 *
 * Safety rests on two rules:
 * - another holder's Lease counts as expired only once it has not changed for a
 *   full lease duration as measured on OUR clock from when WE saw it change; the
 *   renewTime it carries (another machine's clock) is never compared with ours;
 * - the leader fences itself when no renew has succeeded within the renew deadline
 *   (measured from when the last successful attempt started), on a timer that fires
 *   even while API calls hang. Since renewDeadline < leaseDuration, it stops before
 *   anyone else can take over.
 *
 * Losing leadership is final for an elector: the caller stops its work (and, like
 * controller-runtime, should exit and let the replica restart as a candidate).
 */
export class LeaderElector {
  readonly #options: LeaderElectionOptions;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #leaseDurationMs: number;
  readonly #renewDeadlineMs: number;
  readonly #retryPeriodMs: number;

  #state: ElectorState = 'created';
  #observed: ObservedLease | undefined;
  /** Our clock when the observed record last changed. */
  #observedAt = 0;
  #lastSuccessAt: number | undefined;
  /** While leader: the moment we must consider ourselves deposed. */
  #fenceAt = 0;
  #fenceTimer: TimerHandle | undefined;
  #retryTimer: TimerHandle | undefined;
  #attempt: { abort: AbortController; done: Promise<void> } | undefined;
  #leadership: AbortController | undefined;
  #leadingWaiters: { resolve: (signal: AbortSignal) => void; reject: (error: Error) => void }[] = [];

  constructor(options: LeaderElectionOptions) {
    if (!options.identity) throw new Error('leader election: identity must not be empty');
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
    this.#leaseDurationMs = options.leaseDurationMs ?? 15_000;
    this.#renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.#retryPeriodMs = options.retryPeriodMs ?? 2_000;
    if (!(this.#leaseDurationMs > this.#renewDeadlineMs)) {
      throw new Error(
        `leader election: leaseDurationMs (${this.#leaseDurationMs}) must be greater than renewDeadlineMs (${this.#renewDeadlineMs})`,
      );
    }
    if (!(this.#renewDeadlineMs > candidateJitter * this.#retryPeriodMs) || !(this.#retryPeriodMs > 0)) {
      throw new Error(
        `leader election: renewDeadlineMs (${this.#renewDeadlineMs}) must exceed ${candidateJitter} x retryPeriodMs (${this.#retryPeriodMs}) > 0`,
      );
    }
    options.metrics?.masterStatus.set({ name: options.name }, 0);
  }

  /** Starts campaigning; returns at once. */
  start(): void {
    if (this.#state !== 'created') throw new Error(`leader election cannot start: it is ${this.#state}`);
    this.#state = 'candidate';
    this.#scheduleAttempt(0);
  }

  /** True only while leading and inside the renew deadline, checked against the clock at call time. */
  isLeader(): boolean {
    return this.#state === 'leader' && this.#clock.now() < this.#fenceAt;
  }

  get state(): ElectorState {
    return this.#state;
  }

  /** Resolves with the leadership signal once leading; rejects if the elector stops or loses first. */
  whenLeading(): Promise<AbortSignal> {
    if (this.#state === 'leader' && this.#leadership) return Promise.resolve(this.#leadership.signal);
    if (this.#state === 'lost' || this.#state === 'stopped') {
      return Promise.reject(new Error(`leader election ${this.#state}`));
    }
    return new Promise((resolve, reject) => this.#leadingWaiters.push({ resolve, reject }));
  }

  health(): ElectorHealth {
    return {
      state: this.#state,
      observedLeader: this.#observed?.record.holderIdentity || undefined,
      lastSuccessAt: this.#lastSuccessAt,
    };
  }

  /**
   * A standby is healthy while it can read the Lease; a leader while it holds it.
   * Used by /readyz.
   */
  isHealthy(): boolean {
    if (this.#state === 'leader') return this.isLeader();
    if (this.#state !== 'candidate') return false;
    return (
      this.#lastSuccessAt !== undefined && this.#clock.now() - this.#lastSuccessAt < this.#leaseDurationMs
    );
  }

  /**
   * Stops campaigning. A leader steps down (callbacks fire first) and, unless
   * releaseOnStop is false, hands the Lease back. Call it after your workers
   * stopped: the release lets a standby start at once.
   */
  async stop(): Promise<void> {
    if (this.#state === 'stopped' || this.#state === 'lost') {
      this.#state = 'stopped';
      return;
    }
    const wasLeader = this.isLeader();
    this.#retryTimer?.cancel();
    this.#fenceTimer?.cancel();
    const attempt = this.#attempt;
    attempt?.abort.abort(new Error('leader election stopping'));
    if (this.#state === 'leader') this.#endLeadership('stopped');
    this.#state = 'stopped';
    this.#rejectWaiters('leader election stopped');
    await attempt?.done;
    if (wasLeader && (this.#options.releaseOnStop ?? true)) await this.#release();
  }

  #scheduleAttempt(delayMs: number): void {
    this.#retryTimer = this.#clock.setTimer(() => {
      this.#retryTimer = undefined;
      void this.#runAttempt();
    }, delayMs);
  }

  async #runAttempt(): Promise<void> {
    if (this.#state !== 'candidate' && this.#state !== 'leader') return;
    const abort = new AbortController();
    const leading = this.#state === 'leader';
    // A leader's call may not outlive its fence; a candidate's may take up to the renew deadline.
    const budget = leading ? Math.max(0, this.#fenceAt - this.#clock.now()) : this.#renewDeadlineMs;
    const timeout = this.#clock.setTimer(() => abort.abort(new Error('lease request timed out')), budget);
    let finish = () => {};
    const done = new Promise<void>((resolve) => (finish = resolve));
    this.#attempt = { abort, done };
    try {
      await this.#tryAcquireOrRenew(abort.signal);
    } catch (error) {
      if (this.#state === 'candidate' || this.#state === 'leader') {
        this.#options.log?.warn(
          { lease: this.#options.store.description, err: error, leading },
          leading ? 'lease renew failed' : 'lease acquire failed',
        );
      }
    } finally {
      timeout.cancel();
      this.#attempt = undefined;
      finish();
    }
    if (this.#state === 'leader') this.#scheduleAttempt(this.#retryPeriodMs);
    else if (this.#state === 'candidate') {
      this.#scheduleAttempt(withJitter(this.#retryPeriodMs, candidateJitter, this.#random));
    }
  }

  async #tryAcquireOrRenew(signal: AbortSignal): Promise<void> {
    const { store, identity } = this.#options;
    const startedAt = this.#clock.now();
    // Fast path: the leader renews straight from its last write; a Conflict falls back to a read.
    if (this.#state === 'leader' && this.#observed) {
      try {
        const written = await store.update(
          this.#claim(this.#observed.record, startedAt),
          this.#observed.resourceVersion,
          signal,
        );
        this.#onWritten(written, startedAt);
        return;
      } catch (error) {
        if (signal.aborted || this.#state !== 'leader') throw error;
      }
    }
    const current = await store.get(signal);
    if (!this.#stillCampaigning()) return;
    this.#lastSuccessAt = this.#clock.now();
    if (!current) {
      const created = await store.create(this.#claim(undefined, startedAt), signal);
      this.#onWritten(created, startedAt);
      return;
    }
    this.#observe(current);
    const holder = current.record.holderIdentity;
    if (holder && holder !== identity) {
      if (this.#state === 'leader') {
        this.#loseLeadership('lease-taken');
        return;
      }
      const expiresAt = this.#observedAt + current.record.leaseDurationSeconds * 1000;
      if (this.#clock.now() < expiresAt) return;
    }
    const written = await store.update(
      this.#claim(current.record, startedAt),
      current.resourceVersion,
      signal,
    );
    this.#onWritten(written, startedAt);
  }

  /** The record that makes us the holder, renewed at `now`. */
  #claim(previous: LeaseRecord | undefined, now: number): LeaseRecord {
    const ours = previous?.holderIdentity === this.#options.identity;
    return {
      holderIdentity: this.#options.identity,
      leaseDurationSeconds: Math.ceil(this.#leaseDurationMs / 1000),
      acquireTime: ours ? previous.acquireTime : now,
      renewTime: now,
      leaseTransitions: previous ? previous.leaseTransitions + (ours ? 0 : 1) : 0,
    };
  }

  #stillCampaigning(): boolean {
    return this.#state === 'candidate' || this.#state === 'leader';
  }

  /** A write of ours succeeded; it counts only if we are still campaigning (a late answer after a fence does not). */
  #onWritten(written: ObservedLease, startedAt: number): void {
    if (!this.#stillCampaigning()) return;
    this.#lastSuccessAt = this.#clock.now();
    this.#observe(written);
    this.#fenceAt = startedAt + this.#renewDeadlineMs;
    this.#armFence();
    if (this.#state === 'candidate') this.#becomeLeader();
  }

  /** Timers may fire a little early against the clock: re-arm for the remainder instead of skipping the fence. */
  #armFence(): void {
    this.#fenceTimer?.cancel();
    this.#fenceTimer = this.#clock.setTimer(() => {
      if (this.#state !== 'leader') return;
      if (this.#clock.now() >= this.#fenceAt) this.#loseLeadership('renew-deadline-exceeded');
      else this.#armFence();
    }, this.#fenceAt - this.#clock.now());
  }

  #observe(lease: ObservedLease): void {
    const previous = this.#observed?.record;
    if (!previous || !sameRecord(previous, lease.record)) {
      this.#observedAt = this.#clock.now();
      if (lease.record.holderIdentity && lease.record.holderIdentity !== previous?.holderIdentity) {
        this.#safely(() => this.#options.onNewLeader?.(lease.record.holderIdentity));
      }
    }
    this.#observed = lease;
  }

  #becomeLeader(): void {
    this.#state = 'leader';
    this.#leadership = new AbortController();
    const signal = this.#leadership.signal;
    this.#options.metrics?.masterStatus.set({ name: this.#options.name }, 1);
    this.#options.log?.info(
      { lease: this.#options.store.description, identity: this.#options.identity },
      'became leader',
    );
    this.#safely(() => this.#options.onStartedLeading?.(signal));
    const waiters = this.#leadingWaiters;
    this.#leadingWaiters = [];
    for (const waiter of waiters) waiter.resolve(signal);
  }

  #loseLeadership(reason: Exclude<LeadershipLossReason, 'stopped'>): void {
    this.#state = 'lost';
    this.#retryTimer?.cancel();
    this.#fenceTimer?.cancel();
    this.#attempt?.abort.abort(new Error(`leadership lost: ${reason}`));
    this.#endLeadership(reason);
    this.#rejectWaiters(`leader election lost: ${reason}`);
  }

  /** Everything that must happen the instant leadership ends, before any await. */
  #endLeadership(reason: LeadershipLossReason): void {
    this.#fenceAt = 0;
    this.#options.metrics?.masterStatus.set({ name: this.#options.name }, 0);
    this.#leadership?.abort(new Error(`leadership ended: ${reason}`));
    this.#leadership = undefined;
    const level = reason === 'stopped' ? 'info' : 'error';
    this.#options.log?.[level]({ lease: this.#options.store.description, reason }, 'leadership ended');
    this.#safely(() => this.#options.onStoppedLeading?.(reason));
  }

  #rejectWaiters(message: string): void {
    const waiters = this.#leadingWaiters;
    this.#leadingWaiters = [];
    for (const waiter of waiters) waiter.reject(new Error(message));
  }

  /** Hands the Lease back: an empty holder that any candidate may take at once. */
  async #release(): Promise<void> {
    const observed = this.#observed;
    if (!observed || observed.record.holderIdentity !== this.#options.identity) return;
    const now = this.#clock.now();
    const released: LeaseRecord = {
      holderIdentity: '',
      leaseDurationSeconds: 1,
      acquireTime: now,
      renewTime: now,
      leaseTransitions: observed.record.leaseTransitions,
    };
    const abort = new AbortController();
    const timeout = this.#clock.setTimer(
      () => abort.abort(new Error('lease release timed out')),
      this.#renewDeadlineMs,
    );
    try {
      await this.#options.store.update(released, observed.resourceVersion, abort.signal);
      this.#options.log?.info({ lease: this.#options.store.description }, 'lease released');
    } catch (error) {
      // Someone else wrote it first, or the API is down: the lease then expires on its own.
      this.#options.log?.warn({ lease: this.#options.store.description, err: error }, 'lease release failed');
    } finally {
      timeout.cancel();
    }
  }

  #safely(callback: () => void): void {
    try {
      callback();
    } catch (error) {
      this.#options.log?.error({ err: error }, 'leader election callback failed');
    }
  }
}

function sameRecord(a: LeaseRecord, b: LeaseRecord): boolean {
  return (
    a.holderIdentity === b.holderIdentity &&
    a.leaseDurationSeconds === b.leaseDurationSeconds &&
    a.acquireTime === b.acquireTime &&
    a.renewTime === b.renewTime &&
    a.leaseTransitions === b.leaseTransitions
  );
}
