import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { WebhookTypes, type NormalizedWebhook, type WebhookType } from '../../../src/api/index.ts';
import {
  eventWebhooksFor,
  maxMessageLength,
  webhookChecksum,
  WebhookClient,
  type HookCall,
  type WebhookClientOptions,
} from '../../../src/hooks/index.ts';
import { capturedLogger, freePort, InstantPauseClock, startReceiver, type Receiver } from './receiver.ts';
import { knownSecrets } from '../../../src/telemetry/secrets.ts';

const canary = { name: 'podinfo', namespace: 'apps' };
const checksum = webhookChecksum({
  lastAppliedSpec: 'abc123',
  trackedConfigs: { 'configmap/cfg': 'deadbeef' },
});

function hook(url: string, overrides: Partial<NormalizedWebhook> = {}): NormalizedWebhook {
  return {
    name: 'load-test',
    type: 'rollout',
    url,
    timeout: '10s',
    retries: 0,
    disableTLS: false,
    muteAlert: false,
    ...overrides,
  };
}

const requestId = 'uid-1/r2/t3/hook/rollout/0-load-test';

function call(webhook: NormalizedWebhook): HookCall {
  return { id: requestId, canary, webhook, phase: 'Progressing', checksum };
}

// Every test closes what it opened, so no socket outlives it.
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function receiver(...args: Parameters<typeof startReceiver>): Promise<Receiver> {
  const started = await startReceiver(...args);
  cleanups.push(() => started.close());
  return started;
}

function client(options: Partial<WebhookClientOptions> = {}) {
  const { logger, output } = capturedLogger();
  const clock = new InstantPauseClock();
  const webhooks = new WebhookClient({ logger, clock, backoff: { baseMs: 100, maxMs: 1000 }, ...options });
  cleanups.push(() => webhooks.close());
  return { webhooks, clock, logs: output };
}

describe('payload', () => {
  const lifecycleTypes = WebhookTypes.filter(
    (type): type is Exclude<WebhookType, 'event'> => type !== 'event',
  );

  it.each(lifecycleTypes)(
    'a %s hook POSTs JSON with name, namespace, phase, checksum and metadata',
    async (type) => {
      const endpoint = await receiver(() => ({ status: 200 }));
      const { webhooks } = client();
      const result = await webhooks.call({
        id: requestId,
        canary,
        webhook: hook(`${endpoint.url}/hook`, { type, metadata: { cmd: 'hey -z 1m http://podinfo-canary' } }),
        phase: 'WaitingPromotion',
        checksum,
      });
      expect(result).toMatchObject({ name: 'load-test', type, ok: true, status: 200, attempts: 1 });
      expect(endpoint.received).toHaveLength(1);
      const [request] = endpoint.received;
      expect(request?.method).toBe('POST');
      expect(request?.headers['content-type']).toBe('application/json');
      expect(request?.headers['idempotency-key']).toBe(requestId);
      expect(request?.body).toEqual({
        name: 'podinfo',
        namespace: 'apps',
        phase: 'WaitingPromotion',
        checksum,
        metadata: { cmd: 'hey -z 1m http://podinfo-canary' },
      });
    },
  );

  it('sends an empty metadata object when the hook has none', async () => {
    const endpoint = await receiver(() => ({ status: 200 }));
    const { webhooks } = client();
    await webhooks.call(call(hook(endpoint.url)));
    expect(endpoint.received[0]?.body).toEqual({
      name: 'podinfo',
      namespace: 'apps',
      phase: 'Progressing',
      checksum,
      metadata: {},
    });
  });

  it('an event hook gets eventMessage, eventType and a millisecond timestamp; event keys win over spec metadata', async () => {
    const endpoint = await receiver(() => ({ status: 200 }));
    const { webhooks } = client();
    const before = Date.now();
    webhooks.sendEvent(
      hook(endpoint.url, { type: 'event', metadata: { team: 'payments', eventType: 'from-spec' } }),
      { canary, phase: 'Failed', checksum, eventType: 'Warning', message: 'Rolling back podinfo.apps' },
    );
    await endpoint.waitFor(1);
    const body = endpoint.received[0]?.body as { metadata: Record<string, string> };
    expect(body).toEqual({
      name: 'podinfo',
      namespace: 'apps',
      phase: 'Failed',
      checksum,
      metadata: {
        team: 'payments',
        eventMessage: 'Rolling back podinfo.apps',
        eventType: 'Warning',
        timestamp: expect.stringMatching(/^\d+$/),
      },
    });
    const timestamp = Number(body.metadata.timestamp);
    expect(timestamp).toBeGreaterThanOrEqual(before);
    expect(timestamp).toBeLessThanOrEqual(Date.now());
  });

  it('an event delivery that fails is logged as a warning, without the URL', async () => {
    const endpoint = await receiver(() => ({ status: 500, body: 'event sink down' }));
    const { webhooks, logs } = client();
    webhooks.sendEvent(hook(`${endpoint.url}/events?key=EVENTKEY123`, { type: 'event' }), {
      canary,
      phase: 'Progressing',
      checksum,
      eventType: 'Normal',
      message: 'Advance podinfo.apps canary weight 10',
    });
    await webhooks.drainEvents();
    const lines = logs()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).toContainEqual(
      expect.objectContaining({ level: 40, hook: 'load-test', msg: 'event webhook failed: event sink down' }),
    );
    expect(logs()).not.toContain('EVENTKEY123');
    expect(logs()).not.toContain('/events');
  });
});

