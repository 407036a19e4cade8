import { describe, expect, it } from '@jest/globals';
import type { AlertProviderSpec } from '../../../src/api/index.ts';
import {
  AlertConfigError,
  defaultAlertTargetsFromEnv,
  resolveProviderConfig,
  SlackPostMessageUrl,
  type SecretData,
} from '../../../src/notifiers/config.ts';

const ref = { namespace: 'apps', name: 'chat' };
const b64 = (value: string) => Buffer.from(value, 'utf8').toString('base64');
const hook = 'https://hooks.slack.com/services/T000/B000/SECRETSECRET';

function resolveError(spec: AlertProviderSpec, secret?: SecretData): string {
  try {
    resolveProviderConfig(ref, spec, secret);
  } catch (error) {
    expect(error).toBeInstanceOf(AlertConfigError);
    return (error as Error).message;
  }
  throw new Error('expected an AlertConfigError');
}

describe('resolveProviderConfig', () => {
  it('takes the address from spec.address when there is no Secret', () => {
    expect(resolveProviderConfig(ref, { type: 'discord', address: hook })).toEqual({
      id: 'AlertProvider apps/chat',
      type: 'discord',
      address: hook,
      username: 'fledge',
    });
  });

  it('reads address, token, channel, username and proxy from the Secret, trimming trailing newlines', () => {
    const resolved = resolveProviderConfig(
      ref,
      { type: 'slack', secretRef: { name: 'slack-bot' }, channel: 'general', username: 'from-spec' },
      {
        address: b64(`${SlackPostMessageUrl}\n`),
        token: b64('xoxb-123\n'),
        channel: b64('#releases'),
        proxy: b64('http://user:pw@proxy.internal:3128'),
        unrelated: b64('ignored'),
      },
    );
    expect(resolved).toEqual({
      id: 'AlertProvider apps/chat',
      type: 'slack',
      address: SlackPostMessageUrl,
      token: 'xoxb-123',
      channel: '#releases',
      username: 'from-spec',
      proxy: 'http://user:pw@proxy.internal:3128',
    });
  });

  it('defaults a Slack bot token without address to chat.postMessage', () => {
    const resolved = resolveProviderConfig(
      ref,
      { type: 'slack', secretRef: { name: 's' }, channel: '#c' },
      { token: b64('xoxb-1') },
    );
    expect(resolved.address).toBe(SlackPostMessageUrl);
  });

  it('names the field to fix, never its secret value', () => {
    expect(resolveError({ type: 'slack' })).toBe(
      'AlertProvider apps/chat: no webhook address; set spec.address or the "address" key of the Secret in spec.secretRef',
    );
    expect(
      resolveError({ type: 'gchat', secretRef: { name: 'gc' } }, { address: b64('ftp://SECRETHOST/x') }),
    ).toBe('AlertProvider apps/chat: the "address" key of Secret gc is not an http(s) URL');
    expect(
      resolveError(
        { type: 'discord', secretRef: { name: 'd' } },
        { address: b64(hook), token: b64('t0ken') },
      ),
    ).toBe(
      'AlertProvider apps/chat: the "token" key of Secret d is set but discord does not use a token (its webhook URL carries the credential); remove it',
    );
    expect(resolveError({ type: 'slack', secretRef: { name: 's' } }, { token: b64('xoxb-1') })).toBe(
      'AlertProvider apps/chat: a Slack bot token posts through chat.postMessage, which needs a channel; set spec.channel or the "channel" key of the Secret in spec.secretRef',
    );
    expect(resolveError({ type: 'hipchat' as AlertProviderSpec['type'], address: hook })).toBe(
      'AlertProvider apps/chat: spec.type "hipchat" is not supported; use one of slack, msteams, discord, rocket, gchat, webhook',
    );
    expect(resolveError({ type: 'slack', secretRef: { name: 's' } })).toBe(
      'AlertProvider apps/chat: spec.secretRef names Secret "s" but it was not read',
    );
    expect(resolveError({ type: 'slack', secretRef: { name: 's' } }, { address: 'not base64!' })).toBe(
      'AlertProvider apps/chat, Secret apps/s: Secret key "address" is not valid base64',
    );
    expect(resolveError({ type: 'slack', address: hook, proxy: 'socks5://p:1080' })).toBe(
      'AlertProvider apps/chat: spec.proxy is not an http(s) URL',
    );
  });
});

describe('defaultAlertTargetsFromEnv', () => {
  it('is empty when nothing is configured', () => {
    expect(defaultAlertTargetsFromEnv({}, {})).toEqual([]);
  });

  it('reads Flagger-compatible SLACK_* and MSTEAMS_* variables', () => {
    const targets = defaultAlertTargetsFromEnv(
      {
        SLACK_URL: hook,
        SLACK_CHANNEL: '#ops',
        SLACK_USER: 'canary-bot',
        MSTEAMS_URL: 'https://example.webhook.office.com/x',
      },
      {},
    );
    expect(targets).toEqual([
      {
        severity: 'info',
        provider: {
          id: 'default slack',
          type: 'slack',
          address: hook,
          channel: '#ops',
          username: 'canary-bot',
        },
      },
      {
        severity: 'info',
        provider: {
          id: 'default msteams',
          type: 'msteams',
          address: 'https://example.webhook.office.com/x',
          username: 'fledge',
        },
      },
    ]);
  });

  it('lets a flag win over the environment, key by key', () => {
    const [target] = defaultAlertTargetsFromEnv(
      { DISCORD_URL: 'https://env.example/hook', DISCORD_USER: 'env-user', ALERT_SEVERITY: 'warn' },
      { 'discord-url': 'https://flag.example/hook', 'alert-severity': 'error' },
    );
    expect(target).toEqual({
      severity: 'error',
      provider: {
        id: 'default discord',
        type: 'discord',
        address: 'https://flag.example/hook',
        username: 'env-user',
      },
    });
  });

  it('treats empty values as unset', () => {
    expect(defaultAlertTargetsFromEnv({ SLACK_URL: '', GCHAT_URL: '  ' }, { 'rocket-url': '' })).toEqual([]);
  });

  it('rejects settings that cannot work, naming both the flag and the variable', () => {
    expect(() => defaultAlertTargetsFromEnv({ SLACK_CHANNEL: '#ops' }, {})).toThrow(
      'default slack alerts: no webhook address; set --slack-url (or SLACK_URL)',
    );
    expect(() => defaultAlertTargetsFromEnv({ GCHAT_URL: hook, GCHAT_TOKEN: 'x' }, {})).toThrow(
      'default gchat alerts: --gchat-token (or GCHAT_TOKEN) is set but gchat does not use a token',
    );
    expect(() => defaultAlertTargetsFromEnv({ ALERT_SEVERITY: 'critical' }, {})).toThrow(
      '--alert-severity (or ALERT_SEVERITY) "critical" must be one of info, warn, error',
    );
    expect(() => defaultAlertTargetsFromEnv({}, { 'webhook-url': 'http//missing-colon' })).toThrow(
      'default webhook alerts: --webhook-url (or WEBHOOK_URL) is not an http(s) URL',
    );
  });
});
