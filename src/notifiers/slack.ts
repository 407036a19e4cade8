import type { AlertProviderDriver } from './driver.ts';
import { falseFlagError, jsonHeaders } from './driver.ts';
import {
  alertFacts,
  alertTitle,
  describeCheck,
  footerText,
  orDash,
  truncate,
  truncateEscaped,
  senderName,
} from './format.ts';

// Block Kit rather than legacy attachments, which Slack calls "a legacy part of messaging".
// Documented limits (docs.slack.dev block reference): header plain_text 150 chars; section text
// 3000; section fields at most 10, each 2000; context elements at most 10; 50 blocks per message.
const SlackLimits = {
  headerText: 150,
  sectionText: 3000,
  fieldText: 2000,
  fields: 10,
  // Top-level `text` becomes the notification and screen-reader fallback when blocks are present.
  fallbackText: 3000,
} as const;

/** mrkdwn treats &, < and > as control characters (links, mentions); they must be entities. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function mrkdwn(text: string, max: number) {
  return { type: 'mrkdwn', text: truncateEscaped(orDash(text), max, escapeMrkdwn) };
}

function labelled(label: string, body: string, max: number) {
  // The label is short and fixed, so the body takes whatever room is left.
  const prefix = `*${label}*\n`;
  return { type: 'mrkdwn', text: prefix + truncateEscaped(orDash(body), max - prefix.length, escapeMrkdwn) };
}

export const slack: AlertProviderDriver = {
  type: 'slack',
  build(message, provider) {
    const title = alertTitle(message);
    const blocks: unknown[] = [
      {
        type: 'header',
        text: { type: 'plain_text', text: truncate(title, SlackLimits.headerText), emoji: true },
      },
      { type: 'section', text: mrkdwn(message.summary, SlackLimits.sectionText) },
      {
        type: 'section',
        fields: alertFacts(message)
          .slice(0, SlackLimits.fields)
          .map((fact) => labelled(fact.label, fact.value, SlackLimits.fieldText)),
      },
    ];
    if (message.failingCheck) {
      blocks.push({
        type: 'section',
        text: labelled('Failing check', describeCheck(message.failingCheck), SlackLimits.sectionText),
      });
    }
    blocks.push({ type: 'section', text: labelled('Next', message.next, SlackLimits.sectionText) });
    blocks.push({
      type: 'context',
      elements: [mrkdwn(footerText(message), SlackLimits.sectionText)],
    });

    const body: Record<string, unknown> = {
      text: truncateEscaped(`${title} — ${message.summary}`, SlackLimits.fallbackText, escapeMrkdwn),
      blocks,
      // Honoured by chat.postMessage and legacy webhooks; app webhooks post where they were installed.
      ...(provider.channel !== undefined && { channel: provider.channel }),
      username: senderName(provider.username),
    };
    const headers: Record<string, string> = { ...jsonHeaders };
    if (provider.token !== undefined) headers.Authorization = `Bearer ${provider.token}`;
    return { url: provider.address, body, headers };
  },
  rejection(responseBody) {
    // chat.postMessage answers HTTP 200 with {"ok": false, "error": "..."}; webhooks answer "ok".
    const error = falseFlagError(responseBody, 'ok');
    return error === undefined ? undefined : `Slack API error: ${error}`;
  },
};
