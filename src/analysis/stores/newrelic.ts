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

// New Relic's Insights query API (GET /v1/accounts/<id>/query?nrql=...). As in
// Flagger, Fledge appends `SINCE <interval> seconds ago`, so the template is
// the NRQL without a time range, and the query key goes in X-Query-Key.

const accountKey = 'newrelic_account_id';
const queryKey = 'newrelic_query_key';
const defaultIntervalMs = 60_000;

export function createNewRelicProvider(config: ProviderConfig): MetricProvider {
  const where = baseOf(parseAddress(config.address, 'New Relic', 'https://insights-api.eu.newrelic.com'));
  const account = config.secretValues?.[accountKey];
  const key = config.secretValues?.[queryKey];
  if (account === undefined || key === undefined || !/^\d+$/.test(account)) {
    throw new ProviderError(
      'config',
      `New Relic needs a numeric ${accountKey} and ${queryKey} in the provider Secret`,
    );
  }
  const endpoint = `${where}/v1/accounts/${account}/query`;
  const store = createHttpStore(config, { name: 'New Relic', where, authHeaders: { 'X-Query-Key': key } });

  return {
    async query(
      query: string,
      signal?: AbortSignal,
      intervalMs = defaultIntervalMs,
    ): Promise<number | NoData> {
      const nrql = `${query.trim()} SINCE ${Math.max(1, Math.round(intervalMs / 1000))} seconds ago`;
      const res = await store.send(
        { method: 'GET', url: `${endpoint}?${new URLSearchParams({ nrql })}` },
        signal,
      );
      checkStatus(res, {
        name: 'New Relic',
        where,
        credentials: `${accountKey} and ${queryKey} in the Secret named by spec.provider.secretRef`,
        message: jsonErrorText((body) => body.error),
      });
      return readResults(parseJson(res.body, 'New Relic', where), where);
    },
    close: () => store.close(),
  };
}

/** One row with one value: `{"results": [{"result": 1.5}]}`, or a function's name as key (`count`, `average`). */
function readResults(answer: unknown, where: string): number | NoData {
  const results = (answer as { results?: unknown } | null)?.results;
  if (!Array.isArray(results)) {
    throw new ProviderError('bad-response', `New Relic at ${where} answered without results`);
  }
  if (results.length === 0) return noData('the query returned no results');
  if (results.length > 1) {
    throw new ProviderError(
      'unusable-result',
      `the query returned ${results.length} results; select one value (no FACET or TIMESERIES)`,
    );
  }
  const row = (results[0] ?? {}) as Record<string, unknown>;
  const names = Object.keys(row);
  const name = Object.hasOwn(row, 'result') ? 'result' : names.length === 1 ? names[0] : undefined;
  if (name === undefined) {
    throw new ProviderError(
      'unusable-result',
      `the query returned ${names.join(', ') || 'an empty row'}; select one value`,
    );
  }
  const value = row[name];
  if (value === null || value === undefined) return noData('the result is null (no matching events)');
  const number = numberFrom(value);
  if (number === undefined)
    throw new ProviderError('unusable-result', `the result ${JSON.stringify(value)} is not a number`);
  return Number.isNaN(number) ? noData('the result is NaN') : number;
}

export const newrelic = defineStore({
  type: 'newrelic',
  summary: 'NRQL through the Insights query API, `SINCE` one metric interval ago',
  address: { kind: 'default', value: 'https://insights-api.newrelic.com' },
  secretKeys: [
    { key: accountKey, meaning: 'account whose data is queried', credential: false, required: true },
    { key: queryKey, meaning: 'sent as `X-Query-Key`', credential: true, required: true },
    ...TlsSecretKeys,
  ],
  syntax: PlainQuery,
  factory: createNewRelicProvider,
});
