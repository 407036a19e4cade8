import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { describeTlsFailure } from '../telemetry/tls.ts';
import axios, { AxiosError, type AxiosInstance } from 'axios';
import { ProviderError, type ProviderConfig } from './provider.ts';

// The HTTP side every HTTP metric store shares: one keep-alive client per
// provider, TLS from the Secret, the template's headers, timeouts and
// cancellation, transport errors by kind, and 429s whose Retry-After is
// honoured by sending nothing to the store until it has passed.

const maxResponseBytes = 8 * 1024 * 1024;
const maxSocketsPerProvider = 8;
/** How long to hold off after a 429 that names no time. */
const defaultRetryAfterMs = 60_000;

export interface StoreRequest {
  readonly method: 'GET' | 'POST';
  /** Absolute URL, query string included. */
  readonly url: string;
  readonly body?: string | URLSearchParams;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface StoreResponse {
  readonly status: number;
  readonly body: string;
  readonly headers: Readonly<Record<string, string | undefined>>;
}

export interface HttpStore {
  /** Sends one request; rejects only with ProviderError. A 429 becomes a 'rate-limited' error. */
  send(request: StoreRequest, signal?: AbortSignal): Promise<StoreResponse>;
  /** Releases the connections once the requests under way have ended. */
  close(): void;
}

export interface HttpStoreOptions {
  /** The store's name in messages, e.g. "Datadog". */
  readonly name: string;
  /** Where it is, for messages: the address without credentials or query. */
  readonly where: string;
  /** Authentication headers the store builds from its Secret; they win over spec.provider.headers. */
  readonly authHeaders?: Readonly<Record<string, string>>;
  /** How long a 429 without Retry-After asks to wait, from the store's own headers. */
  readonly rateLimitWait?: (
    headers: Readonly<Record<string, string | undefined>>,
    now: number,
  ) => number | undefined;
  /** The current time, for Retry-After; defaults to the wall clock. */
  readonly now?: () => number;
}

export function createHttpStore(config: ProviderConfig, options: HttpStoreOptions): HttpStore {
  const { name, where } = options;
  const now = options.now ?? Date.now;
  const headers = buildHeaders(config, options.authHeaders ?? {});
  const httpAgent = new http.Agent({ keepAlive: true, maxSockets: maxSocketsPerProvider });
  const httpsAgent = new https.Agent({
    keepAlive: true,
    maxSockets: maxSocketsPerProvider,
    // Node replaces the system roots when `ca` is set; keep them and add the extra CA.
    ca: config.tls?.ca ? [...tls.rootCertificates, config.tls.ca] : undefined,
    cert: config.tls?.cert,
    key: config.tls?.key,
    rejectUnauthorized: !config.tls?.insecureSkipVerify,
  });
  const client: AxiosInstance = axios.create({
    httpAgent,
    httpsAgent,
    headers,
    auth:
      config.credentials?.type === 'basic'
        ? { username: config.credentials.username, password: config.credentials.password }
        : undefined,
    // Raw text in, every status out: each store classifies both itself.
    responseType: 'text',
    transformResponse: [(data: unknown) => data],
    validateStatus: () => true,
    // A redirect could carry the credentials to another host; report it instead.
    maxRedirects: 0,
    maxContentLength: maxResponseBytes,
  });

  let inFlight = 0;
  let closing = false;
  let blockedUntil = 0;
  const release = () => {
    httpAgent.destroy();
    httpsAgent.destroy();
  };

  return {
    async send(request, signal) {
      if (now() < blockedUntil) {
        throw new ProviderError(
          'rate-limited',
          `${name} at ${where} asked Fledge to wait until ${new Date(blockedUntil).toISOString()} (Retry-After); no query was sent`,
        );
      }
      const deadline = AbortSignal.timeout(config.timeoutMs);
      const combined = signal ? AbortSignal.any([signal, deadline]) : deadline;
      inFlight++;
      try {
        const res = await client.request({
          method: request.method,
          url: request.url,
          data: request.body,
          headers: request.headers,
          signal: combined,
        });
        const response: StoreResponse = {
          status: res.status,
          body: typeof res.data === 'string' ? res.data : '',
          headers: Object.fromEntries(
            Object.entries(res.headers).map(([key, value]) => [key.toLowerCase(), headerText(value)]),
          ),
        };
        if (response.status === 429) {
          const waitMs =
            retryAfterMs(response.headers['retry-after'], now()) ??
            options.rateLimitWait?.(response.headers, now()) ??
            defaultRetryAfterMs;
          blockedUntil = now() + waitMs;
          throw new ProviderError(
            'rate-limited',
            `${name} at ${where} answered 429 Too Many Requests: ${snippet(response.body)}; next query after ${new Date(blockedUntil).toISOString()}`,
          );
        }
        return response;
      } catch (err) {
        if (err instanceof ProviderError) throw err;
        if (signal?.aborted)
          throw new ProviderError('cancelled', `query to ${name} at ${where} was cancelled`);
        if (deadline.aborted) {
          throw new ProviderError(
            'timeout',
            `${name} at ${where} did not answer within ${config.timeoutMs / 1000}s`,
          );
        }
        throw classifyTransportError(err, name, where);
      } finally {
        inFlight--;
        if (closing && inFlight === 0) release();
      }
    },
    close() {
      closing = true;
      if (inFlight === 0) release();
    },
  };
}

function headerText(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  return Array.isArray(value) ? value.join(', ') : String(value);
}

/** Retry-After in delta-seconds or as an HTTP date, in milliseconds from now. */
export function retryAfterMs(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** The store's address as a URL, refused when it is not http(s) or embeds credentials. */
export function parseAddress(address: string, name: string, example: string): URL {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw new ProviderError('config', `${name} address "${address}" is not a URL; use e.g. ${example}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ProviderError('config', `${name} address must use http or https, not ${url.protocol}`);
  }
  // Addresses are echoed into status, events and logs; a password in them would leak.
  if (url.username || url.password) {
    throw new ProviderError(
      'config',
      `${name} address must not embed credentials; put them in the Secret named by spec.provider.secretRef`,
    );
  }
  return url;
}

/** The address without a trailing slash, for building endpoints and messages. */
export function baseOf(url: URL): string {
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

function buildHeaders(
  config: ProviderConfig,
  authHeaders: Readonly<Record<string, string>>,
): Record<string, string> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  const auth = new Set(Object.keys(authHeaders).map((key) => key.toLowerCase()));
  if (config.credentials) auth.add('authorization');
  for (const [name, value] of Object.entries(config.headers ?? {})) {
    try {
      http.validateHeaderName(name);
      http.validateHeaderValue(name, value);
    } catch {
      throw new ProviderError(
        'config',
        `spec.provider.headers: "${name}" is not a valid HTTP header name or value`,
      );
    }
    if (auth.has(name.toLowerCase())) {
      throw new ProviderError(
        'config',
        `spec.provider.headers sets ${name} and spec.provider.secretRef holds credentials sent in it; keep only one`,
      );
    }
    headers[name] = value;
  }
  if (config.credentials?.type === 'bearer') headers.Authorization = `Bearer ${config.credentials.token}`;
  return { ...headers, ...authHeaders };
}

function classifyTransportError(err: unknown, name: string, where: string): ProviderError {
  const code = err instanceof AxiosError ? err.code : undefined;
  const detail = err instanceof Error ? err.message : String(err);
  const tlsLine = describeTlsFailure(
    err,
    where,
    'trust its CA with ca.crt in the provider Secret, or set spec.provider.insecureSkipVerify',
  );
  if (tlsLine !== undefined) return new ProviderError('tls', tlsLine, { cause: err });
  if (code === AxiosError.ERR_BAD_RESPONSE) {
    return new ProviderError('bad-response', `unreadable answer from ${name} at ${where}: ${detail}`, {
      cause: err,
    });
  }
  // Refused, reset, DNS failure, unreachable network: all mean the store could not be asked.
  return new ProviderError(
    'connection',
    `cannot reach ${name} at ${where}: ${code ?? 'error'}${detail && detail !== code ? ` (${detail})` : ''}`,
    { cause: err },
  );
}

/**
 * Throws for a non-success status: 401 and 403 as 'auth' naming the Secret keys to
 * check, 400 and 422 as 'bad-query', anything else as 'http-status'; `message`
 * is the store's own error text picked from the body.
 */
export function checkStatus(
  response: StoreResponse,
  options: {
    name: string;
    where: string;
    credentials: string;
    message?: (body: string) => string | undefined;
  },
): void {
  const { status, body } = response;
  if (status >= 200 && status < 300) return;
  const said = options.message?.(body) ?? snippet(body);
  if (status === 401 || status === 403) {
    throw new ProviderError(
      'auth',
      `${options.name} at ${options.where} answered ${status} ${status === 401 ? 'Unauthorized' : 'Forbidden'} (${said}); check ${options.credentials}`,
    );
  }
  if (status === 400 || status === 422) {
    throw new ProviderError('bad-query', `${options.name} rejected the query (HTTP ${status}): ${said}`);
  }
  throw new ProviderError(
    'http-status',
    `${options.name} at ${options.where} answered HTTP ${status}: ${said}`,
  );
}

/**
 * Reads a store's error text out of a JSON error body with `pick`; undefined when
 * the body is not JSON or `pick` finds no text, so the caller quotes the body instead.
 */
export function jsonErrorText(
  pick: (body: Record<string, unknown>) => unknown,
): (body: string) => string | undefined {
  return (body) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      return undefined;
    }
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    const text = pick(parsed as Record<string, unknown>);
    return typeof text === 'string' && text !== '' ? text : undefined;
  };
}

/** The body as JSON, or a 'bad-response' error saying it is not the store's API format. */
export function parseJson(body: string, name: string, where: string): unknown {
  try {
    return JSON.parse(body) as unknown;
  } catch {
    throw new ProviderError(
      'bad-response',
      `${name} at ${where} did not answer with JSON; is the address the ${name} API? Body: ${snippet(body)}`,
    );
  }
}

/** A number from a JSON value, or undefined when it is none (null, a word, an object). */
export function numberFrom(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && value.trim() !== '') {
    if (value === 'NaN') return NaN;
    if (value === '+Inf' || value === 'Inf' || value === 'Infinity') return Infinity;
    if (value === '-Inf' || value === '-Infinity') return -Infinity;
    const n = Number(value);
    return Number.isNaN(n) ? undefined : n;
  }
  return undefined;
}

export function snippet(body: string): string {
  const flat = body.replace(/\s+/g, ' ').trim();
  if (flat === '') return '(empty body)';
  return flat.length > 200 ? `${flat.slice(0, 200)}...` : flat;
}
