import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createDynatraceProvider } from '../../../src/analysis/stores/dynatrace.ts';
import { startFakeDynatrace, type FakeDynatrace } from '../../harness/dynatrace.ts';
import { providerFailure } from './loopback.ts';

// The dynatrace store against a loopback HTTPS server speaking metrics API v2.

const token = 'dt0c01.Xw7bKq3mZp9v';

describe('dynatrace store', () => {
  let dynatrace: FakeDynatrace;
  beforeAll(async () => {
    dynatrace = await startFakeDynatrace(token);
  });
  afterAll(async () => dynatrace.close());

  const provider = (secret = token) =>
    createDynatraceProvider({
      type: 'dynatrace',
      address: dynatrace.url,
      timeoutMs: 2000,
      tls: { ca: dynatrace.ca },
      secretValues: { dynatrace_token: secret },
    });

  it('asks over ten metric intervals at resolution Inf and reads the one value', async () => {
    dynatrace.answer('builtin:service.errors.total.rate:avg', { '': [0.4] });
    const p = provider();
    await expect(p.query('builtin:service.errors.total.rate:avg', undefined, 30_000)).resolves.toBe(0.4);
    p.close();
    const sent = dynatrace.requests.at(-1);
    expect(sent?.get('resolution')).toBe('Inf');
    expect(Number(sent?.get('to')) - Number(sent?.get('from'))).toBe(300_000);
  });

  it('has no data without series or values, and refuses several series', async () => {
    dynatrace.answer('builtin:gap', { 'SERVICE-1': [null] });
    dynatrace.answer('builtin:split', { 'SERVICE-1': [1], 'SERVICE-2': [2] });
    const p = provider();
    await expect(p.query('builtin:none')).resolves.toEqual({
      noData: true,
      reason: 'the selector returned no series',
    });
    await expect(p.query('builtin:gap')).resolves.toEqual({
      noData: true,
      reason: 'the series has no value in the window',
    });
    const several = await providerFailure(p.query('builtin:split'));
    p.close();
    expect(several.kind).toBe('unusable-result');
    expect(several.message).toMatch(/^the selector returned 2 series \(SERVICE-1, SERVICE-2\)/);
  });

  it("reports Dynatrace's own message for a refused token and an invalid selector, and waits out a 429", async () => {
    const wrong = provider('dt0c01.wrong-000000');
    const auth = await providerFailure(wrong.query('builtin:x'));
    wrong.close();
    expect(auth.kind).toBe('auth');
    expect(auth.message).toContain(
      'answered 401 Unauthorized (Token Authentication failed); check dynatrace_token',
    );

    const p = provider();
    const bad = await providerFailure(p.query('not a selector'));
    expect(bad.kind).toBe('bad-query');
    expect(bad.message).toBe(
      "Dynatrace rejected the query (HTTP 400): Constraints violated: metricSelector: The metric selector 'not a selector' is invalid.",
    );
    dynatrace.answer('builtin:busy', 'rate-limited');
    const limited = await providerFailure(p.query('builtin:busy'));
    expect(limited.kind).toBe('rate-limited');
    const sent = dynatrace.requests.length;
    const held = await providerFailure(p.query('builtin:x'));
    expect(held.message).toMatch(/no query was sent/);
    // The reset header is in microseconds: the wait ends about 30 s from now, not in a far future.
    const until = Date.parse(/until (\S+)/.exec(held.message)?.[1] ?? '');
    expect(until - Date.now()).toBeLessThan(120_000);
    expect(dynatrace.requests.length).toBe(sent);
    p.close();
  });
});
