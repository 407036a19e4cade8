// The narrow port between analysis and a metric store. A provider answers one
// instant query with one number, or says there was no data; every other
// outcome is a ProviderError whose kind tells an outage apart from a bad query.

/** An empty result or NaN: the store answered, but there is nothing to judge. */
export interface NoData {
  readonly noData: true;
  /** Why there is no value, e.g. "the query returned no series". */
  readonly reason: string;
}

export function noData(reason: string): NoData {
  return { noData: true, reason };
}

export function isNoData(result: number | NoData): result is NoData {
  return typeof result === 'object';
}

export interface MetricProvider {
  /**
   * Runs one query. Resolves to a number or NoData; rejects only with ProviderError.
   * `intervalMs` is the metric's interval, for stores whose API takes a time window.
   * `requestId` is the engine's id of the measurement (canary uid, run, tick, metric), the same
   * after a restart: stores that create objects name them by it, so a repeated request adopts them.
   */
  query(
    query: string,
    signal?: AbortSignal,
    intervalMs?: number,
    requestId?: string,
  ): Promise<number | NoData>;
  /** Releases pooled connections; called when the provider leaves the cache. */
  close(): void;
}

export const ProviderErrorKinds = [
  /** The provider settings are unusable (unknown type, bad address, bad credentials shape). */
  'config',
  /** No TCP connection (refused, DNS failure, reset). */
  'connection',
  /** The TLS handshake failed (untrusted or expired certificate, wrong host name). */
  'tls',
  /** No answer within the query timeout, or the store gave up evaluating the query. */
  'timeout',
  /** The caller aborted the query (shutdown, lost leadership). */
  'cancelled',
  /** 401 or 403: credentials missing or rejected. */
  'auth',
  /** Any other non-success HTTP status. */
  'http-status',
  /** The store rejected the query itself: its syntax, or an unknown metric. */
  'bad-query',
  /** 429: the store asked Fledge to wait; no query is sent before its Retry-After. */
  'rate-limited',
  /** The answer was not the store's API format (a proxy page, truncated JSON). */
  'bad-response',
  /** The query ran but its result is not one number (several series, a range vector). */
  'unusable-result',
] as const;
export type ProviderErrorKind = (typeof ProviderErrorKinds)[number];

export class ProviderError extends Error {
  readonly kind: ProviderErrorKind;

  constructor(kind: ProviderErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ProviderError';
    this.kind = kind;
  }
}

/** Credentials read from the Secret named by spec.provider.secretRef, already decoded. */
export type ProviderCredentials =
  | { readonly type: 'bearer'; readonly token: string }
  | { readonly type: 'basic'; readonly username: string; readonly password: string };

export interface ProviderTls {
  /** PEM bundle trusted in addition to the system roots. */
  readonly ca?: string;
  /** PEM client certificate and key for mutual TLS. */
  readonly cert?: string;
  readonly key?: string;
  readonly insecureSkipVerify?: boolean;
}

/** Everything needed to build a provider; equal configs share one client. */
export interface ProviderConfig {
  readonly type: string;
  /** Empty for stores read through the Kubernetes API. */
  readonly address: string;
  /** For stores read through the Kubernetes API: the Canary's namespace, where they read and create. */
  readonly namespace?: string;
  /** spec.provider.region */
  readonly region?: string;
  /** Store-specific Secret values (API keys, account ids), by Secret key. */
  readonly secretValues?: Readonly<Record<string, string>>;
  readonly headers?: Readonly<Record<string, string>>;
  readonly credentials?: ProviderCredentials;
  readonly tls?: ProviderTls;
  readonly timeoutMs: number;
}
