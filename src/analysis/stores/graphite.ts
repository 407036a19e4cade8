import { knownSecrets } from '../../telemetry/secrets.ts';
import { baseOf, checkStatus, createHttpStore, parseAddress, parseJson } from '../http-store.ts';
import { noData, ProviderError, type MetricProvider, type NoData, type ProviderConfig } from '../provider.ts';
import { defineStore, readDeclaredKeys, TlsSecretKeys, type SecretKey } from '../store.ts';
import { PlainQuery, type QuerySyntax } from '../template.ts';

// Graphite's render API (GET /render?...&format=json). The template is the
// render query string, as in Flagger (`target=...&from=-5min`); the value is
// the last non-null point of the one series it returns.

const secretKeys: readonly SecretKey[] = [
  { key: 'username', meaning: 'HTTP basic auth user', credential: false, required: true },
  { key: 'password', meaning: 'HTTP basic auth password', credential: true, required: true },
  ...TlsSecretKeys,
];

/** Graphite reads `1m` as an unknown unit: `{{ interval }}` is written in seconds (`60s`). */
const GraphiteQuery: QuerySyntax = {
  ...PlainQuery,
  name: 'Graphite',
  interval: (ms) => `${Math.max(1, Math.round(ms / 1000))}s`,
};

export function createGraphiteProvider(config: ProviderConfig): MetricProvider {
  const where = baseOf(parseAddress(config.address, 'Graphite', 'http://graphite.monitoring'));
  const store = createHttpStore(config, { name: 'Graphite', where });

  return {
    async query(query: string, signal?: AbortSignal): Promise<number | NoData> {
      // Templates spread a query over lines; Graphite takes the query string as one.
      const params = new URLSearchParams(query.trim().replace(/\s+/g, ' ').replace(/^\?/, ''));
      if (!params.has('target')) {
        throw new ProviderError(
          'bad-query',
          'the Graphite query has no target=...; write it as a render query string',
        );
      }
      params.set('format', 'json');
      const res = await store.send({ method: 'GET', url: `${where}/render?${params}` }, signal);
      checkStatus(res, {
        name: 'Graphite',
        where,
        credentials: 'username and password in the Secret named by spec.provider.secretRef',
        message: graphiteError,
      });
      if (res.status >= 200 && res.status < 300 && res.body.trimStart().startsWith('<')) {
        throw new ProviderError(
          'bad-response',
          `Graphite at ${where} answered HTML, not JSON: ${graphiteError(res.body)}`,
        );
      }
      return lastPoint(parseJson(res.body, 'Graphite', where), where);
    },
    close: () => store.close(),
  };
}

/** Graphite's error: a plain-text line, or the exception at the end of its HTML traceback page. */
function graphiteError(body: string): string | undefined {
  if (!body.trimStart().startsWith('<')) return undefined;
  const text = body
    .replace(/<[^>]*>/g, '')
    .replace(/&quot;/g, '"')
    .replace(/&#x27;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
  const lines = text.split('\n').map((line) => line.trim());
  return lines.filter((line) => /^\w+(Error|Exception): /.test(line)).at(-1) ?? 'an error page';
}

function lastPoint(answer: unknown, where: string): number | NoData {
  if (!Array.isArray(answer)) {
    throw new ProviderError('bad-response', `Graphite at ${where} did not answer with a list of series`);
  }
  const withValues = answer
    .map((series: { target?: unknown; datapoints?: unknown }) => ({
      target: String(series.target ?? '?'),
      values: (Array.isArray(series.datapoints) ? series.datapoints : [])
        .map((point: unknown) => (Array.isArray(point) ? point[0] : undefined))
        .filter((value: unknown): value is number => typeof value === 'number'),
    }))
    .filter((series) => series.values.length > 0);
  if (withValues.length === 0) {
    return noData(
      answer.length === 0 ? 'the query returned no series' : 'the series have no points in the range',
    );
  }
  if (withValues.length > 1) {
    const shown = withValues
      .slice(0, 3)
      .map((s) => s.target)
      .join(', ');
    throw new ProviderError(
      'unusable-result',
      `the query returned ${withValues.length} series (${shown}${withValues.length > 3 ? ', ...' : ''}); aggregate them, e.g. with sumSeries(...), so it returns one`,
    );
  }
  return withValues[0]?.values.at(-1) as number;
}

export const graphite = defineStore({
  type: 'graphite',
  summary: 'render API (`/render?format=json`); the last non-null point of the one series',
  address: { kind: 'required' },
  secretKeys,
  // Graphite itself has no authentication; a Secret is for a proxy in front of it.
  needsSecret: false,
  readSecret: (data, where) => {
    const { values = {}, tls } = readDeclaredKeys(secretKeys, data, where);
    const { username = '', password = '' } = values;
    knownSecrets.rememberBasic(username, password);
    return { credentials: { type: 'basic', username, password }, ...(tls && { tls }) };
  },
  syntax: GraphiteQuery,
  factory: createGraphiteProvider,
});
