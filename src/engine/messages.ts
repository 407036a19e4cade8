import { shortCommit } from '../api/index.ts';
import type { AlertKind, AlertSeverity, FailingCheck } from '../notifiers/message.ts';
import { phaseOf, type Ctx } from './context.ts';
import { stageIndex } from './strategy.ts';
import type { EventReason } from './types.ts';

// Builders for the one-shot actions: Kubernetes events and alerts. Every event
// has its own CamelCase reason, so `kubectl get events --field-selector reason=`
// finds one kind of happening.

/** Events about the Canary as a whole; every other event belongs to a run and names the commit it analyses. */
const CANARY_EVENTS: ReadonlySet<EventReason> = new Set<EventReason>([
  'Initialized',
  'InitializationRestarted',
  'RevisionReverted',
  'ControlIgnored',
  'Terminating',
  'Terminated',
]);

/** How a run's end reads after the commit: `commit 3f9c2ab rolled back: ...`. */
export const OUTCOMES = {
  RolledBack: 'rolled back',
  PromotionFailed: 'failed to promote',
} as const satisfies Partial<Record<EventReason, string>>;

/**
 * `message` led by the commit the run analyses (`commit 3f9c2ab: ...`, or `commit 3f9c2ab rolled back: ...`
 * with an outcome); unchanged when the target named no source revision.
 */
export function aboutCommit(ctx: Ctx, message: string, outcome?: string): string {
  const revision = ctx.status.sourceRevision;
  if (revision === undefined) return message;
  return `commit ${shortCommit(revision)}${outcome === undefined ? '' : ` ${outcome}`}: ${message}`;
}

export function recordEvent(
  ctx: Ctx,
  reason: EventReason,
  message: string,
  type: 'Normal' | 'Warning' = 'Normal',
) {
  const text = !CANARY_EVENTS.has(reason)
    ? aboutCommit(ctx, message, (OUTCOMES as Partial<Record<EventReason, string>>)[reason])
    : message;
  ctx.actions.push({ kind: 'event', reason, type, message: text });
}

export function warn(ctx: Ctx, reason: EventReason, message: string) {
  recordEvent(ctx, reason, message, 'Warning');
}

export interface AlertContent {
  kind: AlertKind;
  severity: AlertSeverity;
  summary: string;
  next: string;
  failingCheck?: FailingCheck;
  /** How the run ended, for the summary's commit: `rolled back`. */
  outcome?: string;
}

/** Queue an alert describing the draft status (the state the canary is entering). */
export function alert(ctx: Ctx, content: AlertContent) {
  const status = ctx.status;
  ctx.actions.push({
    kind: 'alert',
    message: {
      kind: content.kind,
      severity: content.severity,
      canary: ctx.meta.name,
      namespace: ctx.meta.namespace,
      cluster: ctx.clusterName,
      phase: phaseOf(ctx),
      weight: status.canaryWeight,
      step: stageIndex(ctx.plan, status) + 1,
      totalSteps: ctx.plan.stages.length,
      revision: status.lastAppliedSpec ?? 'none',
      run: status.run,
      summary: aboutCommit(ctx, content.summary, content.outcome),
      ...(content.failingCheck === undefined ? {} : { failingCheck: content.failingCheck }),
      next: content.next,
      occurredAt: ctx.nowIso,
    },
  });
}

/** One line naming a failing check: `metric error-rate: 7.2 is above the maximum 5`. */
export function describeCheck(check: FailingCheck): string {
  return `${check.type} ${check.name}${check.detail === undefined ? '' : `: ${check.detail}`}`;
}

/** Short label of the current step for messages, e.g. `weight 20 (step 2/5)`. */
export function describePosition(ctx: Ctx): string {
  const status = ctx.status;
  const step = `step ${stageIndex(ctx.plan, status) + 1}/${ctx.plan.stages.length}`;
  const iteration = status.iterations > 0 ? `iteration ${status.iterations}, ` : '';
  switch (status.trafficMode) {
    case 'None':
      return `${iteration}no traffic (${step})`;
    case 'Mirror':
      return `${iteration}mirrored traffic (${step})`;
    case 'Weighted':
      return `weight ${status.canaryWeight} (${step})`;
    case 'Matched':
      return `iteration ${status.iterations}, matched traffic (${step})`;
  }
}
