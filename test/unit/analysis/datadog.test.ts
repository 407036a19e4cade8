import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { ProviderConfig } from '../../../src/analysis/provider.ts';
import { createDatadogProvider } from '../../../src/analysis/stores/datadog.ts';
import { startFakeDatadog, type FakeDatadog } from '../../harness/datadog.ts';
import { providerFailure } from './loopback.ts';

// The datadog store against a loopback HTTPS server speaking Datadog's
// metrics query API: keys, the time window, the point picked, and errors.

const keys = { api: 'dd-api-Vq3xLm8pRt2w', application: 'dd-app-Kz7nBw4yHs1c' };

describe('datadog store', () => {
  let datadog: FakeDatadog;
  beforeAll(async () => {
    datadog = await startFakeDatadog(keys);
  });
  afterAll(async () => datadog.close());

  function provider(secretValues: Record<string, string> = {}) {
    const config: ProviderConfig = {
      type: 'datadog',
      address: datadog.url,
      timeoutMs: 2000,
      tls: { ca: datadog.ca },
      secretValues: { datadog_api_key: keys.api, datadog_application_key: keys.application, ...secretValues },
    };
    return createDatadogProvider(config);
  }

  it('asks over ten metric intervals and takes the oldest point with a value', async () => {
    const query = 'avg:trace.http.request.errors{service:podinfo}';
    datadog.answer(query, { series: [[null, 0.5, 3]] });
    const p = provider();
    await expect(p.query(query, undefined, 30_000)).resolves.toBe(0.5);
    p.close();
    const sent = datadog.queries.at(-1);
    expect(sent?.query).toBe(query);
    expect((sent?.to ?? 0) - (sent?.from ?? 0)).toBe(300);
  });

  it('has no data for an empty series list or a series of gaps', async () => {
    datadog.answer('avg:gaps{service:a}', { series: [[null, null]] });
    const p = provider();
    await expect(p.query('avg:none{service:a}')).resolves.toEqual({
      noData: true,
      reason: 'the query returned no series',
    });
    await expect(p.query('avg:gaps{service:a}')).resolves.toEqual({
      noData: true,
      reason: 'the series has no points in the window',
    });
    p.close();
  });

  it("reports Datadog's own message for refused keys and a query it cannot parse", async () => {
    const wrong = provider({ datadog_application_key: 'dd-app-wrong-0000000' });
    const auth = await providerFailure(wrong.query('avg:x{a:b}'));
    wrong.close();
    expect(auth.kind).toBe('auth');
    expect(auth.message).toBe(
      `Datadog at ${datadog.url} answered 403 Forbidden (Forbidden); check datadog_api_key and datadog_application_key in the Secret named by spec.provider.secretRef`,
    );
    const p = provider();
    const bad = await providerFailure(p.query('not a query'));
    p.close();
    expect(bad.kind).toBe('bad-query');
    expect(bad.message).toMatch(
      /^Datadog rejected the query \(HTTP 400\): Error parsing query: unable to parse not a query/,
    );
  });

  it('honours X-RateLimit-Reset on a 429 and sends nothing until then', async () => {
    datadog.answer('avg:busy{a:b}', { rateLimitedFor: 600 });
    const p = provider();
    const before = datadog.queries.length;
    const first = await providerFailure(p.query('avg:busy{a:b}'));
    expect(first.kind).toBe('rate-limited');
    expect(first.message).toContain('Rate limit of 1600 requests in 3600 seconds reached');
    expect((await providerFailure(p.query('avg:other{a:b}'))).kind).toBe('rate-limited');
    expect(datadog.queries.length - before).toBe(1);
    p.close();
  });

  it('refuses several series rather than picking one', async () => {
    datadog.answer('avg:x{a:b} by {pod}', { series: [[1], [2]] });
    const p = provider();
    const err = await providerFailure(p.query('avg:x{a:b} by {pod}'));
    p.close();
    expect(err.kind).toBe('unusable-result');
    expect(err.message).toBe(
      'the query returned 2 series (a:b,group:0, a:b,group:1); aggregate it, e.g. sum:metric{...}, so it returns one',
    );
  });
});
