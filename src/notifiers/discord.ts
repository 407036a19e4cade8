import type { AlertProviderDriver } from './driver.ts';
import { jsonHeaders } from './driver.ts';
import {
  alertFacts,
  alertTitle,
  describeCheck,
  footerText,
  orDash,
  severityColor,
  truncate,
  senderName,
} from './format.ts';

// Execute Webhook with one embed. Documented embed limits (Discord message resource): title 256,
// description 4096, at most 25 fields with name 256 and value 1024, footer 2048, and 6000
// characters across all of them; webhook username 1-80 characters. The budgets below add up to
// less than 6000 whatever the input.
const DiscordLimits = {
  title: 256,
  description: 1500,
  fieldValue: 1024,
  factValue: 256,
  footer: 200,
} as const;

function field(name: string, value: string, max: number, inline: boolean) {
  return { name, value: orDash(truncate(value, max)), inline };
}

export const discord: AlertProviderDriver = {
  type: 'discord',
  build(message, provider) {
    const fields = alertFacts(message).map((fact) =>
      field(fact.label, fact.value, DiscordLimits.factValue, true),
    );
    if (message.failingCheck) {
      fields.push(
        field('Failing check', describeCheck(message.failingCheck), DiscordLimits.fieldValue, false),
      );
    }
    fields.push(field('Next', message.next, DiscordLimits.fieldValue, false));
    return {
      url: provider.address,
      headers: { ...jsonHeaders },
      body: {
        username: senderName(provider.username),
        embeds: [
          {
            title: truncate(alertTitle(message), DiscordLimits.title),
            description: orDash(truncate(message.summary, DiscordLimits.description)),
            color: severityColor[message.severity],
            fields,
            footer: { text: truncate(footerText(message), DiscordLimits.footer) },
            timestamp: message.occurredAt,
          },
        ],
        // Metric and hook messages are not ours; never let one ping @everyone or a role.
        allowed_mentions: { parse: [] },
      },
    };
  },
};
