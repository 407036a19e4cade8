// Checks of each chat service's documented payload rules, written from the services' docs (not
// from Fledge's builders). Each returns the list of violations; an empty list means "accepted".

type Json = unknown;

function isObject(value: Json): value is Record<string, Json> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function utf8Bytes(value: Json): number {
  return Buffer.byteLength(JSON.stringify(value), 'utf8');
}

function checkString(
  violations: string[],
  path: string,
  value: Json,
  { min = 1, max }: { min?: number; max: number },
): value is string {
  if (typeof value !== 'string') {
    violations.push(`${path} must be a string`);
    return false;
  }
  if (value.length < min) violations.push(`${path} must have at least ${min} characters`);
  if (value.length > max) violations.push(`${path} has ${value.length} characters, more than ${max}`);
  return true;
}

// ---------------------------------------------------------------- Slack Block Kit

function slackTextObject(violations: string[], path: string, value: Json, max: number): void {
  if (!isObject(value)) {
    violations.push(`${path} must be a text object`);
    return;
  }
  if (value.type !== 'plain_text' && value.type !== 'mrkdwn')
    violations.push(`${path}.type must be plain_text or mrkdwn`);
  checkString(violations, `${path}.text`, value.text, { max });
}

export function validateSlack(body: Json): string[] {
  const violations: string[] = [];
  if (!isObject(body)) return ['body must be an object'];
  // With blocks, top-level text is the notification fallback; Slack truncates past 40,000.
  checkString(violations, 'text', body.text, { max: 40_000 });
  if (body.channel !== undefined) checkString(violations, 'channel', body.channel, { max: 256 });
  if (body.username !== undefined) checkString(violations, 'username', body.username, { max: 256 });
  if (!Array.isArray(body.blocks)) return [...violations, 'blocks must be an array'];
  if (body.blocks.length > 50) violations.push(`${body.blocks.length} blocks, more than 50`);
  body.blocks.forEach((block: Json, i: number) => {
    const path = `blocks[${i}]`;
    if (!isObject(block)) {
      violations.push(`${path} must be an object`);
      return;
    }
    if (block.block_id !== undefined)
      checkString(violations, `${path}.block_id`, block.block_id, { max: 255 });
    switch (block.type) {
      case 'header':
        if (!isObject(block.text) || block.text.type !== 'plain_text') {
          violations.push(`${path}.text must be plain_text`);
        } else {
          checkString(violations, `${path}.text.text`, block.text.text, { max: 150 });
        }
        break;
      case 'section': {
        if (block.text === undefined && block.fields === undefined)
          violations.push(`${path} needs text or fields`);
        if (block.text !== undefined) slackTextObject(violations, `${path}.text`, block.text, 3000);
        if (block.fields !== undefined) {
          if (!Array.isArray(block.fields) || block.fields.length === 0 || block.fields.length > 10) {
            violations.push(`${path}.fields must hold 1 to 10 text objects`);
          } else {
            block.fields.forEach((f: Json, j: number) =>
              slackTextObject(violations, `${path}.fields[${j}]`, f, 2000),
            );
          }
        }
        break;
      }
      case 'context':
        if (!Array.isArray(block.elements) || block.elements.length === 0 || block.elements.length > 10) {
          violations.push(`${path}.elements must hold 1 to 10 elements`);
        } else {
          block.elements.forEach((e: Json, j: number) =>
            slackTextObject(violations, `${path}.elements[${j}]`, e, 3000),
          );
        }
        break;
      case 'divider':
        break;
      default:
        violations.push(`${path}.type ${String(block.type)} is not a block this validator knows`);
    }
  });
  return violations;
}

// ---------------------------------------------------------------- Teams Workflows + Adaptive Card

