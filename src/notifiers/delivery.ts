import { setTimeout as sleepFor } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { AlertProviderType } from '../api/index.ts';
import type { ResolvedProvider } from './config.ts';
import type { AlertProviderDriver } from './driver.ts';
import { truncate } from './format.ts';
import { compareSeverity, type AlertMessage } from './message.ts';
import type { AlertMetrics, FailureReason } from './metrics.ts';
import { parseRetryAfter } from '../runtime/backoff.ts';
import { driverFor } from './providers.ts';
import {
  createHttpTransport,
  redactSecrets,
  type AlertTransport,
  type TransportRequest,
  type TransportResponse,
} from './transport.ts';
import { knownSecrets } from '../telemetry/secrets.ts';

// In-process alert delivery. Reconciles hand alerts over with enqueue(), which returns at once
// and never throws: a slow or dead chat service must never hold up or change a rollout. Each
// destination has its own serial queue, so messages arrive in the order they happened and a
// dead destination only delays itself.

export interface AlertDispatcherOptions {
  logger: Logger;
  metrics?: AlertMetrics;
  transport?: AlertTransport;
  /** Milliseconds since the epoch. */
  now?: () => number;
  /** Must reject when `signal` aborts, so close() can interrupt a back-off. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** In [0, 1); spreads retries of many operators hitting the same service. */
  random?: () => number;
  /** Attempts per message, first one included. Default 5. */
  maxAttempts?: number;
  /** First back-off; doubles per attempt up to maxBackoffMs. Defaults 1 s and 60 s. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** A 429 asking for a longer wait than this fails the message instead. Default 5 min. */
  maxRetryAfterMs?: number;
  /** Spacing between posts to one destination (Slack allows about one per second). Default 1 s. */
  minIntervalMs?: number;
  /** An identical alert to the same destination within this window is suppressed. Default 10 min. */
  dedupWindowMs?: number;
  /** Pending alerts per destination before the least important one is dropped. Default 100. */
  maxQueuePerDestination?: number;
  /** Per HTTP request. Default 10 s. */
  requestTimeoutMs?: number;
  /** Called once per alert given up on, e.g. to record a Warning event; the text is redacted. */
  onDeliveryFailed?: (failure: DeliveryFailure) => void;
}

export interface DeliveryFailure {
  destination: string;
  provider: AlertProviderType;
  kind: AlertMessage['kind'];
  canary: string;
  namespace: string;
  reason: FailureReason;
  /** Never contains the webhook URL, token or proxy. */
  message: string;
}

export interface DispatcherStats {
  queued: number;
  sent: number;
  failed: number;
  retried: number;
  dropped: number;
  deduplicated: number;
}

interface Job {
  message: AlertMessage;
  provider: ResolvedProvider;
  driver: AlertProviderDriver;
  request: TransportRequest;
}

interface Destination {
  queue: Job[];
  draining: boolean;
  lastAttemptAt?: number;
}

type Outcome =
  | { result: 'sent' }
  | { result: 'failed'; reason: FailureReason; detail: string }
  | { result: 'retry'; detail: string; retryAfterMs?: number };

/** Exponential back-off with "equal jitter": half fixed, half random, so retries spread out. */
export function backoffDelay(attempt: number, initialMs: number, maxMs: number, random: number): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + (ceiling / 2) * random);
}

const defaults = {
  maxAttempts: 5,
  initialBackoffMs: 1000,
  maxBackoffMs: 60_000,
  maxRetryAfterMs: 5 * 60_000,
  minIntervalMs: 1000,
  dedupWindowMs: 10 * 60_000,
  maxQueuePerDestination: 100,
  requestTimeoutMs: 10_000,
};

function dedupKey(message: AlertMessage, provider: ResolvedProvider): string {
  return [
    provider.id,
    message.cluster,
    message.namespace,
    message.canary,
    message.kind,
    message.revision,
    message.run,
    message.step,
    message.phase,
  ].join('\u0000');
}

