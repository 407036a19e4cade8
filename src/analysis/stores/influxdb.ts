import { knownSecrets } from '../../telemetry/secrets.ts';
import {
  baseOf,
  checkStatus,
  createHttpStore,
  jsonErrorText,
  numberFrom,
  parseAddress,
  parseJson,
  snippet,
} from '../http-store.ts';
import { noData, ProviderError, type MetricProvider, type NoData, type ProviderConfig } from '../provider.ts';
import { defineStore, readDeclaredKeys, TlsSecretKeys, type SecretKey } from '../store.ts';
import { PlainQuery } from '../template.ts';

// InfluxDB in both of its query languages. Flux, as Flagger runs it, goes to
// the 2.x API (POST /api/v2/query?org=..., `Authorization: Token`) and answers
// annotated CSV; InfluxQL goes to the 1.x API (GET /query?q=...), with basic
// auth or a token, and answers JSON. A query with `|>` is Flux.

const secretKeys: readonly SecretKey[] = [
  { key: 'token', meaning: 'sent as `Authorization: Token <token>`', credential: true },
  { key: 'org', meaning: 'organisation a Flux query runs in', credential: false },
  { key: 'username', meaning: 'InfluxDB 1.x basic auth user, with `password`', credential: false },
  { key: 'password', meaning: 'InfluxDB 1.x basic auth password', credential: true },
  ...TlsSecretKeys,
];

export function createInfluxdbProvider(config: ProviderConfig): MetricProvider {
  const where = baseOf(parseAddress(config.address, 'InfluxDB', 'http://influxdb.monitoring:8086'));
  const token = config.secretValues?.token;
  const org = config.secretValues?.org;
  const store = createHttpStore(config, {
    name: 'InfluxDB',
    where,
    ...(token !== undefined && { authHeaders: { Authorization: `Token ${token}` } }),
  });
  const credentials = 'token, org or username and password in the Secret named by spec.provider.secretRef';
  const message = jsonErrorText((body) => body.message ?? body.error);

  return {
    async query(query: string, signal?: AbortSignal): Promise<number | NoData> {
      if (query.includes('|>')) {
        if (org === undefined) {
          throw new ProviderError(
            'config',
            'a Flux query needs org (and token) in the Secret named by spec.provider.secretRef',
          );
        }
        const res = await store.send(
          {
            method: 'POST',
            url: `${where}/api/v2/query?${new URLSearchParams({ org })}`,
            body: JSON.stringify({
              query,
              type: 'flux',
              dialect: { annotations: ['datatype'], header: true },
            }),
            headers: { 'Content-Type': 'application/json', Accept: 'application/csv' },
          },
          signal,
        );
        checkStatus(res, { name: 'InfluxDB', where, credentials, message });
        return readFluxCsv(res.body, where);
      }
      const params = new URLSearchParams({ q: query.trim(), epoch: 'ms' });
      const res = await store.send({ method: 'GET', url: `${where}/query?${params}` }, signal);
      checkStatus(res, { name: 'InfluxDB', where, credentials, message });
      return readInfluxql(parseJson(res.body, 'InfluxDB', where), where);
    },
    close: () => store.close(),
  };
}

interface InfluxqlSeries {
  name?: unknown;
  tags?: Record<string, unknown>;
  columns?: unknown;
  values?: unknown;
}

