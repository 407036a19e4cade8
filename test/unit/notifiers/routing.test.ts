import { describe, expect, it } from '@jest/globals';
import { AlertSeverities } from '../../../src/api/index.ts';
import { recipientsFor, type AlertSubscription } from '../../../src/notifiers/config.ts';
import { severityAccepts, type AlertSeverity } from '../../../src/notifiers/message.ts';
import { alertMessage, provider } from './fixtures.ts';

describe('severityAccepts', () => {
  const expected: Record<AlertSeverity, AlertSeverity[]> = {
    info: ['info', 'warn', 'error'],
    warn: ['warn', 'error'],
    error: ['error'],
  };
  it.each(AlertSeverities)('a %s subscription receives exactly its documented severities', (subscribed) => {
    expect(AlertSeverities.filter((actual) => severityAccepts(subscribed, actual))).toEqual(
      expected[subscribed],
    );
  });
});

describe('recipientsFor', () => {
  const infoSlack: AlertSubscription = { severity: 'info', provider: provider('slack') };
  const errorTeams: AlertSubscription = { severity: 'error', provider: provider('msteams') };
  const defaultDiscord: AlertSubscription = {
    severity: 'info',
    provider: provider('discord', { id: 'default discord' }),
  };

  it('filters the canary alerts by severity', () => {
    const ids = (severity: AlertSeverity) =>
      recipientsFor(alertMessage({ severity }), [infoSlack, errorTeams], [defaultDiscord]).map((p) => p.id);
    expect(ids('info')).toEqual(['AlertProvider test/slack']);
    expect(ids('warn')).toEqual(['AlertProvider test/slack']);
    expect(ids('error')).toEqual(['AlertProvider test/slack', 'AlertProvider test/msteams']);
  });

  it('uses the operator defaults only for a canary that declares no alerts', () => {
    expect(recipientsFor(alertMessage(), undefined, [defaultDiscord]).map((p) => p.id)).toEqual([
      'default discord',
    ]);
    // Declared alerts that all failed to resolve must not leak to the operator-wide channel.
    expect(recipientsFor(alertMessage(), [], [defaultDiscord])).toEqual([]);
  });
});
