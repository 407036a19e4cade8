import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import axios, { AxiosError, type AxiosInstance } from 'axios';
import { describeTlsFailure } from '../telemetry/tls.ts';
import { noData, ProviderError, type MetricProvider, type NoData, type ProviderConfig } from './provider.ts';

// Prometheus instant queries over the HTTP API (/api/v1/query). One provider
// owns one axios instance and one keep-alive agent, so a cached provider
// reuses its connections across reconciles.

const maxResponseBytes = 8 * 1024 * 1024;
const maxSocketsPerProvider = 8;

export function createPrometheusProvider(config: ProviderConfig): MetricProvider {
  const address = parseAddress(config.address);
  const where = `${address.origin}${address.pathname.replace(/\/+$/, '')}`;
  const endpoint = `${where}/api/v1/query`;
  const headers = buildHeaders(config);

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
    // Raw text in, every status out: the classification below needs both.
    responseType: 'text',
    transformResponse: [(data: unknown) => data],
    validateStatus: () => true,
    // A redirect could carry the credentials to another host; report it instead.
    maxRedirects: 0,
    maxContentLength: maxResponseBytes,
  });

  // Closing waits for in-flight queries so an evicted provider never cuts one off.
  let inFlight = 0;
  let closing = false;
  const release = () => {
    httpAgent.destroy();
    httpsAgent.destroy();
  };

  return {
    async query(query: string, signal?: AbortSignal): Promise<number | NoData> {
      const deadline = AbortSignal.timeout(config.timeoutMs);
      const combined = signal ? AbortSignal.any([signal, deadline]) : deadline;
      // POST keeps long queries out of URL length limits; `timeout` lets
      // Prometheus stop evaluating once we have stopped waiting.
      const form = new URLSearchParams({ query, timeout: `${config.timeoutMs}ms` });
      inFlight++;
      try {
        const res = await client.post(endpoint, form, { signal: combined });
        return interpretResponse(res.status, typeof res.data === 'string' ? res.data : '', where);
      } catch (err) {
        if (err instanceof ProviderError) throw err;
        if (signal?.aborted)
          throw new ProviderError('cancelled', `query to Prometheus at ${where} was cancelled`);
        if (deadline.aborted) {
          throw new ProviderError(
            'timeout',
            `Prometheus at ${where} did not answer within ${formatSeconds(config.timeoutMs)}`,
          );
        }
        throw classifyTransportError(err, where);
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

function parseAddress(address: string): URL {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw new ProviderError(
      'config',
      `Prometheus address "${address}" is not a URL; use e.g. http://prometheus:9090`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ProviderError('config', `Prometheus address must use http or https, not ${url.protocol}`);
  }
  // Addresses are echoed into status, events and logs; a password in them would leak.
  if (url.username || url.password) {
    throw new ProviderError(
      'config',
      'Prometheus address must not embed credentials; put them in the Secret named by spec.provider.secretRef',
    );
  }
  return url;
}

function buildHeaders(config: ProviderConfig): Record<string, string> {
  const headers: Record<string, string> = { Accept: 'application/json' };
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
    if (name.toLowerCase() === 'authorization' && config.credentials) {
      throw new ProviderError(
        'config',
        'spec.provider.headers sets Authorization and spec.provider.secretRef holds credentials; keep only one',
      );
    }
    headers[name] = value;
  }
  if (config.credentials?.type === 'bearer') headers.Authorization = `Bearer ${config.credentials.token}`;
  return headers;
}

function classifyTransportError(err: unknown, where: string): ProviderError {
  const code = err instanceof AxiosError ? err.code : undefined;
  const detail = err instanceof Error ? err.message : String(err);
  const tlsLine = describeTlsFailure(
    err,
    where,
    'trust its CA with ca.crt in the provider Secret, or set spec.provider.insecureSkipVerify',
  );
  if (tlsLine !== undefined) return new ProviderError('tls', tlsLine, { cause: err });
  if (code === AxiosError.ERR_BAD_RESPONSE) {
    return new ProviderError('bad-response', `unreadable answer from Prometheus at ${where}: ${detail}`, {
      cause: err,
    });
  }
  // Refused, reset, DNS failure, unreachable network: all mean Prometheus could not be asked.
  return new ProviderError(
    'connection',
    `cannot reach Prometheus at ${where}: ${code ?? 'error'}${detail && detail !== code ? ` (${detail})` : ''}`,
    { cause: err },
  );
}

interface ApiEnvelope {
  status?: unknown;
  errorType?: unknown;
  error?: unknown;
  data?: { resultType?: unknown; result?: unknown };
}

function interpretResponse(status: number, body: string, where: string): number | NoData {
  const envelope = parseEnvelope(body);
  if (status === 401 || status === 403) {
    throw new ProviderError(
      'auth',
      `Prometheus at ${where} answered ${status} ${status === 401 ? 'Unauthorized' : 'Forbidden'}; check the token or username/password in the Secret named by spec.provider.secretRef`,
    );
  }
  if (envelope?.status === 'error') {
    const errorType = typeof envelope.errorType === 'string' ? envelope.errorType : 'unknown';
    const message = typeof envelope.error === 'string' ? envelope.error : 'no message';
    if (errorType === 'timeout' || errorType === 'canceled') {
      throw new ProviderError(
        'timeout',
        `Prometheus at ${where} gave up evaluating the query (${errorType}): ${message}`,
      );
    }
    if (errorType === 'bad_data' || errorType === 'execution') {
      throw new ProviderError('promql', `Prometheus rejected the query (${errorType}): ${message}`);
    }
    throw new ProviderError(
      'http-status',
      `Prometheus at ${where} answered ${status} (${errorType}): ${message}`,
    );
  }
  if (status < 200 || status >= 300) {
    throw new ProviderError(
      'http-status',
      `Prometheus at ${where} answered HTTP ${status}: ${snippet(body)}`,
    );
  }
  if (envelope?.status !== 'success' || typeof envelope.data !== 'object' || envelope.data === null) {
    throw new ProviderError(
      'bad-response',
      `Prometheus at ${where} did not answer with the query API format; is the address a Prometheus server? Body: ${snippet(body)}`,
    );
  }
  return readResult(envelope.data.resultType, envelope.data.result, where);
}

function parseEnvelope(body: string): ApiEnvelope | undefined {
  try {
    const parsed: unknown = JSON.parse(body);
    return typeof parsed === 'object' && parsed !== null ? (parsed as ApiEnvelope) : undefined;
  } catch {
    return undefined;
  }
}

function readResult(resultType: unknown, result: unknown, where: string): number | NoData {
  switch (resultType) {
    case 'vector': {
      if (!Array.isArray(result)) break;
      if (result.length === 0) return noData('the query returned no series');
      if (result.length > 1) {
        const shown = result
          .slice(0, 3)
          .map((s: { metric?: Record<string, string> }) => formatLabels(s.metric ?? {}))
          .join(', ');
        throw new ProviderError(
          'unusable-result',
          `the query returned ${result.length} series (${shown}${result.length > 3 ? ', ...' : ''}); aggregate it, e.g. with sum(...), so it returns one value`,
        );
      }
      const sample: unknown = (result[0] as { value?: unknown }).value;
      return readSample(sample, where);
    }
    case 'scalar':
      return readSample(result, where);
    case 'matrix':
      throw new ProviderError(
        'unusable-result',
        'the query returned a range vector; use an instant query, e.g. wrap the [range] selector in rate() or avg_over_time()',
      );
    case 'string':
      throw new ProviderError('unusable-result', 'the query returned a string, not a number');
  }
  throw new ProviderError(
    'bad-response',
    `Prometheus at ${where} returned an unknown result shape (${String(resultType)})`,
  );
}

function readSample(sample: unknown, where: string): number | NoData {
  const text = Array.isArray(sample) ? sample[1] : undefined;
  if (typeof text !== 'string') {
    throw new ProviderError('bad-response', `Prometheus at ${where} returned a sample without a value`);
  }
  const value = parseSampleValue(text);
  if (value === undefined) {
    throw new ProviderError(
      'bad-response',
      `Prometheus at ${where} returned a non-numeric sample value "${text}"`,
    );
  }
  if (Number.isNaN(value)) return noData('the query returned NaN (e.g. a ratio of zero requests)');
  return value;
}

// Prometheus writes infinities as +Inf/-Inf, which Number() does not read.
function parseSampleValue(text: string): number | undefined {
  if (text === '+Inf' || text === 'Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  const value = Number(text);
  return text.trim() === '' || Number.isNaN(value) ? undefined : value;
}

function formatLabels(labels: Record<string, string>): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return `{${pairs.join(',')}}`;
}

function snippet(body: string): string {
  const flat = body.replace(/\s+/g, ' ').trim();
  if (flat === '') return '(empty body)';
  return flat.length > 200 ? `${flat.slice(0, 200)}...` : flat;
}

function formatSeconds(ms: number): string {
  return `${ms / 1000}s`;
}
