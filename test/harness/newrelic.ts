import { startFakeApi, type FakeAnswer } from './fake-api.ts';

// New Relic's Insights query API (GET /v1/accounts/<id>/query?nrql=...) on a
// loopback HTTPS server, in its documented shapes: X-Query-Key checked per
// account (401 {"error": ...}), NRQL syntax errors as 400 {"error": ...},
// results as [{"<function or alias>": value}], and 429.

export interface FakeNewRelic {
  readonly url: string;
  readonly ca: string;
  /** The NRQL of each accepted query, as received. */
  readonly queries: string[];
  /** The row to answer for NRQL starting with the given text (before SINCE); unknown NRQL has a null result. */
  answer(nrqlStart: string, row: Record<string, unknown> | 'rate-limited'): void;
  close(): Promise<void>;
}

export async function startFakeNewRelic(account: string, key: string): Promise<FakeNewRelic> {
  const rows = new Map<string, Record<string, unknown> | 'rate-limited'>();
  const queries: string[] = [];
  const api = await startFakeApi(({ url, headers }): FakeAnswer => {
    const match = /^\/v1\/accounts\/(\d+)\/query$/.exec(url.pathname);
    if (!match) return { status: 404, body: { error: 'Not found' } };
    if (match[1] !== account || headers['x-query-key'] !== key) {
      return { status: 401, body: { error: 'Invalid query key' } };
    }
    const nrql = url.searchParams.get('nrql') ?? '';
    if (!/^SELECT .+ FROM \w+/i.test(nrql) || !/ SINCE \d+ seconds ago$/.test(nrql)) {
      return {
        status: 400,
        body: { error: `NRQL Syntax Error: Error at line 1 position 1, unexpected '${nrql.split(' ')[0]}'` },
      };
    }
    queries.push(nrql);
    const row = [...rows].find(([start]) => nrql.startsWith(start))?.[1];
    if (row === 'rate-limited')
      return { status: 429, body: { error: 'Too many requests' }, headers: { 'retry-after': '90' } };
    return {
      status: 200,
      body: {
        results: [row ?? { result: null }],
        metadata: { eventTypes: ['Metric'], messages: [], contents: [{ function: 'alias' }] },
      },
    };
  });
  return { ...api, queries, answer: (start, row) => void rows.set(start, row) };
}