export function validateTeamsWorkflow(body: Json): string[] {
  const violations: string[] = [];
  if (!isObject(body)) return ['body must be an object'];
  if (body.type !== 'message') violations.push('type must be "message"');
  // Teams refuses webhook messages above 28 KB.
  if (utf8Bytes(body) > 28 * 1024) violations.push(`message is ${utf8Bytes(body)} bytes, more than 28 KB`);
  if (!Array.isArray(body.attachments) || body.attachments.length === 0) {
    return [...violations, 'attachments must hold at least one card'];
  }
  body.attachments.forEach((attachment: Json, i: number) => {
    const path = `attachments[${i}]`;
    if (!isObject(attachment)) {
      violations.push(`${path} must be an object`);
      return;
    }
    if (attachment.contentType !== 'application/vnd.microsoft.card.adaptive') {
      violations.push(`${path}.contentType must be application/vnd.microsoft.card.adaptive`);
    }
    const card = attachment.content;
    if (!isObject(card)) {
      violations.push(`${path}.content must be an Adaptive Card`);
      return;
    }
    if (card.type !== 'AdaptiveCard') violations.push(`${path}.content.type must be AdaptiveCard`);
    if (typeof card.version !== 'string' || !/^1\.[0-6]$/.test(card.version)) {
      violations.push(`${path}.content.version must be a schema version 1.0 to 1.6`);
    }
    if (!Array.isArray(card.body)) {
      violations.push(`${path}.content.body must be an array`);
      return;
    }
    card.body.forEach((element: Json, j: number) => {
      const at = `${path}.content.body[${j}]`;
      if (!isObject(element)) {
        violations.push(`${at} must be an object`);
        return;
      }
      if (element.type === 'TextBlock') {
        checkString(violations, `${at}.text`, element.text, { max: Number.MAX_SAFE_INTEGER });
      } else if (element.type === 'FactSet') {
        if (!Array.isArray(element.facts) || element.facts.length === 0) {
          violations.push(`${at}.facts must be a non-empty array`);
        } else {
          element.facts.forEach((fact: Json, k: number) => {
            if (!isObject(fact)) return violations.push(`${at}.facts[${k}] must be an object`);
            checkString(violations, `${at}.facts[${k}].title`, fact.title, { max: Number.MAX_SAFE_INTEGER });
            checkString(violations, `${at}.facts[${k}].value`, fact.value, { max: Number.MAX_SAFE_INTEGER });
          });
        }
      } else {
        violations.push(`${at}.type ${String(element.type)} is not an element this validator knows`);
      }
    });
  });
  return violations;
}

// ---------------------------------------------------------------- Discord execute webhook

export function validateDiscord(body: Json): string[] {
  const violations: string[] = [];
  if (!isObject(body)) return ['body must be an object'];
  if (body.content !== undefined) checkString(violations, 'content', body.content, { min: 0, max: 2000 });
  if (body.username !== undefined) checkString(violations, 'username', body.username, { max: 80 });
  const embeds = body.embeds;
  if (embeds !== undefined && (!Array.isArray(embeds) || embeds.length > 10))
    violations.push('embeds: at most 10');
  if ((body.content ?? '') === '' && (!Array.isArray(embeds) || embeds.length === 0)) {
    violations.push('one of content or embeds is required');
  }
  if (body.allowed_mentions !== undefined) {
    if (!isObject(body.allowed_mentions) || !Array.isArray(body.allowed_mentions.parse)) {
      violations.push('allowed_mentions.parse must be an array');
    }
  }
  let total = 0;
  const counted = (path: string, value: Json, max: number, min = 1) => {
    if (checkString(violations, path, value, { min, max })) total += value.length;
  };
  (Array.isArray(embeds) ? embeds : []).forEach((embed: Json, i: number) => {
    const path = `embeds[${i}]`;
    if (!isObject(embed)) return violations.push(`${path} must be an object`);
    if (embed.title !== undefined) counted(`${path}.title`, embed.title, 256);
    if (embed.description !== undefined) counted(`${path}.description`, embed.description, 4096);
    if (
      embed.color !== undefined &&
      (!Number.isInteger(embed.color) || (embed.color as number) < 0 || (embed.color as number) > 0xffffff)
    ) {
      violations.push(`${path}.color must be an RGB integer`);
    }
    if (embed.timestamp !== undefined && Number.isNaN(Date.parse(String(embed.timestamp)))) {
      violations.push(`${path}.timestamp must be ISO 8601`);
    }
    if (embed.footer !== undefined)
      counted(`${path}.footer.text`, isObject(embed.footer) ? embed.footer.text : undefined, 2048);
    if (embed.fields !== undefined) {
      if (!Array.isArray(embed.fields) || embed.fields.length > 25) {
        violations.push(`${path}.fields: at most 25`);
      } else {
        embed.fields.forEach((field: Json, j: number) => {
          if (!isObject(field)) return violations.push(`${path}.fields[${j}] must be an object`);
          counted(`${path}.fields[${j}].name`, field.name, 256);
          counted(`${path}.fields[${j}].value`, field.value, 1024);
          if (field.inline !== undefined && typeof field.inline !== 'boolean') {
            violations.push(`${path}.fields[${j}].inline must be a boolean`);
          }
        });
      }
    }
  });
  if (total > 6000) violations.push(`embeds hold ${total} characters, more than 6000`);
  return violations;
}

