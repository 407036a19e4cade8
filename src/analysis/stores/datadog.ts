import {
  baseOf,
  checkStatus,
  createHttpStore,
  jsonErrorText,
  numberFrom,
  parseAddress,
  parseJson,
  retryAfterMs,
} from '../http-store.ts';
import { noData, ProviderError, type MetricProvider, type NoData, type ProviderConfig } from '../provider.ts';
import { defineStore, TlsSecretKeys } from '../store.ts';
import { PlainQuery } from '../template.ts';

// Datadog's metrics query API (GET /api/v1/query). As in Flagger the window is
// ten metric intervals, and the value is the oldest point of the series: the
// newest bucket is usually still filling.

const apiKey = 'datadog_api_key';
const applicationKey = 'datadog_application_key';
const windowIntervals = 10;
const defaultIntervalMs = 60_000;

export function createDatadogProvider(config: ProviderConfig): MetricProvider {
  const where = baseOf(parseAddress(config.address, 'Datadog', 'https://api.datadoghq.eu'));
  const keys = config.secretValues ?? {};
  const api = keys[apiKey];
  const application = keys[applicationKey];
  if (api === undefined || application === undefined) {
    throw new ProviderError('config', `Datadog needs ${apiKey} and ${applicationKey} in the provider Secret`);
  }
  const store = createHttpStore(config, {
    name: 'Datadog',
    where,
    authHeaders: { 'DD-API-KEY': api, 'DD-APPLICATION-KEY': application },
    // Datadog names the wait in X-RateLimit-Reset, in seconds, rather than in Retry-After.
    rateLimitWait: (headers, now) => retryAfterMs(headers['x-ratelimit-reset'], now),
  });

  return {
    async query(
      query: string,
      signal?: AbortSignal,
      intervalMs = defaultIntervalMs,
    ): Promise<number | NoData> {
      const to = Math.floor(Date.now() / 1000);
      const from = to - Math.ceil((windowIntervals * intervalMs) / 1000);
      const params = new URLSearchParams({ from: String(from), to: String(to), query });
      const res = await store.send({ method: 'GET', url: `${where}/api/v1/query?${params}` }, signal);
      checkStatus(res, {
        name: 'Datadog',
        where,
        credentials: `${apiKey} and ${applicationKey} in the Secret named by spec.provider.secretRef`,
        message: errorsOf,
      });
      return readSeries(parseJson(res.body, 'Datadog', where), where);
    },
    close: () => store.close(),
  };
}

/** Datadog's error bodies: {"errors": ["..."]}, or {"status": "error", "error": "..."}. */
const errorsOf = jsonErrorText((body) =>
  Array.isArray(body.errors) ? body.errors.map(String).join('; ') : body.error,
);

interface QueryAnswer {
  status?: unknown;
  error?: unknown;
  series?: unknown;
}

function readSeries(answer: unknown, where: string): number | NoData {
  const { status, error, series } = (answer ?? {}) as QueryAnswer;
  if (status === 'error') {
    throw new ProviderError(
      'bad-query',
      `Datadog rejected the query: ${typeof error === 'string' ? error : 'no message'}`,
    );
  }
  if (!Array.isArray(series)) {
    throw new ProviderError('bad-response', `Datadog at ${where} answered without a series list`);
  }
  if (series.length === 0) return noData('the query returned no series');
  if (series.length > 1) {
    const shown = series
      .slice(0, 3)
      .map((s: { scope?: unknown; expression?: unknown }) => String(s.scope ?? s.expression ?? '?'))
      .join(', ');
    throw new ProviderError(
      'unusable-result',
      `the query returned ${series.length} series (${shown}${series.length > 3 ? ', ...' : ''}); aggregate it, e.g. sum:metric{...}, so it returns one`,
    );
  }
  const points: unknown = (series[0] as { pointlist?: unknown }).pointlist;
  if (!Array.isArray(points))
    throw new ProviderError('bad-response', `Datadog at ${where} answered a series without points`);
  for (const point of points) {
    const value = Array.isArray(point) ? numberFrom(point[1]) : undefined;
    if (value === undefined) continue;
    return Number.isNaN(value) ? noData('the series has NaN at the start of the window') : value;
  }
  return noData('the series has no points in the window');
}

export const datadog = defineStore({
  type: 'datadog',
  summary:
    'metrics query API (`/api/v1/query`) over ten metric intervals; the oldest point of the one series',
  address: { kind: 'default', value: 'https://api.datadoghq.com' },
  secretKeys: [
    { key: apiKey, meaning: 'sent as `DD-API-KEY`', credential: true, required: true },
    { key: applicationKey, meaning: 'sent as `DD-APPLICATION-KEY`', credential: true, required: true },
    ...TlsSecretKeys,
  ],
  syntax: PlainQuery,
  factory: createDatadogProvider,
});
