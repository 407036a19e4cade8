import axios, { type AxiosProxyConfig } from 'axios';
import { describeTlsFailure } from '../telemetry/tls.ts';

const ALERT_TRUST_FIX = "add its CA to the operator's NODE_EXTRA_CA_CERTS";

/** One POST, already serialised. url, headers and proxy may hold secrets. */
export interface TransportRequest {
  url: string;
  headers: Readonly<Record<string, string>>;
  body: string;
  proxy?: string;
  timeoutMs: number;
}

export interface TransportResponse {
  status: number;
  body: string;
  /** The raw Retry-After header, if any. */
  retryAfter?: string;
}

/** Sends HTTP requests; rejects with TransportError when no HTTP response arrived. */
export interface AlertTransport {
  send(request: TransportRequest, signal: AbortSignal): Promise<TransportResponse>;
}

/** No HTTP response: refused, reset, timed out, DNS failure, or cancelled. */
export class TransportError extends Error {
  override name = 'TransportError';
  readonly code: string | undefined;
  constructor(message: string, code?: string) {
    super(message);
    this.code = code;
  }
}

// Chat services answer with a few bytes of JSON; anything bigger is not a reply we can use.
const maxResponseBytes = 1024 * 1024;

export function proxyConfig(proxy: string): AxiosProxyConfig {
  const url = new URL(proxy);
  const protocol = url.protocol.replace(/:$/, '');
  return {
    protocol,
    host: url.hostname,
    port: url.port === '' ? (protocol === 'https' ? 443 : 80) : Number(url.port),
    ...(url.username !== '' && {
      auth: { username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) },
    }),
  };
}

/** axios-based transport. Without an explicit proxy, axios honours HTTPS_PROXY/NO_PROXY. */
export function createHttpTransport(): AlertTransport {
  return {
    async send(request, signal) {
      try {
        const response = await axios.request<string>({
          method: 'POST',
          url: request.url,
          data: request.body,
          headers: { ...request.headers },
          timeout: request.timeoutMs,
          signal,
          // A redirect would replay the body (and any bearer token) to another host.
          maxRedirects: 0,
          maxContentLength: maxResponseBytes,
          responseType: 'text',
          transformResponse: [(data: unknown) => (typeof data === 'string' ? data : String(data ?? ''))],
          validateStatus: () => true,
          ...(request.proxy !== undefined && { proxy: proxyConfig(request.proxy) }),
        });
        const retryAfter = response.headers['retry-after'] as unknown;
        return {
          status: response.status,
          body: response.data,
          ...(typeof retryAfter === 'string' && { retryAfter }),
        };
      } catch (error) {
        // Rebuild the error from its code and message only: axios errors carry the request
        // config (URL, headers with tokens), which must never reach a log line.
        const tlsLine = describeTlsFailure(error, new URL(request.url).host, ALERT_TRUST_FIX);
        if (axios.isAxiosError(error)) throw new TransportError(tlsLine ?? error.message, error.code);
        throw new TransportError(error instanceof Error ? error.message : String(error));
      }
    },
  };
}

/**
 * Blanks every secret (and the parts of a secret URL that carry the credential: its path, query
 * and user info) out of `text`.
 */
export function redactSecrets(text: string, secrets: readonly (string | undefined)[]): string {
  const fragments = new Set<string>();
  for (const secret of secrets) {
    if (secret === undefined || secret.length < 4) continue;
    fragments.add(secret);
    fragments.add(encodeURIComponent(secret));
    let url: URL | undefined;
    try {
      url = new URL(secret);
    } catch {
      url = undefined;
    }
    if (url === undefined) continue;
    for (const part of [url.pathname + url.search, url.search, url.password, url.username]) {
      // Short parts ("/", "?a=1") carry nothing secret and would shred unrelated text.
      if (part.length >= 6) fragments.add(part);
    }
  }
  let result = text;
  for (const fragment of [...fragments].sort((a, b) => b.length - a.length)) {
    result = result.split(fragment).join('[redacted]');
  }
  return result;
}
