import type { ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { selfSignedCertificate } from './tls.ts';

// A loopback HTTPS server answering Datadog's metrics query API
// (GET /api/v1/query?from=&to=&query=) in the documented shapes: the
// DD-API-KEY / DD-APPLICATION-KEY check with a 403 {"errors": [...]} body, a
// 400 for a query it cannot parse, series with a pointlist of [ms, value]
// pairs, an empty series list, and 429 with X-RateLimit-Reset.

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
  unauthorized: number;
  /** What to answer for a query, by its text; unknown queries have no series. */
  answer(query: string, answer: DatadogAnswer): void;
  close(): Promise<void>;
}

export async function startFakeDatadog(keys: { api: string; application: string }): Promise<FakeDatadog> {
  const { cert, key } = selfSignedCertificate();
  const answers = new Map<string, DatadogAnswer>();
  const send = (res: ServerResponse, status: number, body: unknown, headers = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };
  const fake: Omit<FakeDatadog, 'url' | 'close'> = {
    ca: cert,
    queries: [],
    unauthorized: 0,
    answer: (query, answer) => void answers.set(query, answer),
  };
  const server = https.createServer({ cert, key }, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://localhost');
    if (url.pathname !== '/api/v1/query' || req.method !== 'GET') {
      send(res, 404, { errors: ['Not found'] });
      return;
    }
    if (req.headers['dd-api-key'] !== keys.api || req.headers['dd-application-key'] !== keys.application) {
      fake.unauthorized++;
      send(res, 403, { errors: ['Forbidden'] });
      return;
    }
    const query = url.searchParams.get('query');
    const from = Number(url.searchParams.get('from'));
    const to = Number(url.searchParams.get('to'));
    if (!query || !Number.isInteger(from) || !Number.isInteger(to) || from >= to) {
      send(res, 400, { errors: ["Missing or invalid 'query', 'from' or 'to'"] });
      return;
    }
    if (!/^[a-z]+:[\w.]+\{[^}]*\}/.test(query)) {
      send(res, 400, {
        errors: [`Error parsing query: unable to parse ${query}: Rule 'scope_expr' didn't match`],
      });
      return;
    }
    fake.queries.push({ query, from, to });
    const answer = answers.get(query) ?? { series: [] };
    if ('rateLimitedFor' in answer) {
      send(
        res,
        429,
        { errors: ['Rate limit of 1600 requests in 3600 seconds reached'] },
        {
          'x-ratelimit-limit': '1600',
          'x-ratelimit-remaining': '0',
          'x-ratelimit-reset': String(answer.rateLimitedFor),
        },
      );
      return;
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
    send(res, 200, {
      status: 'ok',
      res_type: 'time_series',
      query,
      from_date: from * 1000,
      to_date: to * 1000,
      series,
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(fake, {
    url: `https://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}