describe('event delivery', () => {
  const event = {
    canary,
    phase: 'Progressing',
    checksum,
    eventType: 'Normal',
    message: 'Starting canary analysis',
  } as const;

  it('drops events beyond the in-flight limit, with a warning', async () => {
    const endpoint = await receiver(() => 'hang');
    const { webhooks, logs } = client({ maxPendingEvents: 1 });
    webhooks.sendEvent(hook(endpoint.url, { type: 'event' }), event);
    webhooks.sendEvent(hook(endpoint.url, { type: 'event' }), event);
    await endpoint.waitFor(1);
    await webhooks.close();
    expect(endpoint.received).toHaveLength(1);
    expect(logs()).toContain('event webhook dropped: too many event deliveries in flight');
  });

  it('close cancels deliveries in flight and sends nothing afterwards', async () => {
    const endpoint = await receiver(() => 'hang');
    const { webhooks, logs } = client();
    webhooks.sendEvent(hook(endpoint.url, { type: 'event', timeout: '1h' }), event);
    await endpoint.waitFor(1);
    // Resolves only because the hanging delivery is aborted (its timeout is an hour).
    await webhooks.close();
    webhooks.sendEvent(hook(endpoint.url, { type: 'event' }), event);
    expect(endpoint.received).toHaveLength(1);
    expect(logs()).toContain('event webhook not sent: the webhook client is closed');
    expect(logs()).not.toContain('event webhook failed');
  });
});

describe('webhookChecksum', () => {
  it('is stable, ignores the order of tracked configs, and changes with the revision or any config', () => {
    const base = { lastAppliedSpec: 'rev-1', trackedConfigs: { 'configmap/a': '1', 'secret/b': '2' } };
    expect(webhookChecksum(base)).toBe(
      webhookChecksum({ lastAppliedSpec: 'rev-1', trackedConfigs: { 'secret/b': '2', 'configmap/a': '1' } }),
    );
    expect(webhookChecksum(base)).not.toBe(webhookChecksum({ ...base, lastAppliedSpec: 'rev-2' }));
    expect(webhookChecksum(base)).not.toBe(
      webhookChecksum({ ...base, trackedConfigs: { 'configmap/a': '1', 'secret/b': '3' } }),
    );
    expect(webhookChecksum(undefined)).toBe(webhookChecksum({}));
  });
});

