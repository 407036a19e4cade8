import { afterEach, describe, expect, it } from '@jest/globals';
import { AlertProviderTypes, type AlertProviderType } from '../../../src/api/index.ts';
import { recipientsFor, resolveProviderConfig } from '../../../src/notifiers/config.ts';
import { AlertDispatcher } from '../../../src/notifiers/delivery.ts';
import type { AlertMessage } from '../../../src/notifiers/message.ts';
import { createHttpTransport, proxyConfig, redactSecrets } from '../../../src/notifiers/transport.ts';
import { alertMessage, provider, rolledBack } from './fixtures.ts';
import { capturedLogger, startReceiver, type Receiver, type Reply } from './receiver.ts';
import { validators } from './schemas.ts';

// Each stand-in answers like the real service when the payload is valid, and like the real
// service's validation error (400 with the reasons) when it is not.
const successReply: Record<AlertProviderType, Reply> = {
  slack: { status: 200, body: 'ok' },
  msteams: { status: 202 },
  discord: { status: 204 },
  rocket: { status: 200, body: '{"success":true}', headers: { 'Content-Type': 'application/json' } },
  gchat: {
    status: 200,
    body: '{"name":"spaces/AAA/messages/BBB"}',
    headers: { 'Content-Type': 'application/json' },
  },
  webhook: { status: 200 },
};

function chatService(type: AlertProviderType) {
  return startReceiver((request) => {
    if (
      request.method !== 'POST' ||
      !String(request.headers['content-type']).startsWith('application/json')
    ) {
      return { status: 415, body: 'expected a JSON POST' };
    }
    const violations = validators[type](request.body);
    return violations.length === 0 ? successReply[type] : { status: 400, body: JSON.stringify(violations) };
  });
}

function newDispatcher() {
  const { logger, output } = capturedLogger();
  const dispatcher = new AlertDispatcher({
    logger,
    transport: createHttpTransport(),
    minIntervalMs: 0,
    maxAttempts: 1,
  });
  return { dispatcher, logs: output };
}

let receivers: Receiver[] = [];
afterEach(async () => {
  await Promise.all(receivers.map((r) => r.close()));
  receivers = [];
});

describe.each(AlertProviderTypes)('%s over HTTP', (type) => {
  it('delivers a rollback alert that the service accepts and that names the failing metric', async () => {
    const service = await chatService(type);
    receivers.push(service);
    const { dispatcher } = newDispatcher();
    dispatcher.enqueue(rolledBack(), [provider(type, { address: `${service.url}/hook/SECRET` })]);
    await dispatcher.idle();
    expect(dispatcher.stats()).toMatchObject({ sent: 1, failed: 0 });
    expect(service.received).toHaveLength(1);
    const [request] = service.received;
    expect(request?.url).toBe('/hook/SECRET');
    expect(request?.raw).toContain('request-success-rate');
    expect(request?.raw).toContain('97.25');
  });
});

describe('end to end from AlertProvider to chat', () => {
  it('routes by severity: an error subscription hears only the rollback', async () => {
    const slack = await chatService('slack');
    const teams = await chatService('msteams');
    receivers.push(slack, teams);
    const subscriptions = [
      {
        severity: 'info' as const,
        provider: resolveProviderConfig(
          { namespace: 'apps', name: 'slack' },
          { type: 'slack', address: `${slack.url}/s` },
        ),
      },
      {
        severity: 'error' as const,
        provider: resolveProviderConfig(
          { namespace: 'apps', name: 'teams' },
          { type: 'msteams', address: `${teams.url}/t` },
        ),
      },
    ];
    const { dispatcher } = newDispatcher();
    const sequence: AlertMessage[] = [
      alertMessage({ kind: 'Started', step: 0, weight: 0 }),
      alertMessage({ kind: 'StepAdvanced', step: 1, weight: 10 }),
      rolledBack(),
    ];
    for (const message of sequence) dispatcher.enqueue(message, recipientsFor(message, subscriptions, []));
    await dispatcher.idle();
    expect(slack.received.map((r) => (r.body as { text: string }).text.split(':')[0])).toEqual([
      'Canary analysis started',
      'Canary advanced',
      'Rolled back',
    ]);
    expect(teams.received).toHaveLength(1);
    expect(teams.received[0]?.raw).toContain('request-success-rate');
  });

  it('authenticates Slack chat.postMessage with the bot token from the Secret', async () => {
    const api = await startReceiver((request) =>
      request.headers.authorization === 'Bearer xoxb-test'
        ? { status: 200, body: '{"ok":true}' }
        : { status: 200, body: '{"ok":false,"error":"not_authed"}' },
    );
    receivers.push(api);
    const b64 = (v: string) => Buffer.from(v).toString('base64');
    const slack = resolveProviderConfig(
      { namespace: 'apps', name: 'slack-bot' },
      { type: 'slack', secretRef: { name: 'slack-bot' } },
      { address: b64(`${api.url}/api/chat.postMessage`), token: b64('xoxb-test'), channel: b64('C0123') },
    );
    const { dispatcher, logs } = newDispatcher();
    dispatcher.enqueue(alertMessage(), [slack]);
    await dispatcher.idle();
    expect(dispatcher.stats()).toMatchObject({ sent: 1, failed: 0 });
    expect(api.received[0]?.body).toMatchObject({ channel: 'C0123' });
    expect(logs()).not.toContain('xoxb-test');
  });

  it('goes through the configured HTTP proxy, with its credentials', async () => {
    const proxy = await startReceiver(() => ({ status: 200, body: 'ok' }));
    receivers.push(proxy);
    const viaProxy = provider('slack', {
      address: 'http://chat.invalid/services/T/B/X',
      proxy: proxy.url.replace('http://', 'http://alice:s3cret@'),
    });
    const { dispatcher } = newDispatcher();
    dispatcher.enqueue(alertMessage(), [viaProxy]);
    await dispatcher.idle();
    expect(dispatcher.stats().sent).toBe(1);
    // A forward proxy receives the absolute URL of the real destination.
    expect(proxy.received[0]?.url).toBe('http://chat.invalid/services/T/B/X');
    expect(proxy.received[0]?.headers['proxy-authorization']).toBe(
      `Basic ${Buffer.from('alice:s3cret').toString('base64')}`,
    );
  });
});

describe('transport helpers', () => {
  it('parses a proxy URL into axios settings', () => {
    expect(proxyConfig('https://u%40corp:p%3Aw@proxy.corp:8443')).toEqual({
      protocol: 'https',
      host: 'proxy.corp',
      port: 8443,
      auth: { username: 'u@corp', password: 'p:w' },
    });
    expect(proxyConfig('http://proxy.corp')).toEqual({ protocol: 'http', host: 'proxy.corp', port: 80 });
  });

  it('redacts a secret URL whole, by its credential-bearing path, and encoded', () => {
    const url = 'https://hooks.slack.com/services/T1/B2/abcdef?x=1';
    expect(redactSecrets(`posting to ${url} failed`, [url])).toBe('posting to [redacted] failed');
    expect(redactSecrets('path /services/T1/B2/abcdef?x=1 not found', [url])).toBe(
      'path [redacted] not found',
    );
    expect(redactSecrets(`q=${encodeURIComponent(url)}`, [url])).toBe('q=[redacted]');
    expect(redactSecrets('token xoxb-1234 rejected', [undefined, 'xoxb-1234'])).toBe(
      'token [redacted] rejected',
    );
    // Nothing secret to find: text passes through unchanged.
    expect(redactSecrets('connect ECONNREFUSED 127.0.0.1:9', [url])).toBe('connect ECONNREFUSED 127.0.0.1:9');
  });
});
