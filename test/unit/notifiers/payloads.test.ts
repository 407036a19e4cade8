import { describe, expect, it } from '@jest/globals';
import { AlertProviderTypes } from '../../../src/api/index.ts';
import { AlertKinds } from '../../../src/notifiers/message.ts';
import { driverFor, providerDrivers } from '../../../src/notifiers/providers.ts';
import { alertMessage, oversized, provider, rolledBack } from './fixtures.ts';
import { validators, validateDiscord, validateSlack, validateTeamsWorkflow } from './schemas.ts';

const everyKind = AlertKinds.map((kind) => alertMessage({ kind }));

describe('provider table', () => {
  it('has one driver per AlertProvider type, each registered under its own type', () => {
    expect(Object.keys(providerDrivers).sort()).toEqual([...AlertProviderTypes].sort());
    for (const type of AlertProviderTypes) expect(driverFor(type).type).toBe(type);
  });

  it('names an unknown type in the error', () => {
    expect(() => driverFor('hipchat')).toThrow(/"hipchat" is not supported; use one of slack, msteams/);
  });
});

describe.each(AlertProviderTypes)('%s payload', (type) => {
  const driver = driverFor(type);
  const validate = validators[type];

  it.each(everyKind.map((m) => [m.kind, m] as const))('%s passes the documented schema', (_kind, message) => {
    const request = driver.build(message, provider(type));
    expect(validate(request.body)).toEqual([]);
    expect(request.url).toBe(provider(type).address);
    expect(request.headers['Content-Type']).toMatch(/^application\/json/);
  });

  it('stays within every documented limit for oversized, multi-byte, markup-laden input', () => {
    const request = driver.build(oversized(), provider(type, { username: 'u'.repeat(300) }));
    expect(validate(request.body)).toEqual([]);
  });

  it('says canary, namespace, cluster, phase, weight, step, the failing check and what happens next', () => {
    const text = JSON.stringify(driver.build(rolledBack(), provider(type)).body);
    for (const expected of [
      'podinfo',
      'test',
      'prod-eu-1',
      'Failed',
      '0%',
      '3 of 5',
      'request-success-rate',
      '97.25',
      'at least 99',
      'Traffic is back on the primary',
    ]) {
      expect(text).toContain(expected);
    }
  });

  it("names the run's commit, which leads the summary, even when the summary has to be cut", () => {
    const summary = `commit 3f9c2ab rolled back: ${'failed checks reached the threshold '.repeat(200)}`;
    const text = JSON.stringify(driver.build(rolledBack({ summary }), provider(type)).body);
    expect(text).toContain('commit 3f9c2ab rolled back');
  });

  it('keeps the failing metric name when the detail has to be cut', () => {
    const text = JSON.stringify(driver.build(oversized(), provider(type)).body);
    expect(text).toContain('request-success-rate');
  });
});

describe('Slack', () => {
  it('uses Block Kit with a header, facts as section fields, a context line and a text fallback', () => {
    const body = driverFor('slack').build(rolledBack(), provider('slack')).body as {
      text: string;
      blocks: { type: string; fields?: { text: string }[] }[];
    };
    expect(body.text).toBe('Rolled back: podinfo.test — Rolled back after 5 failed checks');
    expect(body.blocks.map((b) => b.type)).toEqual([
      'header',
      'section',
      'section',
      'section',
      'section',
      'context',
    ]);
    expect(body.blocks[2]?.fields?.map((f) => f.text)).toContain('*Weight*\n0%');
    expect(body).not.toHaveProperty('attachments');
  });

  it('escapes mrkdwn control characters without breaking entities when truncating', () => {
    const body = driverFor('slack').build(oversized(), provider('slack')).body as { blocks: unknown[] };
    const text = JSON.stringify(body.blocks);
    expect(text).not.toMatch(/<b>/);
    expect(text).toContain('&lt;b&gt;');
    // An entity cut in half would leave "&l", "&am" and the like right before the ellipsis.
    expect(text).not.toMatch(/&[a-z]{0,3}…/);
  });

  it('posts through chat.postMessage with the bot token and channel when a token is set', () => {
    const request = driverFor('slack').build(
      alertMessage(),
      provider('slack', {
        token: 'xoxb-secret',
        channel: '#releases',
        address: 'https://slack.com/api/chat.postMessage',
      }),
    );
    expect(request.headers.Authorization).toBe('Bearer xoxb-secret');
    expect(request.body).toMatchObject({ channel: '#releases' });
  });

  it('reads an ok:false reply as a rejection and a webhook "ok" as success', () => {
    const { rejection } = driverFor('slack');
    expect(rejection?.('{"ok":false,"error":"channel_not_found"}')).toBe(
      'Slack API error: channel_not_found',
    );
    expect(rejection?.('{"ok":true}')).toBeUndefined();
    expect(rejection?.('ok')).toBeUndefined();
  });
});