describe('eventWebhooksFor', () => {
  const own = hook('http://sink.apps/own', { name: 'own-events', type: 'event' });
  const rollout = hook('http://loadtester.apps/', { type: 'rollout' });

  it("uses the canary's own event hooks instead of the global one", () => {
    expect(eventWebhooksFor([rollout, own], 'http://global.example/events')).toEqual([own]);
  });

  it('falls back to the global event webhook, and to none without one', () => {
    expect(eventWebhooksFor([rollout], 'http://global.example/events')).toEqual([
      {
        name: 'events',
        type: 'event',
        url: 'http://global.example/events',
        timeout: '10s',
        retries: 0,
        disableTLS: false,
        muteAlert: false,
      },
    ]);
    expect(eventWebhooksFor([rollout], undefined)).toEqual([]);
  });
});

describe('success rule', () => {
  it.each([200, 201, 202])('HTTP %i is a success', async (status) => {
    const endpoint = await receiver(() => ({ status, body: 'Approved' }));
    const { webhooks } = client();
    const result = await webhooks.call(call(hook(endpoint.url)));
    expect(result).toMatchObject({ ok: true, status, message: 'Approved' });
    expect(result.durationMs).toBeGreaterThanOrEqual(0);
  });

  it.each([203, 204, 400, 403, 404, 500, 503])('HTTP %i is a failure carrying the body', async (status) => {
    const endpoint = await receiver(() => ({ status, body: `gate says no (${status})` }));
    const { webhooks } = client();
    const result = await webhooks.call(call(hook(endpoint.url)));
    // 204 cannot carry a body: the message names the status instead.
    const message = status === 204 ? 'HTTP 204 with an empty body' : `gate says no (${status})`;
    expect(result).toEqual({
      name: 'load-test',
      type: 'rollout',
      ok: false,
      status,
      message,
      attempts: 1,
      durationMs: expect.any(Number),
    });
  });

  it('does not follow redirects and says so', async () => {
    const endpoint = await receiver(() => ({ status: 302, body: '' }));
    const { webhooks } = client();
    const result = await webhooks.call(call(hook(endpoint.url)));
    expect(result.ok).toBe(false);
    expect(result.status).toBe(302);
    expect(result.message).toContain('redirects are not followed');
  });

  it('collapses whitespace and truncates a long body', async () => {
    const page = `<html>\n  <body>\n${'x'.repeat(10_000)}</body></html>`;
    const endpoint = await receiver(() => ({ status: 403, body: page }));
    const { webhooks } = client();
    const result = await webhooks.call(call(hook(endpoint.url)));
    expect(result.message).toHaveLength(maxMessageLength);
    expect(result.message.startsWith('<html> <body> xxx')).toBe(true);
    expect(result.message.endsWith('…')).toBe(true);
  });

  it('fails without sending anything when the timeout is not a Go duration', async () => {
    const endpoint = await receiver(() => ({ status: 200 }));
    const { webhooks } = client();
    const result = await webhooks.call(call(hook(endpoint.url, { timeout: '10 seconds' })));
    expect(result).toMatchObject({ ok: false, attempts: 0 });
    expect(result.message).toContain('webhook "load-test" timeout');
    expect(endpoint.received).toHaveLength(0);
  });
});

describe('timeout and cancellation', () => {
  it('gives up when no answer comes within the timeout', async () => {
    const endpoint = await receiver(() => 'hang');
    const { webhooks } = client();
    const result = await webhooks.call(call(hook(endpoint.url, { timeout: '200ms', retries: 3 })));
    expect(result).toMatchObject({
      ok: false,
      attempts: 1,
      message: 'request failed: no answer within the 200ms timeout',
    });
    expect(result.status).toBeUndefined();
  });

  it('stops when the caller cancels', async () => {
    const endpoint = await receiver(() => 'hang');
    const { webhooks } = client();
    const abort = new AbortController();
    const pending = webhooks.call(call(hook(endpoint.url)), abort.signal);
    await endpoint.waitFor(1);
    abort.abort();
    expect(await pending).toMatchObject({
      ok: false,
      message: 'request failed: cancelled before it completed',
    });
  });
});

