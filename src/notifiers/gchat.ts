import type { AlertProviderDriver } from './driver.ts';
import { jsonHeaders } from './driver.ts';
import {
  alertFacts,
  alertTitle,
  describeCheck,
  footerText,
  orDash,
  truncate,
  truncateEscaped,
} from './format.ts';

// Space incoming webhook: a `text` line (what notifications show) plus one cardsV2 card.
// Documented limits (Chat API messages): 32,000 bytes per message including cards, 100 widgets
// per card. Card text accepts a small HTML subset, so &, < and > must be entities. The budgets
// keep the card far below 32,000 bytes even at three bytes per character.
const GoogleChatLimits = {
  title: 200,
  summary: 2000,
  factValue: 256,
  check: 2000,
  next: 1000,
  footer: 200,
} as const;

function escapeCardHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function paragraph(text: string, max: number) {
  return { textParagraph: { text: truncateEscaped(orDash(text), max, escapeCardHtml) } };
}

export const gchat: AlertProviderDriver = {
  type: 'gchat',
  build(message, provider) {
    const sections: unknown[] = [
      { widgets: [paragraph(message.summary, GoogleChatLimits.summary)] },
      {
        widgets: alertFacts(message).map((fact) => ({
          decoratedText: {
            topLabel: fact.label,
            text: truncateEscaped(orDash(fact.value), GoogleChatLimits.factValue, escapeCardHtml),
          },
        })),
      },
    ];
    if (message.failingCheck) {
      sections.push({
        header: 'Failing check',
        widgets: [paragraph(describeCheck(message.failingCheck), GoogleChatLimits.check)],
      });
    }
    sections.push({ header: 'Next', widgets: [paragraph(message.next, GoogleChatLimits.next)] });
    sections.push({ widgets: [paragraph(footerText(message), GoogleChatLimits.footer)] });
    return {
      url: provider.address,
      headers: { ...jsonHeaders },
      body: {
        text: `*${truncate(alertTitle(message), GoogleChatLimits.title)}*`,
        cardsV2: [{ cardId: 'fledge-alert', card: { sections } }],
      },
    };
  },
};
