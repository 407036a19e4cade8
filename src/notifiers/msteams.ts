import type { AlertProviderDriver } from './driver.ts';
import { jsonHeaders } from './driver.ts';
import { alertFacts, alertTitle, describeCheck, footerText, orDash, truncate } from './format.ts';
import type { AlertSeverity } from './message.ts';

// Office 365 connector webhooks (MessageCard) are being retired; Teams Workflows webhooks
// ("When a Teams webhook request is received") accept only Adaptive Cards, sent as a message
// with one attachment of contentType application/vnd.microsoft.card.adaptive. Teams rejects
// webhook messages above 28 KB, so every text gets a budget that keeps the card well below it
// even when each character takes three bytes of UTF-8.
const TeamsLimits = {
  title: 200,
  summary: 2000,
  factValue: 256,
  check: 2000,
  next: 1000,
} as const;

// Card schema 1.2: every element used here exists since 1.0, and 1.2 renders on mobile clients too.
const cardVersion = '1.2';

const titleColor: Readonly<Record<AlertSeverity, string>> = {
  info: 'Good',
  warn: 'Warning',
  error: 'Attention',
};

function textBlock(text: string, extra: Record<string, unknown> = {}) {
  return { type: 'TextBlock', text: orDash(text), wrap: true, ...extra };
}

export const msteams: AlertProviderDriver = {
  type: 'msteams',
  build(message, provider) {
    const body: unknown[] = [
      textBlock(truncate(alertTitle(message), TeamsLimits.title), {
        size: 'Medium',
        weight: 'Bolder',
        color: titleColor[message.severity],
      }),
      textBlock(truncate(message.summary, TeamsLimits.summary)),
      {
        type: 'FactSet',
        facts: alertFacts(message).map((fact) => ({
          title: fact.label,
          value: orDash(truncate(fact.value, TeamsLimits.factValue)),
        })),
      },
    ];
    if (message.failingCheck) {
      body.push(
        textBlock(`**Failing check:** ${truncate(describeCheck(message.failingCheck), TeamsLimits.check)}`),
      );
    }
    body.push(textBlock(`**Next:** ${truncate(message.next, TeamsLimits.next)}`));
    body.push(
      textBlock(footerText(message), {
        isSubtle: true,
        size: 'Small',
      }),
    );
    return {
      url: provider.address,
      headers: { ...jsonHeaders },
      body: {
        type: 'message',
        attachments: [
          {
            contentType: 'application/vnd.microsoft.card.adaptive',
            contentUrl: null,
            content: {
              $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
              type: 'AdaptiveCard',
              version: cardVersion,
              msteams: { width: 'Full' },
              body,
            },
          },
        ],
      },
    };
  },
};
