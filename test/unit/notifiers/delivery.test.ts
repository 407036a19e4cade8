import { afterEach, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { Registry } from 'prom-client';
import type { ResolvedProvider } from '../../../src/notifiers/config.ts';
import {
  AlertDispatcher,
  backoffDelay,
  type AlertDispatcherOptions,
  type DeliveryFailure,
} from '../../../src/notifiers/delivery.ts';
import type { AlertMessage, AlertSeverity } from '../../../src/notifiers/message.ts';
import { createAlertMetrics } from '../../../src/notifiers/metrics.ts';
import {
  createHttpTransport,
  type AlertTransport,
  type TransportResponse,
} from '../../../src/notifiers/transport.ts';
import { alertMessage, provider, rolledBack } from './fixtures.ts';
import { capturedLogger, deadUrl, startReceiver, type Receiver } from './receiver.ts';

// A fake clock that only moves when the dispatcher sleeps, so back-off is measured exactly.
function fakeTime(start = Date.UTC(2025, 0, 2, 3, 4, 5)) {
  let now = start;
  const sleeps: number[] = [];
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
    sleeps,
    sleep: async (ms: number, signal: AbortSignal) => {
      if (signal.aborted) throw new Error('aborted');
      sleeps.push(ms);
      now += ms;
    },
  };
}

interface Call {
  url: string;
  body: { alert?: AlertMessage };
}

/** Answers each request with the next scripted response (the last one repeats). */
function scriptedTransport(...script: (TransportResponse | Error)[]): AlertTransport & { calls: Call[] } {
  const calls: Call[] = [];
  return {
    calls,
    async send(request) {
      calls.push({ url: request.url, body: JSON.parse(request.body) as Call['body'] });
      const next = script[Math.min(calls.length - 1, script.length - 1)];
      if (next instanceof Error) throw next;
      if (next === undefined) throw new Error('empty script');
      return next;
    },
  };
}

const ok: TransportResponse = { status: 200, body: 'ok' };
// The generic webhook echoes the structured alert, which makes sent messages easy to inspect.
const hook = provider('webhook');

function dispatcher(overrides: Partial<AlertDispatcherOptions> & Pick<AlertDispatcherOptions, 'transport'>) {
  const time = fakeTime();
  const failures: DeliveryFailure[] = [];
  const { logger, output } = capturedLogger();
  const instance = new AlertDispatcher({
    logger,
    now: time.now,
    sleep: time.sleep,
    random: () => 0.5,
    minIntervalMs: 0,
    onDeliveryFailed: (failure) => failures.push(failure),
    ...overrides,
  });
  return { dispatcher: instance, time, failures, logs: output };
}

describe('backoffDelay', () => {
  it('doubles per attempt, caps at the maximum and keeps jitter within [half, full]', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 30 }),
        fc.double({ min: 0, max: 0.999, noNaN: true }),
        (attempt, random) => {
          const ceiling = Math.min(60_000, 1000 * 2 ** (attempt - 1));
          const delay = backoffDelay(attempt, 1000, 60_000, random);
          expect(delay).toBeGreaterThanOrEqual(Math.floor(ceiling / 2));
          expect(delay).toBeLessThanOrEqual(ceiling);
        },
      ),
    );
  });
});

