import { setTimeout as sleep } from 'node:timers/promises';

/** Requests per second on average, and how many may go at once after a quiet spell. */
export interface RateLimit {
  qps: number;
  burst: number;
}

/**
 * client-go's client-side limit: a token bucket holding up to `burst` tokens, refilled at `qps`
 * per second. Each request takes one; with none left it waits its turn (a reservation, so
 * waiters go in order), which keeps a burst of reconciles from flooding the apiserver.
 */
export class TokenBucket {
  readonly #limit: RateLimit;
  readonly #now: () => number;
  #tokens: number;
  #at: number;

  constructor(limit: RateLimit, now: () => number = performance.now.bind(performance)) {
    if (!(limit.qps > 0) || !Number.isInteger(limit.burst) || limit.burst < 1) {
      throw new Error(
        `rate limit needs qps > 0 and a whole burst >= 1, got qps ${limit.qps}, burst ${limit.burst}`,
      );
    }
    this.#limit = limit;
    this.#now = now;
    this.#tokens = limit.burst;
    this.#at = now();
  }

  /** Takes a token now and returns how long to wait before using it, in ms. */
  reserve(): number {
    const now = this.#now();
    this.#tokens = Math.min(this.#limit.burst, this.#tokens + ((now - this.#at) / 1000) * this.#limit.qps);
    this.#at = now;
    this.#tokens -= 1;
    return this.#tokens >= 0 ? 0 : (-this.#tokens / this.#limit.qps) * 1000;
  }

  /** Resolves, with the ms it waited, when the caller may send its request; rejects if `signal` aborts first. */
  async take(signal?: AbortSignal | null): Promise<number> {
    const waitMs = this.reserve();
    if (waitMs > 0) await sleep(waitMs, undefined, signal ? { signal } : {});
    return waitMs;
  }
}
