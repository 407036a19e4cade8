import { startFakeApi, type FakeAnswer } from './fake-api.ts';

// Datadog's metrics query API (GET /api/v1/query?from=&to=&query=) on a
// loopback HTTPS server, in the documented shapes: the DD-API-KEY /
// DD-APPLICATION-KEY check with a 403 {"errors": [...]} body, a 400 for a
// query it cannot parse, series with a pointlist of [ms, value] pairs, an
// empty series list, and 429 with X-RateLimit-Reset in seconds.

export type DatadogAnswer =
  /** The points of each series, oldest first; null is a gap. No series: nothing matched. */
  | { readonly series: readonly (readonly (number | null)[])[] }
  /** A rate-limited answer, for this many seconds. */
  | { readonly rateLimitedFor: number };

export interface FakeDatadog {
  readonly url: string;
  /** The CA to trust: the server's self-signed certificate. */
  readonly ca: string;
  /** Queries received with valid keys, in order. */
  readonly queries: { query: string; from: number; to: number }[];
  /** Requests refused for their keys. */
  readonly unauthorized: () => number;
  /** What to answer for a query, by its text; unknown queries have no series. */
  answer(query: string, answer: DatadogAnswer): void;
  close(): Promise<void>;
}

export async function startFakeDatadog(keys: { api: string; application: string }): Promise<FakeDatadog> {
  const answers = new Map<string, DatadogAnswer>();
  const queries: FakeDatadog['queries'] = [];
  let unauthorized = 0;
  const api = await startFakeApi(({ method, url, headers }): FakeAnswer => {
    if (url.pathname !== '/api/v1/query' || method !== 'GET')
      return { status: 404, body: { errors: ['Not found'] } };
    if (headers['dd-api-key'] !== keys.api || headers['dd-application-key'] !== keys.application) {
      unauthorized++;
      return { status: 403, body: { errors: ['Forbidden'] } };
    }
    const query = url.searchParams.get('query');
    const from = Number(url.searchParams.get('from'));
    const to = Number(url.searchParams.get('to'));
    if (!query || !Number.isInteger(from) || !Number.isInteger(to) || from >= to) {
      return { status: 400, body: { errors: ["Missing or invalid 'query', 'from' or 'to'"] } };
    }
    if (!/^[a-z]+:[\w.]+\{[^}]*\}/.test(query)) {
      return {
        status: 400,
        body: { errors: [`Error parsing query: unable to parse ${query}: Rule 'scope_expr' didn't match`] },
      };
    }
    queries.push({ query, from, to });
    const answer = answers.get(query) ?? { series: [] };
    if ('rateLimitedFor' in answer) {
      return {
        status: 429,
        body: { errors: ['Rate limit of 1600 requests in 3600 seconds reached'] },
        headers: {
          'x-ratelimit-limit': '1600',
          'x-ratelimit-remaining': '0',
          'x-ratelimit-reset': String(answer.rateLimitedFor),
        },
      };
    }
    const scope = query.slice(query.indexOf('{') + 1, query.indexOf('}'));
    const series = answer.series.map((points, i) => ({
      metric: query.split('{')[0]?.split(':')[1],
      scope: answer.series.length > 1 ? `${scope},group:${i}` : scope,
      expression: query,
      interval: 60,
      length: points.length,
      pointlist: points.map((value, j) => [(from + 60 * j) * 1000, value]),
    }));
    return {
      status: 200,
      body: {
        status: 'ok',
        res_type: 'time_series',
        query,
        from_date: from * 1000,
        to_date: to * 1000,
        series,
      },
    };
  });
  return {
    ...api,
    queries,
    unauthorized: () => unauthorized,
    answer: (query, answer) => void answers.set(query, answer),
  };
}
