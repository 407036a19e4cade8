import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createInfluxdbProvider } from '../../../src/analysis/stores/influxdb.ts';
import { startInfluxDB, type InfluxDB } from '../../harness/influxdb.ts';
import { providerFailure } from '../../unit/analysis/loopback.ts';

// The influxdb store's InfluxQL side against Debian's InfluxDB 1.6 with
// authentication on, fed real points. (1.6 has no Flux; the Flux side is tested
// against the 2.x API's documented answers in test/unit/analysis/influxdb.test.ts.)

const admin = { username: 'fledge', password: 'in-Hx6cVb2nQz8r' };

describe('influxdb store against a real InfluxDB 1.6', () => {
  let influx: InfluxDB;
  beforeAll(async () => {
    influx = await startInfluxDB(admin);
    await influx.influxql('CREATE DATABASE apps');
    await influx.write('apps', [
      'requests,canary=podinfo success_rate=97',
      'requests,canary=other success_rate=50',
    ]);
    await influx.write('apps', ['requests,canary=podinfo success_rate=99.5']);
  }, 60_000);
  afterAll(async () => influx?.stop());

  const provider = (password = admin.password) =>
    createInfluxdbProvider({
      type: 'influxdb',
      address: influx.url,
      timeoutMs: 5000,
      credentials: { type: 'basic', username: admin.username, password },
    });

  it('reads the one value of an InfluxQL query with basic auth', async () => {
    const p = provider();
    await expect(
      p.query(
        `SELECT last(success_rate) FROM "apps"."autogen"."requests" WHERE canary = 'podinfo' AND time > now() - 5m`,
      ),
    ).resolves.toBe(99.5);
    await expect(
      p.query(`SELECT last(success_rate) FROM "apps"."autogen"."requests" WHERE canary = 'nobody'`),
    ).resolves.toEqual({
      noData: true,
      reason: 'the query returned no series',
    });
    p.close();
  });

  it("reports InfluxDB's own message for a bad query, refused credentials and several series", async () => {
    const p = provider();
    const bad = await providerFailure(p.query('SELEC 1'));
    expect(bad.kind).toBe('bad-query');
    expect(bad.message).toMatch(
      /^InfluxDB rejected the query \(HTTP 400\): error parsing query: found SELEC, expected SELECT/,
    );
    const grouped = await providerFailure(
      p.query(`SELECT last(success_rate) FROM "apps"."autogen"."requests" GROUP BY canary`),
    );
    expect(grouped.kind).toBe('unusable-result');
    expect(grouped.message).toMatch(/^the query returned 2 series/);
    p.close();
    const wrong = provider('not-the-Password-9');
    const auth = await providerFailure(wrong.query('SHOW DATABASES'));
    wrong.close();
    expect(auth.kind).toBe('auth');
    expect(auth.message).toContain('answered 401 Unauthorized (authorization failed)');
  });
});