function logContext(job: Pick<Job, 'message' | 'provider'>) {
  return {
    destination: job.provider.id,
    provider: job.provider.type,
    alert: job.message.kind,
    severity: job.message.severity,
    canary: `${job.message.namespace}/${job.message.canary}`,
  };
}

export class AlertDispatcher {
  readonly #logger: Logger;
  readonly #metrics: AlertMetrics | undefined;
  readonly #transport: AlertTransport;
  readonly #now: () => number;
  readonly #sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  readonly #random: () => number;
  readonly #settings: typeof defaults;
  readonly #onDeliveryFailed: ((failure: DeliveryFailure) => void) | undefined;
  readonly #destinations = new Map<string, Destination>();
  /** Insertion-ordered, so expired keys are always at the front. */
  readonly #recent = new Map<string, number>();
  readonly #drains = new Set<Promise<void>>();
  readonly #abort = new AbortController();
  readonly #stats: Omit<DispatcherStats, 'queued'> = {
    sent: 0,
    failed: 0,
    retried: 0,
    dropped: 0,
    deduplicated: 0,
  };

  constructor(options: AlertDispatcherOptions) {
    this.#logger = options.logger;
    this.#metrics = options.metrics;
    this.#transport = options.transport ?? createHttpTransport();
    this.#now = options.now ?? Date.now;
    this.#sleep = options.sleep ?? ((ms, signal) => sleepFor(ms, undefined, { signal }));
    this.#random = options.random ?? Math.random;
    this.#onDeliveryFailed = options.onDeliveryFailed;
    this.#settings = {
      maxAttempts: options.maxAttempts ?? defaults.maxAttempts,
      initialBackoffMs: options.initialBackoffMs ?? defaults.initialBackoffMs,
      maxBackoffMs: options.maxBackoffMs ?? defaults.maxBackoffMs,
      maxRetryAfterMs: options.maxRetryAfterMs ?? defaults.maxRetryAfterMs,
      minIntervalMs: options.minIntervalMs ?? defaults.minIntervalMs,
      dedupWindowMs: options.dedupWindowMs ?? defaults.dedupWindowMs,
      maxQueuePerDestination: options.maxQueuePerDestination ?? defaults.maxQueuePerDestination,
      requestTimeoutMs: options.requestTimeoutMs ?? defaults.requestTimeoutMs,
    };
  }

  /** Queues `message` for each recipient and returns immediately. Never throws. */
  enqueue(message: AlertMessage, recipients: readonly ResolvedProvider[]): void {
    // An alert quotes failed checks, and a check's message may echo what an endpoint was sent.
    const redacted = knownSecrets.redactDeep(message);
    for (const provider of recipients) {
      try {
        this.#enqueueOne(redacted, provider);
      } catch (error) {
        // Only building the payload can throw here; report it like any other failed delivery.
        const detail = error instanceof Error ? error.message : String(error);
        try {
          this.#fail({ message, provider }, 'invalid', `could not build the message: ${detail}`);
        } catch {
          // A throwing logger or metrics registry still must not reach the reconcile.
        }
      }
    }
  }

  /** Resolves once every queue is empty and nothing is in flight. */
  async idle(): Promise<void> {
    while (this.#drains.size > 0) await Promise.all(this.#drains);
  }

  /** Stops accepting alerts, interrupts back-offs and in-flight requests, drops what is queued. */
  async close(): Promise<void> {
    this.#abort.abort();
    await this.idle();
    for (const destination of this.#destinations.values()) {
      for (const job of destination.queue.splice(0)) this.#drop(job, 'the dispatcher is closing');
    }
  }

  stats(): DispatcherStats {
    let queued = 0;
    for (const destination of this.#destinations.values()) queued += destination.queue.length;
    return { queued, ...this.#stats };
  }

  #enqueueOne(message: AlertMessage, provider: ResolvedProvider): void {
    if (this.#abort.signal.aborted) {
      this.#drop({ message, provider }, 'the dispatcher is closed');
      return;
    }
    const now = this.#now();
    this.#forgetBefore(now - this.#settings.dedupWindowMs);
    const key = dedupKey(message, provider);
    if (this.#recent.has(key)) {
      this.#stats.deduplicated += 1;
      this.#metrics?.deduplicated.inc({ provider: provider.type });
      this.#logger.debug(logContext({ message, provider }), 'alert suppressed as a repeat');
      return;
    }
    const driver = driverFor(provider.type);
    const built = driver.build(message, provider);
    this.#recent.set(key, now);
    const job: Job = {
      message,
      provider,
      driver,
      request: {
        url: built.url,
        headers: built.headers,
        body: JSON.stringify(built.body),
        timeoutMs: this.#settings.requestTimeoutMs,
        ...(provider.proxy !== undefined && { proxy: provider.proxy }),
      },
    };
    const destination = this.#destination(provider.id);
    if (destination.queue.length >= this.#settings.maxQueuePerDestination) {
      this.#makeRoom(destination, job);
    } else {
      destination.queue.push(job);
    }
    this.#startDrain(destination);
  }

  #forgetBefore(cutoff: number): void {
    for (const [key, seenAt] of this.#recent) {
      if (seenAt > cutoff) break;
      this.#recent.delete(key);
    }
  }

  #destination(id: string): Destination {
    let destination = this.#destinations.get(id);
    if (destination === undefined) {
      destination = { queue: [], draining: false };
      this.#destinations.set(id, destination);
    }
    return destination;
  }

  // A full queue means the destination has been failing for a while; keep the alerts that matter
  // most (a rollback over a step advance), and among equals the newest.
  #makeRoom(destination: Destination, incoming: Job): void {
    let victim = 0;
    destination.queue.forEach((job, index) => {
      const current = destination.queue[victim];
      if (current && compareSeverity(job.message.severity, current.message.severity) < 0) victim = index;
    });
    const candidate = destination.queue[victim];
    if (candidate && compareSeverity(candidate.message.severity, incoming.message.severity) <= 0) {
      destination.queue.splice(victim, 1);
      destination.queue.push(incoming);
      this.#drop(candidate, 'the destination queue is full');
    } else {
      this.#drop(incoming, 'the destination queue is full');
    }
  }

  #startDrain(destination: Destination): void {
    if (destination.draining) return;
    destination.draining = true;
    // Deferred, so not even the first request's setup runs on the caller's stack.
    const drain = Promise.resolve()
      .then(async () => {
        for (let job = destination.queue.shift(); job; job = destination.queue.shift()) {
          await this.#deliver(destination, job);
        }
      })
      .catch((error: unknown) => {
        this.#logger.error({ err: error }, 'alert delivery loop failed');
      })
      .finally(() => {
        destination.draining = false;
        this.#drains.delete(drain);
        // An alert queued after the loop saw an empty queue but before this ran.
        if (destination.queue.length > 0 && !this.#abort.signal.aborted) this.#startDrain(destination);
      });
    this.#drains.add(drain);
  }

  async #deliver(destination: Destination, job: Job): Promise<void> {
    const signal = this.#abort.signal;
    for (let attempt = 1; ; attempt += 1) {
      if (signal.aborted) return this.#drop(job, 'the dispatcher is closing');
      try {
        await this.#paceBefore(destination, signal);
      } catch {
        return this.#drop(job, 'the dispatcher is closing');
      }
      destination.lastAttemptAt = this.#now();

      let outcome: Outcome;
      try {
        outcome = this.#classify(job, await this.#transport.send(job.request, signal));
      } catch (error) {
        if (signal.aborted) return this.#drop(job, 'the dispatcher is closing');
        outcome = { result: 'retry', detail: error instanceof Error ? error.message : String(error) };
      }

      if (outcome.result === 'sent') {
        this.#stats.sent += 1;
        this.#metrics?.sent.inc({ provider: job.provider.type });
        this.#logger.info({ ...logContext(job), attempt }, 'alert delivered');
        return;
      }
      if (outcome.result === 'failed') return this.#fail(job, outcome.reason, outcome.detail);
      if (outcome.retryAfterMs !== undefined && outcome.retryAfterMs > this.#settings.maxRetryAfterMs) {
        return this.#fail(
          job,
          'rate-limited',
          `${outcome.detail}; Retry-After asks for ${Math.ceil(outcome.retryAfterMs / 1000)}s, more than the ${this.#settings.maxRetryAfterMs / 1000}s limit`,
        );
      }
      if (attempt >= this.#settings.maxAttempts) {
        return this.#fail(job, 'exhausted', `${outcome.detail}; gave up after ${attempt} attempts`);
      }

      const delay =
        outcome.retryAfterMs ??
        backoffDelay(attempt, this.#settings.initialBackoffMs, this.#settings.maxBackoffMs, this.#random());
      this.#stats.retried += 1;
      this.#metrics?.retried.inc({ provider: job.provider.type });
      this.#logger.warn(
        { ...logContext(job), attempt, retryInMs: delay, error: this.#redact(job, outcome.detail) },
        'alert delivery failed, will retry',
      );
      try {
        await this.#sleep(delay, signal);
      } catch {
        return this.#drop(job, 'the dispatcher is closing');
      }
    }
  }

  async #paceBefore(destination: Destination, signal: AbortSignal): Promise<void> {
    if (destination.lastAttemptAt === undefined) return;
    const wait = destination.lastAttemptAt + this.#settings.minIntervalMs - this.#now();
    if (wait > 0) await this.#sleep(wait, signal);
  }

  #classify(job: Job, response: TransportResponse): Outcome {
    const { status } = response;
    if (status >= 200 && status < 300) {
      const rejection = job.driver.rejection?.(response.body);
      return rejection === undefined
        ? { result: 'sent' }
        : { result: 'failed', reason: 'rejected', detail: rejection };
    }
    const detail = `HTTP ${status}${response.body.trim() === '' ? '' : `: ${truncate(response.body.trim(), 200)}`}`;
    if (status === 429 || status === 408 || status >= 500) {
      const retryAfterMs = parseRetryAfter(response.retryAfter, this.#now());
      return { result: 'retry', detail, ...(retryAfterMs !== undefined && { retryAfterMs }) };
    }
    if (status >= 300 && status < 400) {
      return {
        result: 'failed',
        reason: 'rejected',
        detail: `${detail} (redirect not followed; use the final URL)`,
      };
    }
    return { result: 'failed', reason: 'rejected', detail };
  }

  #redact(job: Pick<Job, 'provider'>, text: string): string {
    const { address, token, proxy } = job.provider;
    return redactSecrets(text, [address, token, proxy]);
  }

  #fail(job: Pick<Job, 'message' | 'provider'>, reason: FailureReason, detail: string): void {
    const message = this.#redact(job, detail);
    this.#stats.failed += 1;
    this.#metrics?.failed.inc({ provider: job.provider.type, reason });
    this.#logger.error({ ...logContext(job), reason, error: message }, 'alert not delivered');
    if (this.#onDeliveryFailed === undefined) return;
    try {
      this.#onDeliveryFailed({
        destination: job.provider.id,
        provider: job.provider.type,
        kind: job.message.kind,
        canary: job.message.canary,
        namespace: job.message.namespace,
        reason,
        message,
      });
    } catch (error) {
      this.#logger.error({ err: error }, 'onDeliveryFailed callback threw');
    }
  }

  #drop(job: Pick<Job, 'message' | 'provider'>, why: string): void {
    this.#stats.dropped += 1;
    this.#metrics?.dropped.inc({ provider: job.provider.type });
    this.#logger.warn({ ...logContext(job), why }, 'alert dropped');
  }
}
