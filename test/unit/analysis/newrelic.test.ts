import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createNewRelicProvider } from '../../../src/analysis/stores/newrelic.ts';
import { startFakeNewRelic, type FakeNewRelic } from '../../harness/newrelic.ts';
import { providerFailure } from './loopback.ts';

// The newrelic store against a loopback HTTPS server speaking the Insights query API.

const account = '1234567';
const key = 'NRIQ-Bv7kQm2xTz9p';

describe('newrelic store', () => {
  let newrelic: FakeNewRelic;
  beforeAll(async () => {
    newrelic = await startFakeNewRelic(account, key);
  });
  afterAll(async () => newrelic.close());

  const provider = (queryKey = key) =>
    createNewRelicProvider({
      type: 'newrelic',
      address: newrelic.url,
      timeoutMs: 2000,
      tls: { ca: newrelic.ca },
      secretValues: { newrelic_account_id: account, newrelic_query_key: queryKey },
    });

  it('appends the metric interval as SINCE and reads the one value of the one row', async () => {
    newrelic.answer('SELECT percentage(count(*), WHERE error IS false) AS result', { result: 99.2 });
    newrelic.answer('SELECT count(*)', { count: 12 });
    const p = provider();
    await expect(
      p.query(
        "SELECT percentage(count(*), WHERE error IS false) AS result FROM Transaction WHERE appName = 'podinfo'",
        undefined,
        120_000,
      ),
    ).resolves.toBe(99.2);
    await expect(p.query('SELECT count(*) FROM Transaction')).resolves.toBe(12);
    p.close();
    expect(newrelic.queries[0]).toBe(
      "SELECT percentage(count(*), WHERE error IS false) AS result FROM Transaction WHERE appName = 'podinfo' SINCE 120 seconds ago",
    );
  });

  it('has no data for a null result', async () => {
    const p = provider();
    await expect(p.query('SELECT average(duration) FROM Nothing')).resolves.toEqual({
      noData: true,
      reason: 'the result is null (no matching events)',
    });
    p.close();
  });

  it("reports New Relic's own message for a refused key and an NRQL syntax error, and honours Retry-After", async () => {
    const wrong = provider('NRIQ-wrong-00000000');
    const auth = await providerFailure(wrong.query('SELECT count(*) FROM Transaction'));
    wrong.close();
    expect(auth.kind).toBe('auth');
    expect(auth.message).toContain(
      'answered 401 Unauthorized (Invalid query key); check newrelic_account_id and newrelic_query_key',
    );

    const p = provider();
    const bad = await providerFailure(p.query('SELEC count(*) FROM Transaction'));
    expect(bad.kind).toBe('bad-query');
    expect(bad.message).toBe(
      "New Relic rejected the query (HTTP 400): NRQL Syntax Error: Error at line 1 position 1, unexpected 'SELEC'",
    );

    newrelic.answer('SELECT max(x)', 'rate-limited');
    expect((await providerFailure(p.query('SELECT max(x) FROM Metric'))).kind).toBe('rate-limited');
    const sent = newrelic.queries.length;
    expect((await providerFailure(p.query('SELECT count(*) FROM Transaction'))).kind).toBe('rate-limited');
    expect(newrelic.queries.length).toBe(sent);
    p.close();
  });

  it('refuses a row of several values and an account id that is not a number', async () => {
    newrelic.answer('SELECT min(duration), max(duration)', { 'min.duration': 1, 'max.duration': 2 });
    const p = provider();
    const several = await providerFailure(p.query('SELECT min(duration), max(duration) FROM Transaction'));
    p.close();
    expect(several.message).toBe('the query returned min.duration, max.duration; select one value');
    expect(() =>
      createNewRelicProvider({
        type: 'newrelic',
        address: newrelic.url,
        timeoutMs: 1,
        secretValues: { newrelic_account_id: 'x', newrelic_query_key: key },
      }),
    ).toThrow('New Relic needs a numeric newrelic_account_id and newrelic_query_key in the provider Secret');
  });
});
