import type { AlertKind, AlertMessage, AlertSeverity, FailingCheck, ThresholdRange } from './message.ts';

// Wording shared by every provider, so Slack, Teams and the rest say the same thing and only
// differ in layout.

const headlines: Readonly<Record<AlertKind, string>> = {
  Started: 'Canary analysis started',
  StepAdvanced: 'Canary advanced',
  WaitingConfirmation: 'Waiting for confirmation',
  Promoted: 'Promoted',
  RolledBack: 'Rolled back',
  ReadinessFailed: 'Readiness check failed',
  HookFailed: 'Hook failed',
  DeadlineExceeded: 'Progress deadline exceeded',
};

/** Accent colours (RGB) per severity: green, amber, red. */
export const severityColor: Readonly<Record<AlertSeverity, number>> = {
  info: 0x2eb67d,
  warn: 0xecb22e,
  error: 0xe01e5a,
};

export function severityHex(severity: AlertSeverity): string {
  return `#${severityColor[severity].toString(16).padStart(6, '0')}`;
}

// Discord's documented webhook username limit; also Slack's display-name length. Other services
// document none, and a longer sender name is unreadable anyway.
const maxSenderName = 80;

export function senderName(username: string): string {
  return truncate(username, maxSenderName);
}

export interface Fact {
  label: string;
  value: string;
}

/** e.g. "Rolled back: podinfo.test" */
export function alertTitle(message: AlertMessage): string {
  return `${headlines[message.kind]}: ${message.canary}.${message.namespace}`;
}

/** Where the rollout stands; the same six facts in every provider. */
export function alertFacts(message: AlertMessage): Fact[] {
  return [
    { label: 'Canary', value: message.canary },
    { label: 'Namespace', value: message.namespace },
    { label: 'Cluster', value: message.cluster },
    { label: 'Phase', value: message.phase },
    { label: 'Weight', value: `${message.weight}%` },
    {
      label: 'Step',
      value:
        message.totalSteps === undefined ? `${message.step}` : `${message.step} of ${message.totalSteps}`,
    },
  ];
}

export function formatNumber(value: number): string {
  if (Number.isInteger(value) || !Number.isFinite(value)) return String(value);
  // Enough precision to compare with a threshold, without float noise like 0.30000000000000004.
  return String(Number(value.toPrecision(6)));
}

export function formatThreshold(range: ThresholdRange): string | undefined {
  const { min, max } = range;
  if (min !== undefined && max !== undefined) return `between ${formatNumber(min)} and ${formatNumber(max)}`;
  if (min !== undefined) return `at least ${formatNumber(min)}`;
  if (max !== undefined) return `at most ${formatNumber(max)}`;
  return undefined;
}

const checkLabels: Readonly<Record<FailingCheck['type'], string>> = {
  metric: 'Metric',
  webhook: 'Webhook',
  readiness: 'Readiness',
};

/**
 * e.g. "Metric request-success-rate: 97.2, expected at least 99 (success rate below threshold)".
 * The name comes first so truncation can only ever cut the detail.
 */
export function describeCheck(check: FailingCheck): string {
  const threshold = check.threshold && formatThreshold(check.threshold);
  const value = check.value === undefined ? 'no value' : formatNumber(check.value);
  const measured = check.type === 'metric' || check.value !== undefined ? `: ${value}` : '';
  const expected = threshold === undefined ? '' : `, expected ${threshold}`;
  const detail = check.detail ? ` (${check.detail})` : '';
  return `${checkLabels[check.type]} ${check.name}${measured}${expected}${detail}`;
}

/** Provenance line shown small under the alert. */
export function footerText(message: AlertMessage): string {
  return `Fledge · ${message.severity} · revision ${truncate(message.revision, 64)} · ${message.occurredAt}`;
}

/** Plain-text rendering of the whole alert, for fallbacks and text-only surfaces. */
export function plainText(message: AlertMessage): string {
  const lines = [alertTitle(message), message.summary];
  if (message.failingCheck) lines.push(`Failing check: ${describeCheck(message.failingCheck)}`);
  lines.push(`Next: ${message.next}`);
  lines.push(
    alertFacts(message)
      .map((fact) => `${fact.label}: ${fact.value}`)
      .join(' | '),
  );
  return lines.join('\n');
}

const ellipsis = '…';

/**
 * Cuts `text` to at most `max` UTF-16 code units, ending in an ellipsis, without splitting a
 * surrogate pair. UTF-16 length is never below the code-point count, so the result also fits
 * services that count characters.
 */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  if (max < 1) return '';
  let cut = max - ellipsis.length;
  const last = text.charCodeAt(cut - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut -= 1;
  return text.slice(0, cut) + ellipsis;
}

/**
 * Truncates `text` so that `escape(result)` fits in `max`: escaping can lengthen text
 * (`<` becomes `&lt;`), and cutting after escaping could split an entity in half.
 */
export function truncateEscaped(text: string, max: number, escape: (raw: string) => string): string {
  let budget = max;
  let escaped = escape(truncate(text, budget));
  while (escaped.length > max && budget > 0) {
    budget -= escaped.length - max;
    escaped = escape(truncate(text, Math.max(budget, 0)));
  }
  return escaped;
}

/** Replaces empty strings, which several chat APIs reject outright, with a visible dash. */
export function orDash(text: string): string {
  return text.trim() === '' ? '—' : text;
}