describe('Microsoft Teams', () => {
  it('sends a Workflows message with one Adaptive Card attachment', () => {
    const body = driverFor('msteams').build(rolledBack(), provider('msteams')).body as {
      attachments: { contentType: string; content: { body: { type: string; color?: string }[] } }[];
    };
    expect(body.attachments).toHaveLength(1);
    expect(body.attachments[0]?.contentType).toBe('application/vnd.microsoft.card.adaptive');
    expect(body.attachments[0]?.content.body[0]).toMatchObject({ type: 'TextBlock', color: 'Attention' });
    expect(body.attachments[0]?.content.body.some((e) => e.type === 'FactSet')).toBe(true);
  });
});

describe('Discord', () => {
  it('never lets alert text mention @everyone or roles', () => {
    const body = driverFor('discord').build(oversized(), provider('discord')).body;
    expect(body).toMatchObject({ allowed_mentions: { parse: [] } });
  });
});

describe('Rocket.Chat', () => {
  it('reads success:false as a rejection', () => {
    expect(driverFor('rocket').rejection?.('{"success":false,"error":"invalid-channel"}')).toBe(
      'Rocket.Chat error: invalid-channel',
    );
    expect(driverFor('rocket').rejection?.('{"success":true}')).toBeUndefined();
  });

  it('routes to the configured channel under the configured alias', () => {
    const body = driverFor('rocket').build(
      alertMessage(),
      provider('rocket', { channel: '#deploys', username: 'bot' }),
    ).body;
    expect(body).toMatchObject({ channel: '#deploys', alias: 'bot' });
  });
});

describe('generic webhook', () => {
  it('carries the structured alert and a bearer token when one is configured', () => {
    const message = rolledBack();
    const request = driverFor('webhook').build(message, provider('webhook', { token: 's3cr3t-token' }));
    expect(request.headers.Authorization).toBe('Bearer s3cr3t-token');
    expect(request.body).toMatchObject({ source: 'fledge', version: 1, alert: message });
  });
});

describe('the schema checks themselves', () => {
  // Proof that the validators above can fail, so a passing payload test means something.
  it('reject payloads that break documented limits', () => {
    expect(
      validateSlack({
        text: 'x',
        blocks: [{ type: 'header', text: { type: 'plain_text', text: 'h'.repeat(151) } }],
      }),
    ).toEqual(['blocks[0].text.text has 151 characters, more than 150']);
    expect(
      validateSlack({
        text: 'x',
        blocks: [
          { type: 'section', fields: Array.from({ length: 11 }, () => ({ type: 'mrkdwn', text: 'f' })) },
        ],
      }),
    ).toEqual(['blocks[0].fields must hold 1 to 10 text objects']);
    expect(
      validateDiscord({
        embeds: [
          {
            title: 't',
            description: 'd'.repeat(4096),
            fields: [
              { name: 'n', value: 'v'.repeat(1024) },
              { name: 'n', value: 'v'.repeat(1024) },
            ],
          },
        ],
      }),
    ).toEqual(['embeds hold 6147 characters, more than 6000']);
    expect(
      validateTeamsWorkflow({
        type: 'message',
        attachments: [{ contentType: 'application/json', content: {} }],
      }),
    ).toEqual([
      'attachments[0].contentType must be application/vnd.microsoft.card.adaptive',
      'attachments[0].content.type must be AdaptiveCard',
      'attachments[0].content.version must be a schema version 1.0 to 1.6',
      'attachments[0].content.body must be an array',
    ]);
    expect(
      validators.gchat({
        cardsV2: [{ card: { sections: [{ widgets: [{ textParagraph: { text: '' } }] }] } }],
      }),
    ).toEqual([
      'cardsV2[0].cardId must be a string',
      'cardsV2[0].card.sections[0].widgets[0].textParagraph.text must have at least 1 characters',
    ]);
    expect(validators.rocket({ text: 'x'.repeat(3000), attachments: [{ text: 'y'.repeat(2001) }] })).toEqual([
      'message holds 5001 characters, more than 5000',
    ]);
  });
});
