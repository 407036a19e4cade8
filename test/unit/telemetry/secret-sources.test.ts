import { describe, expect, it } from '@jest/globals';
import { settingsFromSecret } from '../../../src/analysis/credentials.ts';
import { resolveProviderConfig } from '../../../src/notifiers/config.ts';
import { knownSecrets } from '../../../src/telemetry/secrets.ts';

// Each place Fledge reads a credential tells the process-wide redaction about it.

const hidden = (value: string) => knownSecrets.redact(`echo ${value} end`) === 'echo [redacted] end';
const b64 = (value: string) => Buffer.from(value).toString('base64');

describe('credentials are known once read', () => {
  it('from a MetricTemplate Secret: the bearer token, and basic auth with its header value', () => {
    settingsFromSecret({ token: 'metric-token-41c9e0' }, 'Secret team/prometheus');
    expect(hidden('metric-token-41c9e0')).toBe(true);
    settingsFromSecret({ username: 'reader', password: 'metric-pass-8e21' }, 'Secret team/prometheus');
    expect(hidden('metric-pass-8e21')).toBe(true);
    expect(hidden(b64('reader:metric-pass-8e21'))).toBe(true);
  });

  it('from an AlertProvider and its Secret: the webhook address key and the token', () => {
    resolveProviderConfig(
      { namespace: 'team', name: 'chat' },
      { type: 'slack', channel: 'releases', secretRef: { name: 'chat' } },
      { token: b64('xoxb-alert-token-99f0a1'), channel: b64('releases') },
    );
    expect(hidden('xoxb-alert-token-99f0a1')).toBe(true);
    resolveProviderConfig(
      { namespace: 'team', name: 'teams' },
      {
        type: 'msteams',
        address: 'https://example.webhook.office.com/webhookb2/4f1c9a3e-77d0-4b2a/IncomingWebhook/9b8a7c6d5e',
      },
    );
    expect(hidden('4f1c9a3e-77d0-4b2a')).toBe(true);
    expect(hidden('9b8a7c6d5e')).toBe(true);
    expect(knownSecrets.redact('posting to https://example.webhook.office.com/')).toBe(
      'posting to https://example.webhook.office.com/',
    );
  });
});
