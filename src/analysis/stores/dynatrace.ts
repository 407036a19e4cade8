import {
  baseOf,
  checkStatus,
  createHttpStore,
  jsonErrorText,
  numberFrom,
  parseAddress,
  parseJson,
} from '../http-store.ts';
import { noData, ProviderError, type MetricProvider, type NoData, type ProviderConfig } from '../provider.ts';
import { defineStore, TlsSecretKeys } from '../store.ts';
import { PlainQuery } from '../template.ts';

// Dynatrace's metrics API v2 (GET /api/v2/metrics/query). As in Flagger the
// template is a metric selector, asked over ten metric intervals with
// resolution=Inf, so each series has one value.

const tokenKey = 'dynatrace_token';
const windowIntervals = 10;
const defaultIntervalMs = 60_000;

export function createDynatraceProvider(config: ProviderConfig): MetricProvider {
  const where = baseOf(parseAddress(config.address, 'Dynatrace', 'https://abc12345.live.dynatrace.com'));
  const token = config.secretValues?.[tokenKey];
  if (token === undefined)
    throw new ProviderError('config', `Dynatrace needs ${tokenKey} in the provider Secret`);
  const store = createHttpStore(config, {
    name: 'Dynatrace',
    where,
    authHeaders: { Authorization: `Api-Token ${token}` },
    // X-RateLimit-Reset is the time the limit resets, in microseconds since the epoch.
    rateLimitWait: (headers, now) => {
      const reset = Number(headers['x-ratelimit-reset']);
      return Number.isFinite(reset) && reset > 0 ? Math.max(0, reset / 1000 - now) : undefined;
    },
  });

  return {
    async query(
      query: string,
      signal?: AbortSignal,
      intervalMs = defaultIntervalMs,
    ): Promise<number | NoData> {
      const to = Date.now();
      const params = new URLSearchParams({
        metricSelector: query.trim(),
        resolution: 'Inf',
        from: String(to - windowIntervals * intervalMs),
        to: String(to),
      });
      const res = await store.send({ method: 'GET', url: `${where}/api/v2/metrics/query?${params}` }, signal);
      checkStatus(res, {
        name: 'Dynatrace',
        where,
        credentials: `${tokenKey} in the Secret named by spec.provider.secretRef (it needs the metrics.read scope)`,
        message: jsonErrorText((body) => (body.error as { message?: unknown } | undefined)?.message),
      });
      return readResult(parseJson(res.body, 'Dynatrace', where), where);
    },
    close: () => store.close(),
  };
}

interface SeriesData {
  dimensions?: unknown;
  values?: unknown;
}

function readResult(answer: unknown, where: string): number | NoData {
  const result = (answer as { result?: unknown } | null)?.result;
  if (!Array.isArray(result))
    throw new ProviderError('bad-response', `Dynatrace at ${where} answered without a result list`);
  if (result.length > 1) {
    throw new ProviderError('unusable-result', `the selector matched ${result.length} metrics; select one`);
  }
  const data = (result[0] as { data?: unknown } | undefined)?.data ?? [];
  if (!Array.isArray(data))
    throw new ProviderError('bad-response', `Dynatrace at ${where} answered a result without data`);
  if (data.length === 0) return noData('the selector returned no series');
  if (data.length > 1) {
    const shown = (data as SeriesData[])
      .slice(0, 3)
      .map((d) => (Array.isArray(d.dimensions) ? d.dimensions.join('/') : '?'))
      .join(', ');
    throw new ProviderError(
      'unusable-result',
      `the selector returned ${data.length} series (${shown}${data.length > 3 ? ', ...' : ''}); aggregate them, e.g. with :splitBy() or :fold(avg)`,
    );
  }
  const values = (data[0] as SeriesData).values;
  const value = Array.isArray(values) ? values.find((v) => v !== null) : undefined;
  if (value === undefined) return noData('the series has no value in the window');
  const number = numberFrom(value);
  if (number === undefined)
    throw new ProviderError('bad-response', `Dynatrace at ${where} answered a value that is not a number`);
  return Number.isNaN(number) ? noData('the series value is NaN') : number;
}

export const dynatrace = defineStore({
  type: 'dynatrace',
  summary: 'metrics API v2 (`/api/v2/metrics/query`) with `resolution=Inf` over ten metric intervals',
  address: { kind: 'required' },
  secretKeys: [
    {
      key: tokenKey,
      meaning: 'sent as `Authorization: Api-Token <token>`',
      credential: true,
      required: true,
    },
    ...TlsSecretKeys,
  ],
  syntax: PlainQuery,
  factory: createDynatraceProvider,
});