describe('retries', () => {
  it('retries 5xx answers with exponential back-off until one succeeds', async () => {
    const answers = [503, 502, 200];
    const endpoint = await receiver((_request, index) => ({ status: answers[index] ?? 500, body: 'busy' }));
    const { webhooks, clock } = client();
    const result = await webhooks.call(call(hook(endpoint.url, { retries: 5 })));
    expect(result).toMatchObject({ ok: true, status: 200, attempts: 3 });
    expect(endpoint.received).toHaveLength(3);
    expect(clock.pauses).toEqual([100, 200]);
    // A retry is the same call: the receiver sees one key for all three.
    expect(endpoint.received.map((request) => request.headers['idempotency-key'])).toEqual([
      requestId,
      requestId,
      requestId,
    ]);
  });

  it('reports the last answer once the retries are used up', async () => {
    const endpoint = await receiver((_request, index) => ({ status: 500, body: `still broken #${index}` }));
    const { webhooks } = client();
    const result = await webhooks.call(call(hook(endpoint.url, { retries: 2 })));
    expect(result).toMatchObject({
      ok: false,
      status: 500,
      attempts: 3,
      message: 'still broken #2 (after 3 attempts)',
    });
    expect(endpoint.received).toHaveLength(3);
  });

  it('retries a 429, waiting at least as long as its Retry-After asks', async () => {
    const endpoint = await receiver((_request, index) =>
      index === 0 ? { status: 429, body: 'slow down', headers: { 'retry-after': '3' } } : { status: 200 },
    );
    const { webhooks, clock } = client();
    const result = await webhooks.call(call(hook(endpoint.url, { timeout: '10s', retries: 2 })));
    expect(result).toMatchObject({ ok: true, status: 200, attempts: 2 });
    expect(clock.pauses).toEqual([3_000]);
  });

  it('fails at once when a Retry-After would outlive the timeout', async () => {
    const endpoint = await receiver(() => ({ status: 429, body: 'later', headers: { 'retry-after': '60' } }));
    const { webhooks, clock } = client();
    const result = await webhooks.call(call(hook(endpoint.url, { timeout: '5s', retries: 2 })));
    expect(result).toMatchObject({ ok: false, status: 429, attempts: 1, message: 'later' });
    expect(clock.pauses).toEqual([]);
  });

  it('does not retry a 4xx answer', async () => {
    const endpoint = await receiver(() => ({ status: 403, body: 'halted' }));
    const { webhooks, clock } = client();
    const result = await webhooks.call(call(hook(endpoint.url, { retries: 3 })));
    expect(result).toMatchObject({ ok: false, status: 403, attempts: 1, message: 'halted' });
    expect(endpoint.received).toHaveLength(1);
    expect(clock.pauses).toEqual([]);
  });

  it('retries a refused connection until the endpoint comes up', async () => {
    const port = await freePort();
    const { webhooks, clock } = client();
    let endpoint: Receiver | undefined;
    clock.onPause = async () => {
      endpoint ??= await receiver(() => ({ status: 202, body: 'accepted' }), { port });
    };
    const result = await webhooks.call(call(hook(`http://127.0.0.1:${port}/`, { retries: 2 })));
    expect(result).toMatchObject({ ok: true, status: 202, attempts: 2, message: 'accepted' });
    expect(endpoint?.received).toHaveLength(1);
  });

  it('reports a refused connection once the retries are used up', async () => {
    const port = await freePort();
    const { webhooks, clock } = client();
    const result = await webhooks.call(call(hook(`http://127.0.0.1:${port}/`, { retries: 2 })));
    expect(result).toMatchObject({ ok: false, attempts: 3 });
    expect(result.status).toBeUndefined();
    expect(result.message).toMatch(/^request failed: .*ECONNREFUSED.*\(after 3 attempts\)$/);
    expect(clock.pauses).toEqual([100, 200]);
  });

  it('does not start a pause that would outlive the timeout', async () => {
    const endpoint = await receiver(() => ({ status: 503, body: 'warming up' }));
    const { webhooks, clock } = client({ backoff: { baseMs: 5_000, maxMs: 5_000 } });
    const result = await webhooks.call(call(hook(endpoint.url, { timeout: '1s', retries: 3 })));
    expect(result).toMatchObject({ ok: false, status: 503, attempts: 1, message: 'warming up' });
    expect(clock.pauses).toEqual([]);
  });
});