// ---------------------------------------------------------------- Rocket.Chat incoming webhook

export function validateRocket(body: Json, maxAllowedSize = 5000): string[] {
  const violations: string[] = [];
  if (!isObject(body)) return ['body must be an object'];
  if (body.text === undefined && body.attachments === undefined)
    violations.push('text or attachments is required');
  let total = 0;
  const counted = (path: string, value: Json) => {
    if (checkString(violations, path, value, { max: maxAllowedSize })) total += value.length;
  };
  if (body.text !== undefined) counted('text', body.text);
  for (const key of ['alias', 'channel', 'emoji', 'avatar'] as const) {
    if (body[key] !== undefined) checkString(violations, key, body[key], { max: 256 });
  }
  if (body.attachments !== undefined) {
    if (!Array.isArray(body.attachments)) return [...violations, 'attachments must be an array'];
    body.attachments.forEach((attachment: Json, i: number) => {
      const path = `attachments[${i}]`;
      if (!isObject(attachment)) return violations.push(`${path} must be an object`);
      if (attachment.title !== undefined) counted(`${path}.title`, attachment.title);
      if (attachment.text !== undefined) counted(`${path}.text`, attachment.text);
      if (attachment.color !== undefined)
        checkString(violations, `${path}.color`, attachment.color, { max: 64 });
      if (attachment.fields !== undefined) {
        if (!Array.isArray(attachment.fields)) return violations.push(`${path}.fields must be an array`);
        attachment.fields.forEach((field: Json, j: number) => {
          if (!isObject(field)) return violations.push(`${path}.fields[${j}] must be an object`);
          counted(`${path}.fields[${j}].title`, field.title);
          counted(`${path}.fields[${j}].value`, field.value);
          if (field.short !== undefined && typeof field.short !== 'boolean') {
            violations.push(`${path}.fields[${j}].short must be a boolean`);
          }
        });
      }
    });
  }
  // Rocket.Chat's "Maximum Allowed Characters Per Message" (default 5000).
  if (total > maxAllowedSize)
    violations.push(`message holds ${total} characters, more than ${maxAllowedSize}`);
  return violations;
}

// ---------------------------------------------------------------- Google Chat webhook

const googleWidgetKinds = ['textParagraph', 'decoratedText', 'divider', 'buttonList', 'image', 'columns'];