function readInfluxql(answer: unknown, where: string): number | NoData {
  const results = (answer as { results?: unknown } | null)?.results;
  if (!Array.isArray(results))
    throw new ProviderError('bad-response', `InfluxDB at ${where} answered without results`);
  if (results.length !== 1) {
    throw new ProviderError('unusable-result', `the query has ${results.length} statements; run one`);
  }
  const { error, series } = results[0] as { error?: unknown; series?: unknown };
  if (typeof error === 'string')
    throw new ProviderError('bad-query', `InfluxDB rejected the query: ${error}`);
  if (series === undefined) return noData('the query returned no series');
  if (!Array.isArray(series))
    throw new ProviderError('bad-response', `InfluxDB at ${where} answered a malformed series`);
  if (series.length > 1) {
    const shown = (series as InfluxqlSeries[])
      .slice(0, 3)
      .map((s) => `${String(s.name)}${s.tags ? JSON.stringify(s.tags) : ''}`)
      .join(', ');
    throw new ProviderError(
      'unusable-result',
      `the query returned ${series.length} series (${shown}${series.length > 3 ? ', ...' : ''}); drop GROUP BY tags so it returns one`,
    );
  }
  const { columns, values } = series[0] as InfluxqlSeries;
  if (!Array.isArray(columns) || !Array.isArray(values)) {
    throw new ProviderError(
      'bad-response',
      `InfluxDB at ${where} answered a series without columns or values`,
    );
  }
  const valueColumns = columns.map((c, i) => [String(c), i] as const).filter(([name]) => name !== 'time');
  if (valueColumns.length !== 1) {
    throw new ProviderError(
      'unusable-result',
      `the query selects ${valueColumns.map(([name]) => name).join(', ')}; select one field or aggregate`,
    );
  }
  const [, index] = valueColumns[0] as readonly [string, number];
  const row = values.at(-1) as unknown[] | undefined;
  return valueOf(row?.[index], where);
}

/** The `_value` of the one row of Flux's annotated CSV. */
function readFluxCsv(body: string, where: string): number | NoData {
  const lines = body.split(/\r?\n/).filter((line) => line.trim() !== '' && !line.startsWith('#'));
  if (lines.length === 0) return noData('the query returned no tables');
  const header = splitCsv(lines[0] as string);
  const column = header.indexOf('_value');
  const tableColumn = header.indexOf('table');
  if (column < 0) {
    throw new ProviderError(
      'unusable-result',
      `the query's tables have no _value column (columns: ${header.filter((c) => c !== '').join(', ')})`,
    );
  }
  const rows = lines
    .slice(1)
    .map(splitCsv)
    .filter((cells) => cells.join('') !== header.join(''));
  if (rows.length === 0) return noData('the query returned no rows');
  const tables = new Set(rows.map((cells) => cells[tableColumn]));
  if (rows.length > 1) {
    throw new ProviderError(
      'unusable-result',
      `the query returned ${rows.length} rows in ${tables.size} table(s); end it with e.g. |> group() |> mean() so it returns one`,
    );
  }
  const raw = rows[0]?.[column];
  return valueOf(raw === '' ? null : raw, where, snippet(body));
}

// Flux's CSV quotes values containing commas; values Fledge reads are numbers.
function splitCsv(line: string): string[] {
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i] as string;
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      cells.push(cell);
      cell = '';
    } else cell += ch;
  }
  cells.push(cell);
  return cells;
}

function valueOf(value: unknown, where: string, shown?: string): number | NoData {
  if (value === null || value === undefined) return noData('the value is null');
  const number = numberFrom(value);
  if (number === undefined) {
    throw new ProviderError(
      'unusable-result',
      `InfluxDB at ${where} returned ${JSON.stringify(value)}, not a number${shown ? `: ${shown}` : ''}`,
    );
  }
  return Number.isNaN(number) ? noData('the value is NaN') : number;
}

export const influxdb = defineStore({
  type: 'influxdb',
  summary: 'Flux (`/api/v2/query`, annotated CSV) or InfluxQL (`/query`); the one value of the one row',
  address: { kind: 'required' },
  secretKeys,
  readSecret: (data, where) => {
    const { values = {}, tls } = readDeclaredKeys(secretKeys, data, where);
    const { username, password, ...rest } = values;
    if ((username === undefined) !== (password === undefined)) {
      throw new ProviderError(
        'config',
        `${where} needs both username and password for basic auth, or neither`,
      );
    }
    if (username !== undefined && rest.token !== undefined) {
      throw new ProviderError(
        'config',
        `${where} has both token and username/password; keep one way to authenticate`,
      );
    }
    if (username !== undefined && password !== undefined) knownSecrets.rememberBasic(username, password);
    return {
      ...(username !== undefined &&
        password !== undefined && { credentials: { type: 'basic', username, password } }),
      ...(Object.keys(rest).length > 0 && { values: rest }),
      ...(tls && { tls }),
    };
  },
  syntax: PlainQuery,
  factory: createInfluxdbProvider,
});
