import { httpAuthSecretKeys, settingsFromSecret } from '../credentials.ts';
import { baseOf, createHttpStore, parseAddress, snippet } from '../http-store.ts';
import { noData, ProviderError, type MetricProvider, type NoData, type ProviderConfig } from '../provider.ts';
import { defineStore } from '../store.ts';
import { PromQL } from '../template.ts';

// Prometheus instant queries over the HTTP API (/api/v1/query). One provider
// owns one HTTP client with keep-alive connections, so a cached provider
// reuses them across reconciles.

export function createPrometheusProvider(config: ProviderConfig): MetricProvider {
  const where = baseOf(parseAddress(config.address, 'Prometheus', 'http://prometheus:9090'));
  const endpoint = `${where}/api/v1/query`;
  const store = createHttpStore(config, { name: 'Prometheus', where });

  return {
    async query(query: string, signal?: AbortSignal): Promise<number | NoData> {
      // POST keeps long queries out of URL length limits; `timeout` lets
      // Prometheus stop evaluating once we have stopped waiting.
      const form = new URLSearchParams({ query, timeout: `${config.timeoutMs}ms` });
      const res = await store.send({ method: 'POST', url: endpoint, body: form }, signal);
      return interpretResponse(res.status, res.body, where);
    },
    close: () => store.close(),
  };
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
      throw new ProviderError('bad-query', `Prometheus rejected the query (${errorType}): ${message}`);
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

export const prometheus = defineStore({
  type: 'prometheus',
  summary: 'PromQL instant query over the HTTP API (`/api/v1/query`)',
  address: { kind: 'metrics-server' },
  secretKeys: httpAuthSecretKeys,
  readSecret: settingsFromSecret,
  syntax: PromQL,
  factory: createPrometheusProvider,
});