describe('connections', () => {
  it('reuses a keep-alive connection for calls to the same origin', async () => {
    const endpoint = await receiver(() => ({ status: 200 }));
    const { webhooks } = client();
    await webhooks.call(call(hook(`${endpoint.url}/a`)));
    await webhooks.call(call(hook(`${endpoint.url}/b`)));
    expect(endpoint.received.map((request) => request.url)).toEqual(['/a', '/b']);
    expect(endpoint.received[1]?.clientPort).toBe(endpoint.received[0]?.clientPort);
  });

  it('verifies TLS certificates unless disableTLS is set, and never retries a certificate error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fledge-hooks-tls-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1'].concat([
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ]),
      { stdio: 'ignore' },
    );
    const tls = {
      key: readFileSync(join(dir, 'key.pem'), 'utf8'),
      cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
    };
    const endpoint = await receiver(() => ({ status: 200, body: 'secure' }), { tls });
    const { webhooks } = client();

    const verified = await webhooks.call(call(hook(endpoint.url, { retries: 2 })));
    expect(verified).toMatchObject({ ok: false, attempts: 1 });
    expect(verified.message).toMatch(/self[- ]signed certificate/i);

    const insecure = await webhooks.call(call(hook(endpoint.url, { disableTLS: true })));
    expect(insecure).toMatchObject({ ok: true, status: 200, message: 'secure' });
  });
});

describe('URL redaction', () => {
  const secret = 'SUPERSECRET123';
  const secretPath = '/hooks/T0001/s3cr3t-path';

  it('keeps the token in the URL out of results and logs, even when the endpoint echoes it', async () => {
    const endpoint = await receiver((request) => ({
      status: 500,
      body: `cannot handle ${request.url} (full: http://127.0.0.1${request.url}) token=${secret}`,
    }));
    const { webhooks, logs } = client();
    const url = `${endpoint.url}${secretPath}?token=${secret}`;
    const result = await webhooks.call(call(hook(url, { retries: 2 })));
    expect(result.ok).toBe(false);
    expect(endpoint.received[0]?.url).toBe(`${secretPath}?token=${secret}`);
    expect(result.message).toContain('cannot handle [redacted]');
    for (const text of [JSON.stringify(result), logs()]) {
      expect(text).not.toContain(secret);
      expect(text).not.toContain('s3cr3t-path');
    }
    // The retries were logged, so the log check above had something to look at.
    expect(logs()).toContain('webhook attempt failed; retrying');
  });

  it('makes the Basic header built from user info known, so an echo of it is never written', async () => {
    const endpoint = await receiver((request) => ({
      status: 401,
      body: `rejected ${String(request.headers.authorization)}`,
    }));
    const { webhooks } = client();
    const password = 'hook-pass-6a0d3f';
    const result = await webhooks.call(call(hook(endpoint.url.replace('://', `://ops:${password}@`))));
    const basic = Buffer.from(`ops:${password}`).toString('base64');
    // The endpoint really echoed the header; what Fledge writes out of it carries no piece of it.
    expect(result.message).toContain(basic.slice(0, 8));
    expect(knownSecrets.redact(result.message)).not.toContain(basic.slice(0, 8));
  });

  it('keeps credentials out of network errors and logs', async () => {
    const port = await freePort();
    const { webhooks, logs } = client();
    const url = `http://user:${secret}@127.0.0.1:${port}${secretPath}?token=${secret}`;
    const result = await webhooks.call(call(hook(url, { retries: 1 })));
    expect(result.ok).toBe(false);
    expect(result.message).toContain('ECONNREFUSED');
    for (const text of [JSON.stringify(result), logs()]) {
      expect(text).not.toContain(secret);
      expect(text).not.toContain('s3cr3t-path');
    }
    expect(logs()).toContain('webhook attempt failed; retrying');
  });
});
