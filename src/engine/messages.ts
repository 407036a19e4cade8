import type { AlertKind, AlertSeverity, FailingCheck } from '../notifiers/message.ts';
import { phaseOf, type Ctx } from './context.ts';
import { stageIndex } from './strategy.ts';
import type { EventReason } from './types.ts';

// Builders for the one-shot actions: Kubernetes events and alerts. Every event
// has its own CamelCase reason, so `kubectl get events --field-selector reason=`
// finds one kind of happening.

export function recordEvent(
  ctx: Ctx,
  reason: EventReason,
  message: string,
  type: 'Normal' | 'Warning' = 'Normal',
) {
  ctx.actions.push({ kind: 'event', reason, type, message });
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
      summary: content.summary,
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