export function validateGoogleChat(body: Json): string[] {
  const violations: string[] = [];
  if (!isObject(body)) return ['body must be an object'];
  if (body.text === undefined && body.cardsV2 === undefined) violations.push('text or cardsV2 is required');
  if (body.text !== undefined) checkString(violations, 'text', body.text, { max: 32_000 });
  if (utf8Bytes(body) > 32_000) violations.push(`message is ${utf8Bytes(body)} bytes, more than 32,000`);
  if (body.cardsV2 === undefined) return violations;
  if (!Array.isArray(body.cardsV2)) return [...violations, 'cardsV2 must be an array'];
  body.cardsV2.forEach((entry: Json, i: number) => {
    const path = `cardsV2[${i}]`;
    if (!isObject(entry)) return violations.push(`${path} must be an object`);
    checkString(violations, `${path}.cardId`, entry.cardId, { max: 255 });
    const card = entry.card;
    if (!isObject(card) || !Array.isArray(card.sections) || card.sections.length === 0) {
      return violations.push(`${path}.card.sections must be a non-empty array`);
    }
    if (card.header !== undefined && (!isObject(card.header) || typeof card.header.title !== 'string')) {
      violations.push(`${path}.card.header.title is required`);
    }
    let widgets = 0;
    card.sections.forEach((section: Json, j: number) => {
      const at = `${path}.card.sections[${j}]`;
      if (!isObject(section) || !Array.isArray(section.widgets) || section.widgets.length === 0) {
        return violations.push(`${at}.widgets must be a non-empty array`);
      }
      if (section.header !== undefined)
        checkString(violations, `${at}.header`, section.header, { max: 1000 });
      section.widgets.forEach((widget: Json, k: number) => {
        widgets += 1;
        const w = `${at}.widgets[${k}]`;
        if (!isObject(widget)) return violations.push(`${w} must be an object`);
        const kinds = Object.keys(widget).filter((key) => googleWidgetKinds.includes(key));
        if (kinds.length !== 1 || Object.keys(widget).length !== 1) {
          return violations.push(`${w} must hold exactly one widget`);
        }
        const inner = widget[kinds[0] as string];
        if (kinds[0] === 'textParagraph' || kinds[0] === 'decoratedText') {
          if (!isObject(inner)) return violations.push(`${w} must be an object`);
          checkString(violations, `${w}.${kinds[0]}.text`, inner.text, { max: 32_000 });
          if (inner.topLabel !== undefined)
            checkString(violations, `${w}.topLabel`, inner.topLabel, { max: 1000 });
        }
      });
    });
    // Widgets past 100 per card are ignored by Chat.
    if (widgets > 100) violations.push(`${path} has ${widgets} widgets, more than 100`);
  });
  return violations;
}

// ---------------------------------------------------------------- Fledge generic webhook (v1)

export function validateFledgeWebhook(body: Json): string[] {
  const violations: string[] = [];
  if (!isObject(body)) return ['body must be an object'];
  if (body.source !== 'fledge') violations.push('source must be "fledge"');
  if (body.version !== 1) violations.push('version must be 1');
  checkString(violations, 'title', body.title, { max: Number.MAX_SAFE_INTEGER });
  checkString(violations, 'text', body.text, { max: Number.MAX_SAFE_INTEGER });
  const alert = body.alert;
  if (!isObject(alert)) return [...violations, 'alert must be an object'];
  for (const key of [
    'kind',
    'severity',
    'canary',
    'namespace',
    'cluster',
    'phase',
    'revision',
    'summary',
    'next',
    'occurredAt',
  ]) {
    if (typeof alert[key] !== 'string') violations.push(`alert.${key} must be a string`);
  }
  for (const key of ['weight', 'step', 'run']) {
    if (typeof alert[key] !== 'number') violations.push(`alert.${key} must be a number`);
  }
  return violations;
}

export const validators = {
  slack: validateSlack,
  msteams: validateTeamsWorkflow,
  discord: validateDiscord,
  rocket: validateRocket,
  gchat: validateGoogleChat,
  webhook: validateFledgeWebhook,
} as const;
