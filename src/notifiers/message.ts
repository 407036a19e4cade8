import { AlertSeverities, type AlertSeverity, type Phase } from '../api/index.ts';

export type { AlertSeverity };

// The alert as the decision core produces it (one per phase change that matters) and every
// provider renders it. Chat formatting lives in the providers; this is plain data.

export const AlertKinds = [
  'Started',
  'StepAdvanced',
  'WaitingConfirmation',
  'Promoted',
  'RolledBack',
  'ReadinessFailed',
  'HookFailed',
  'DeadlineExceeded',
] as const;
export type AlertKind = (typeof AlertKinds)[number];

export const CheckTypes = ['metric', 'webhook', 'readiness'] as const;
export type CheckType = (typeof CheckTypes)[number];

/** Inclusive bounds a metric must stay within (Flagger's thresholdRange). */
export interface ThresholdRange {
  min?: number;
  max?: number;
}

/** The check that made the rollout stop, halt or roll back. */
export interface FailingCheck {
  type: CheckType;
  /** Metric name, webhook name, or the workload for a readiness check. */
  name: string;
  /** Measured value; absent when the metric returned no data or could not be queried. */
  value?: number;
  threshold?: ThresholdRange;
  /** The measurement's or hook's own message, e.g. "no values found" or "HTTP 503". */
  detail?: string;
}

export interface AlertMessage {
  kind: AlertKind;
  severity: AlertSeverity;
  canary: string;
  namespace: string;
  /** Operator-wide cluster name (`--cluster-name`), so shared channels can tell clusters apart. */
  cluster: string;
  phase: Phase;
  /** Canary traffic weight in percent. */
  weight: number;
  /** Current analysis step (iteration), 0 before the first one. */
  step: number;
  totalSteps?: number;
  /** Revision of the target being analysed (status.lastAppliedSpec); part of the de-duplication key. */
  revision: string;
  /**
   * Analysis run (status.run); part of the de-duplication key, so a retried run of the same
   * revision is alerted again instead of being taken for a repeat of the earlier run.
   */
  run: number;
  /** One line saying what happened. */
  summary: string;
  failingCheck?: FailingCheck;
  /** What the operator does next, e.g. "Traffic is back on the primary; fix and push a new revision." */
  next: string;
  /** RFC 3339 time the engine decided this. */
  occurredAt: string;
}

const severityRank: Readonly<Record<AlertSeverity, number>> = { info: 0, warn: 1, error: 2 };

export function isAlertSeverity(value: string): value is AlertSeverity {
  return (AlertSeverities as readonly string[]).includes(value);
}

/**
 * Whether a subscription at `subscribed` severity receives an alert of `actual` severity:
 * info receives everything, warn receives warn and error, error receives errors only.
 */
export function severityAccepts(subscribed: AlertSeverity, actual: AlertSeverity): boolean {
  return severityRank[actual] >= severityRank[subscribed];
}

/** Orders severities for the delivery queue's drop policy (least important first). */
export function compareSeverity(a: AlertSeverity, b: AlertSeverity): number {
  return severityRank[a] - severityRank[b];
}
