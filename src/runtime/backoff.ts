/** Exponential back-off shared by the work queue (per key), the informer supervisor and HTTP retries. */
export interface BackoffPolicy {
  /** Delay after the first failure. */
  readonly baseMs: number;
  /** Ceiling for any delay. */
  readonly maxMs: number;
}

/** controller-runtime's per-item limiter: 5 ms doubling up to 1000 s. */
export const controllerBackoff: BackoffPolicy = { baseMs: 5, maxMs: 1_000_000 };

export function assertBackoffPolicy(policy: BackoffPolicy, owner: string): void {
  if (!(policy.baseMs > 0) || !(policy.maxMs >= policy.baseMs)) {
    throw new Error(
      `${owner}: back-off needs 0 < baseMs <= maxMs, got baseMs=${policy.baseMs} maxMs=${policy.maxMs}`,
    );
  }
}

/** Delay before retry number `failures` (1 = first retry): base * 2^(failures-1), capped. */
export function exponentialDelay(failures: number, policy: BackoffPolicy): number {
  if (failures < 1) return 0;
  // Beyond 2^52 the exponent no longer matters: the cap wins.
  const exponent = Math.min(failures - 1, 52);
  return Math.min(policy.baseMs * 2 ** exponent, policy.maxMs);
}

/**
 * Spreads a delay upwards by up to `factor` of itself (client-go's wait.Jitter),
 * so replicas that failed together do not retry in lock-step. Never exceeds `maxMs`.
 */
export function withJitter(delayMs: number, factor: number, random: () => number, maxMs = Infinity): number {
  return Math.min(delayMs + delayMs * factor * random(), maxMs);
}

/** Failure counts per key; a success (forget) resets the key's back-off. */
export class KeyedBackoff {
  readonly #policy: BackoffPolicy;
  readonly #failures = new Map<string, number>();

  constructor(policy: BackoffPolicy) {
    assertBackoffPolicy(policy, 'KeyedBackoff');
    this.#policy = policy;
  }

  /** Records one more failure of `key` and returns how long to wait before retrying it. */
  nextDelay(key: string): number {
    const failures = (this.#failures.get(key) ?? 0) + 1;
    this.#failures.set(key, failures);
    return exponentialDelay(failures, this.#policy);
  }

  failures(key: string): number {
    return this.#failures.get(key) ?? 0;
  }

  forget(key: string): void {
    this.#failures.delete(key);
  }
}

/**
 * Milliseconds a Retry-After header asks for: delta-seconds or an HTTP date (RFC 9110 10.2.3).
 * undefined when absent or unparseable, so the caller falls back to its own back-off.
 */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  // Some services (Discord) send fractional seconds.
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.ceil(Number(trimmed) * 1000);
  // Every HTTP-date form starts with a day name; without this check Date.parse reads "-5" as a year.
  if (!/^[A-Za-z]{3}/.test(trimmed)) return undefined;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}
