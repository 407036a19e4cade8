import type { AlertProviderDriver } from './driver.ts';
import { jsonHeaders } from './driver.ts';
import { alertTitle, plainText, senderName } from './format.ts';

/** Version of the generic webhook body; bumped only on an incompatible change. */
export const WebhookPayloadVersion = 1;

// For receivers Fledge has no dedicated provider for (PagerDuty bridges, ChatOps bots, audit
// stores): the structured alert as data, plus ready-made title and text for simple relays.
export const webhook: AlertProviderDriver = {
  type: 'webhook',
  build(message, provider) {
    const headers: Record<string, string> = { ...jsonHeaders };
    if (provider.token !== undefined) headers.Authorization = `Bearer ${provider.token}`;
    return {
      url: provider.address,
      headers,
      body: {
        source: 'fledge',
        version: WebhookPayloadVersion,
        title: alertTitle(message),
        text: plainText(message),
        username: senderName(provider.username),
        ...(provider.channel !== undefined && { channel: provider.channel }),
        alert: message,
      },
    };
  },
};
