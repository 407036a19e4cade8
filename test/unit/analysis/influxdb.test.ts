import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createInfluxdbProvider } from '../../../src/analysis/stores/influxdb.ts';
import { startFakeApi, type FakeApi, type FakeRequest } from '../../harness/fake-api.ts';
import { providerFailure } from './loopback.ts';

// The influxdb store's Flux side against a loopback server answering as the
// InfluxDB 2.x query API documents: `Authorization: Token`, the org as a query
// parameter, annotated CSV answers and {"code", "message"} errors. The InfluxQL
// side runs against Debian's InfluxDB in test/integration/analysis/influxdb.test.ts.

const token = 'influx-Tk4wPz8nRc2v';
const csv = (...values: string[]) =>
  [
    '#datatype,string,long,dateTime:RFC3339,dateTime:RFC3339,double',
    ',result,table,_start,_stop,_value',
    ...values.map((v, i) => `,_result,${i},2026-01-01T00:00:00Z,2026-01-01T00:05:00Z,${v}`),
    '',
  ].join('\r\n');

describe('influxdb store: Flux', () => {
  let api: FakeApi;
  const received: FakeRequest[] = [];
  const answers = new Map<string, string>();
  beforeAll(async () => {
    api = await startFakeApi((request) => {
      received.push(request);
      if (request.headers.authorization !== `Token ${token}`) {
        return { status: 401, body: { code: 'unauthorized', message: 'unauthorized access' } };
      }
      const { query } = JSON.parse(request.body) as { query: string };
      if (!query.startsWith('from(')) {
        return {
          status: 400,
          body: {
            code: 'invalid',
            message: 'compilation failed: error at @1:1-1:6: undefined identifier fromm',
          },
        };
      }
      return {
        status: 200,
        body: answers.get(query) ?? '',
        headers: { 'content-type': 'text/csv; charset=utf-8' },
      };
    });
  });
  afterAll(async () => api.close());

  const provider = (secret = token, org: string | null = 'platform') =>
    createInfluxdbProvider({
      type: 'influxdb',
      address: api.url,
      timeoutMs: 2000,
      tls: { ca: api.ca },
      secretValues: { token: secret, ...(org !== null && { org }) },
    });

  it('posts the Flux query to the org with the token and reads the _value of the one row', async () => {
    const query = 'from(bucket: "apps") |> range(start: -1m) |> mean()';
    answers.set(query, csv('99.2'));
    const p = provider();
    await expect(p.query(query)).resolves.toBe(99.2);
    p.close();
    const request = received.at(-1);
    expect(request?.url.pathname).toBe('/api/v2/query');
    expect(request?.url.searchParams.get('org')).toBe('platform');
    expect(JSON.parse(request?.body ?? '{}')).toMatchObject({ query, type: 'flux' });
  });

  it('has no data for an empty answer or an empty value, and refuses several rows', async () => {
    answers.set('from(bucket: "a") |> range(start: -1m) |> last()', csv(''));
    answers.set('from(bucket: "a") |> range(start: -1m)', csv('1', '2'));
    const p = provider();
    await expect(p.query('from(bucket: "none") |> range(start: -1m)')).resolves.toEqual({
      noData: true,
      reason: 'the query returned no tables',
    });
    await expect(p.query('from(bucket: "a") |> range(start: -1m) |> last()')).resolves.toEqual({
      noData: true,
      reason: 'the value is null',
    });
    const several = await providerFailure(p.query('from(bucket: "a") |> range(start: -1m)'));
    p.close();
    expect(several.kind).toBe('unusable-result');
    expect(several.message).toMatch(/^the query returned 2 rows in 2 table\(s\)/);
  });

  it("reports InfluxDB's own message for a refused token and a Flux error, and needs the org", async () => {
    const wrong = provider('influx-wrong-000000');
    const auth = await providerFailure(wrong.query('from(bucket: "a") |> last()'));
    wrong.close();
    expect(auth.kind).toBe('auth');
    expect(auth.message).toContain('answered 401 Unauthorized (unauthorized access)');
    const p = provider();
    const bad = await providerFailure(p.query('fromm(bucket: "a") |> last()'));
    p.close();
    expect(bad.message).toBe(
      'InfluxDB rejected the query (HTTP 400): compilation failed: error at @1:1-1:6: undefined identifier fromm',
    );
    const noOrg = provider(token, null);
    expect((await providerFailure(noOrg.query('from(bucket: "a") |> last()'))).kind).toBe('config');
    noOrg.close();
  });
});