describe('AlertDispatcher', () => {
  it('retries retryable failures with exponential back-off and jitter, then delivers', async () => {
    const transport = scriptedTransport(
      { status: 500, body: '' },
      new Error('socket hang up'),
      { status: 503, body: '' },
      ok,
    );
    const { dispatcher: d, time } = dispatcher({ transport });
    d.enqueue(alertMessage(), [hook]);
    await d.idle();
    expect(transport.calls).toHaveLength(4);
    // random() = 0.5 puts each delay at three quarters of 1 s, 2 s, 4 s.
    expect(time.sleeps).toEqual([750, 1500, 3000]);
    expect(d.stats()).toMatchObject({ sent: 1, retried: 3, failed: 0 });
  });

  it('waits what a 429 Retry-After asks, in seconds or as an HTTP date', async () => {
    const time = fakeTime();
    const transport = scriptedTransport(
      { status: 429, body: '', retryAfter: '7' },
      { status: 429, body: '', retryAfter: new Date(time.now() + 7000 + 30_000).toUTCString() },
      ok,
    );
    const { logger } = capturedLogger();
    const d = new AlertDispatcher({ logger, transport, now: time.now, sleep: time.sleep, minIntervalMs: 0 });
    d.enqueue(alertMessage(), [hook]);
    await d.idle();
    expect(time.sleeps).toEqual([7000, 30_000]);
    expect(d.stats().sent).toBe(1);
  });

  it('falls back to back-off for a 429 without Retry-After', async () => {
    const transport = scriptedTransport({ status: 429, body: '' }, ok);
    const { dispatcher: d, time } = dispatcher({ transport });
    d.enqueue(alertMessage(), [hook]);
    await d.idle();
    expect(time.sleeps).toEqual([750]);
  });

  it('gives up when Retry-After is longer than it is willing to wait', async () => {
    const transport = scriptedTransport({ status: 429, body: 'slow down', retryAfter: '86400' });
    const { dispatcher: d, time, failures } = dispatcher({ transport, maxRetryAfterMs: 60_000 });
    d.enqueue(rolledBack(), [hook]);
    await d.idle();
    expect(transport.calls).toHaveLength(1);
    expect(time.sleeps).toEqual([]);
    expect(failures).toEqual([
      expect.objectContaining({
        reason: 'rate-limited',
        kind: 'RolledBack',
        destination: 'AlertProvider test/webhook',
      }),
    ]);
    expect(failures[0]?.message).toMatch(/Retry-After asks for 86400s, more than the 60s limit/);
  });

  it('stops after maxAttempts retryable failures', async () => {
    const transport = scriptedTransport({ status: 502, body: 'bad gateway' });
    const { dispatcher: d, failures } = dispatcher({ transport, maxAttempts: 3 });
    d.enqueue(alertMessage(), [hook]);
    await d.idle();
    expect(transport.calls).toHaveLength(3);
    expect(failures.map((f) => [f.reason, f.message])).toEqual([
      ['exhausted', 'HTTP 502: bad gateway; gave up after 3 attempts'],
    ]);
  });

  it('does not retry a request the service rejected', async () => {
    const transport = scriptedTransport({ status: 400, body: 'invalid_blocks' });
    const { dispatcher: d, failures } = dispatcher({ transport });
    d.enqueue(alertMessage(), [hook]);
    await d.idle();
    expect(transport.calls).toHaveLength(1);
    expect(failures.map((f) => [f.reason, f.message])).toEqual([['rejected', 'HTTP 400: invalid_blocks']]);
  });

  it('treats an error flag inside a 200 reply as a rejection', async () => {
    const transport = scriptedTransport({ status: 200, body: '{"ok":false,"error":"not_in_channel"}' });
    const { dispatcher: d, failures } = dispatcher({ transport });
    d.enqueue(alertMessage(), [provider('slack')]);
    await d.idle();
    expect(failures.map((f) => f.message)).toEqual(['Slack API error: not_in_channel']);
    expect(d.stats().sent).toBe(0);
  });

  it('suppresses an identical alert to the same destination within the window, and only then', async () => {
    const transport = scriptedTransport(ok);
    const { dispatcher: d, time } = dispatcher({ transport, dedupWindowMs: 60_000 });
    const other = provider('webhook', { id: 'AlertProvider test/other' });
    d.enqueue(alertMessage(), [hook, other]);
    d.enqueue(alertMessage({ summary: 'reworded, same event' }), [hook]);
    d.enqueue(alertMessage({ step: 3 }), [hook]);
    await d.idle();
    expect(transport.calls).toHaveLength(3);
    expect(d.stats().deduplicated).toBe(1);

    time.advance(60_001);
    d.enqueue(alertMessage(), [hook]);
    await d.idle();
    expect(transport.calls).toHaveLength(4);
  });

  it('sends the alerts of a retried run of the same revision, and de-duplicates within that run', async () => {
    const transport = scriptedTransport(ok);
    const { dispatcher: d } = dispatcher({ transport });
    d.enqueue(rolledBack({ run: 1 }), [hook]);
    d.enqueue(rolledBack({ run: 2 }), [hook]);
    d.enqueue(rolledBack({ run: 2 }), [hook]);
    await d.idle();
    expect(transport.calls.map((call) => call.body.alert?.run)).toEqual([1, 2]);
    expect(d.stats().deduplicated).toBe(1);
  });

  it('sends serially per destination, in order, while other destinations proceed', async () => {
    const pending: { url: string; step: number; resolve: (r: TransportResponse) => void }[] = [];
    const transport: AlertTransport = {
      send: (request) =>
        new Promise((resolve) => {
          const body = JSON.parse(request.body) as { alert: AlertMessage };
          pending.push({ url: request.url, step: body.alert.step, resolve });
        }),
    };
    const { dispatcher: d } = dispatcher({ transport });
    const a = provider('webhook', { id: 'a', address: 'https://a.example/hook' });
    const b = provider('webhook', { id: 'b', address: 'https://b.example/hook' });
    d.enqueue(alertMessage({ step: 1 }), [a]);
    d.enqueue(alertMessage({ step: 2 }), [a]);
    d.enqueue(alertMessage({ step: 1 }), [b]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(pending.map((p) => [p.url, p.step])).toEqual([
      ['https://a.example/hook', 1],
      ['https://b.example/hook', 1],
    ]);
    pending.shift()?.resolve(ok);
    await new Promise((resolve) => setImmediate(resolve));
    expect(pending.map((p) => [p.url, p.step])).toEqual([
      ['https://b.example/hook', 1],
      ['https://a.example/hook', 2],
    ]);
    for (const p of pending.splice(0)) p.resolve(ok);
    await d.idle();
    expect(d.stats().sent).toBe(3);
  });

  it('spaces posts to one destination by minIntervalMs', async () => {
    const transport = scriptedTransport(ok);
    const { dispatcher: d, time } = dispatcher({ transport, minIntervalMs: 1000 });
    d.enqueue(alertMessage({ step: 1 }), [hook]);
    d.enqueue(alertMessage({ step: 2 }), [hook]);
    await d.idle();
    expect(time.sleeps).toEqual([1000]);
  });

  it('bounds each queue, dropping the least severe and oldest alert first', async () => {
    const sent: number[] = [];
    let release: () => void = () => undefined;
    const firstDone = new Promise<void>((resolve) => {
      release = resolve;
    });
    const transport: AlertTransport = {
      async send(request) {
        const { alert } = JSON.parse(request.body) as { alert: AlertMessage };
        sent.push(alert.step);
        if (alert.step === 1) await firstDone;
        return ok;
      },
    };
    const { dispatcher: d } = dispatcher({ transport, maxQueuePerDestination: 2 });
    const at = (step: number, severity: AlertSeverity) => alertMessage({ step, severity });
    d.enqueue(at(1, 'info'), [hook]);
    await new Promise((resolve) => setImmediate(resolve)); // step 1 is now in flight
    d.enqueue(at(2, 'info'), [hook]);
    d.enqueue(at(3, 'error'), [hook]);
    d.enqueue(at(4, 'error'), [hook]); // full: drops 2 (info, oldest)
    d.enqueue(at(5, 'info'), [hook]); // full of errors: drops the incoming info
    expect(d.stats()).toMatchObject({ queued: 2, dropped: 2 });
    release();
    await d.idle();
    expect(sent).toEqual([1, 3, 4]);
  });

  it('never throws into the caller, even when the transport or the payload builder does', async () => {
    const transport: AlertTransport = {
      send: () => {
        throw new Error('synchronous failure');
      },
    };
    const { dispatcher: d, failures } = dispatcher({ transport, maxAttempts: 2 });
    const broken = { ...hook, id: 'broken', type: 'pigeon' } as unknown as ResolvedProvider;
    expect(() => d.enqueue(alertMessage(), [broken, hook])).not.toThrow();
    await d.idle();
    expect(failures.map((f) => [f.destination, f.reason])).toEqual([
      ['broken', 'invalid'],
      ['AlertProvider test/webhook', 'exhausted'],
    ]);
  });

  it('stops on close(), dropping what is queued and interrupting back-off', async () => {
    const { logger } = capturedLogger();
    const transport = scriptedTransport({ status: 503, body: '' });
    let sleeping: () => void = () => undefined;
    const asleep = new Promise<void>((resolve) => {
      sleeping = resolve;
    });
    const d = new AlertDispatcher({
      logger,
      transport,
      minIntervalMs: 0,
      // Sleeps until aborted, like a long back-off would.
      sleep: (_ms, signal) =>
        new Promise((_resolve, reject) => {
          sleeping();
          signal.addEventListener('abort', () => reject(new Error('aborted')));
        }),
    });
    d.enqueue(alertMessage({ step: 1 }), [hook]);
    d.enqueue(alertMessage({ step: 2 }), [hook]);
    await asleep;
    await d.close();
    d.enqueue(alertMessage({ step: 3 }), [hook]);
    expect(d.stats()).toMatchObject({ queued: 0, sent: 0, dropped: 3 });
  });

  it('counts outcomes in prom-client counters labelled by provider type', async () => {
    const registry = new Registry();
    const metrics = createAlertMetrics(registry);
    const transport = scriptedTransport({ status: 500, body: '' }, ok);
    const { dispatcher: d } = dispatcher({ transport, metrics });
    d.enqueue(alertMessage(), [provider('discord')]);
    d.enqueue(alertMessage(), [provider('discord')]);
    await d.idle();
    const text = await registry.metrics();
    expect(text).toContain('fledge_alerts_sent_total{provider="discord"} 1');
    expect(text).toContain('fledge_alert_retries_total{provider="discord"} 1');
    expect(text).toContain('fledge_alerts_deduplicated_total{provider="discord"} 1');
    expect(text).toContain('fledge_alerts_failed_total{provider="slack",reason="exhausted"} 0');
  });
});

describe('AlertDispatcher over HTTP', () => {
  let receiver: Receiver | undefined;
  afterEach(async () => {
    await receiver?.close();
    receiver = undefined;
  });

  it('honours a real 429 with Retry-After from the service', async () => {
    let calls = 0;
    receiver = await startReceiver(() => {
      calls += 1;
      return calls === 1 ? { status: 429, headers: { 'Retry-After': '3' } } : { status: 200, body: 'ok' };
    });
    const { dispatcher: d, time } = dispatcher({ transport: createHttpTransport() });
    d.enqueue(rolledBack(), [provider('slack', { address: `${receiver.url}/services/T/B/X` })]);
    await d.idle();
    expect(time.sleeps).toEqual([3000]);
    expect(receiver.received).toHaveLength(2);
    expect(d.stats().sent).toBe(1);
  });

  it('survives a receiver that is down, without throwing and without leaking the URL or token', async () => {
    const secretPath = '/services/T0SECRET/B0SECRET/XXXXXXXXXXXXSECRET';
    const down = provider('webhook', { address: `${await deadUrl()}${secretPath}`, token: 'tok-SECRET-123' });
    const {
      dispatcher: d,
      failures,
      logs,
    } = dispatcher({ transport: createHttpTransport(), maxAttempts: 2 });
    expect(() => d.enqueue(rolledBack(), [down])).not.toThrow();
    await d.idle();
    expect(failures.map((f) => f.reason)).toEqual(['exhausted']);
    expect(failures[0]?.message).toMatch(/ECONNREFUSED/);
    const output = logs() + JSON.stringify(failures);
    expect(output).toContain('AlertProvider test/webhook');
    expect(output).not.toContain('SECRET');
  });

  it('redacts the webhook URL when a service echoes it back in an error', async () => {
    receiver = await startReceiver((request) => ({
      status: 404,
      body: `no hook at ${receiver?.url}${request.url} (${request.url})`,
    }));
    const secret = provider('rocket', { address: `${receiver.url}/hooks/abc123SECRET/def456SECRET` });
    const { dispatcher: d, failures, logs } = dispatcher({ transport: createHttpTransport() });
    d.enqueue(rolledBack(), [secret]);
    await d.idle();
    expect(failures[0]?.message).toMatch(/^HTTP 404: no hook at \[redacted\] \(\[redacted\]\)$/);
    expect(logs() + JSON.stringify(failures)).not.toContain('SECRET');
  });
});
