import type { AlertProviderDriver } from './driver.ts';
import { falseFlagError, jsonHeaders } from './driver.ts';
import {
  alertFacts,
  alertTitle,
  describeCheck,
  footerText,
  orDash,
  severityHex,
  truncate,
  senderName,
} from './format.ts';

// Incoming webhook integration (POST /hooks/<id>/<token>): the Slack-like message format with
// `alias` for the display name and attachments with short fields. Rocket.Chat refuses messages
// above the server's "Maximum Allowed Characters Per Message" (5000 by default), so the
// budgets below keep all text together under that.
const RocketLimits = {
  title: 200,
  summary: 1200,
  factValue: 200,
  check: 1000,
  next: 800,
  footer: 200,
} as const;

function field(title: string, value: string, max: number, short: boolean) {
  return { short, title, value: orDash(truncate(value, max)) };
}

export const rocket: AlertProviderDriver = {
  type: 'rocket',
  build(message, provider) {
    const fields = alertFacts(message).map((fact) =>
      field(fact.label, fact.value, RocketLimits.factValue, true),
    );
    if (message.failingCheck) {
      fields.push(field('Failing check', describeCheck(message.failingCheck), RocketLimits.check, false));
    }
    fields.push(field('Next', message.next, RocketLimits.next, false));
    return {
      url: provider.address,
      headers: { ...jsonHeaders },
      body: {
        alias: senderName(provider.username),
        ...(provider.channel !== undefined && { channel: provider.channel }),
        text: `*${truncate(alertTitle(message), RocketLimits.title)}*`,
        attachments: [
          {
            color: severityHex(message.severity),
            text: orDash(truncate(message.summary, RocketLimits.summary)),
            fields: [...fields, field('Source', footerText(message), RocketLimits.footer, false)],
          },
        ],
      },
    };
  },
  rejection(responseBody) {
    const error = falseFlagError(responseBody, 'success');
    return error === undefined ? undefined : `Rocket.Chat error: ${error}`;
  },
};
