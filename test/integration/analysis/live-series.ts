import { pushSamples } from '../../harness/prometheus.ts';

/**
 * Keeps gauges fresh in a Prometheus through remote write: every `periodMs` it
 * pushes the current value of each series with the current time, so an instant
 * query always sees the value the test set last. Tests label their series with
 * their own namespace so files sharing a Prometheus never read each other's.
 */
export class LiveSeries {
  readonly #prometheusUrl: string;
  readonly #values = new Map<
    string,
    { labels: Record<string, string>; value: number; perSecond?: number; since?: number }
  >();
  readonly #timer: NodeJS.Timeout;
  #pushing: Promise<void> = Promise.resolve();
  #lastError: Error | undefined;
  #lastTimestamp = 0;

  constructor(prometheusUrl: string, periodMs = 1000) {
    this.#prometheusUrl = prometheusUrl;
    this.#timer = setInterval(() => void this.#enqueuePush(), periodMs);
  }

  /** Sets (and pushes at once) the value of the series `metric{labels}`. */
  async set(metric: string, labels: Record<string, string>, value: number): Promise<void> {
    const all = { __name__: metric, ...labels };
    this.#values.set(JSON.stringify(all), { labels: all, value });
    await this.#enqueuePush();
    if (this.#lastError) throw this.#lastError;
  }

  /**
   * Makes `metric{labels}` a counter growing by `perSecond` from now on, pushed like a gauge,
   * as a data plane's request counters are scraped.
   */
  async count(metric: string, labels: Record<string, string>, perSecond: number): Promise<void> {
    const all = { __name__: metric, ...labels };
    this.#values.set(JSON.stringify(all), { labels: all, value: 0, perSecond, since: Date.now() });
    await this.#enqueuePush();
    if (this.#lastError) throw this.#lastError;
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#pushing;
  }

  // One push at a time, each with a later timestamp: Prometheus rejects a second,
  // different value for a timestamp it already has.
  #enqueuePush(): Promise<void> {
    this.#pushing = this.#pushing.then(() => this.#push());
    return this.#pushing;
  }

  async #push(): Promise<void> {
    if (this.#values.size === 0) return;
    const timestamp = Math.max(Date.now(), this.#lastTimestamp + 1);
    this.#lastTimestamp = timestamp;
    try {
      await pushSamples(
        this.#prometheusUrl,
        [...this.#values.values()].map(({ labels, value, perSecond = 0, since = timestamp }) => ({
          labels: labels as Record<string, string> & { __name__: string },
          samples: [{ value: value + (perSecond * (timestamp - since)) / 1000, timestamp }],
        })),
      );
      this.#lastError = undefined;
    } catch (err) {
      // Reported by the next set(); a background push must not crash the test run.
      this.#lastError = err as Error;
    }
  }
}
