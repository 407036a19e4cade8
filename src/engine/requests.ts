import type {
  AnalysisTick,
  ConfirmationGate,
  NormalizedMetric,
  NormalizedWebhook,
  Phase,
  WebhookType,
} from '../api/index.ts';
import type { Measurement } from '../analysis/index.ts';
import type { FailingCheck } from '../notifiers/message.ts';
import { phaseOf, type Ctx } from './context.ts';
import { stageIndex } from './strategy.ts';
import type { HookResult } from './types.ts';

// The hooks and metrics one analysis tick asks for, and the judgement of their
// results. Ids are derived from status (canary uid, run, tick), so a restarted
// controller asks again for exactly the same things and a result can only ever
// be read by the tick that asked for it.

/** How a hook's answer counts: a check fails the tick, a gate holds it, a rollback hook ends the run. */
export type HookRole = 'check' | 'gate' | 'rollback';

export type Request =
  | { kind: 'hook'; id: string; role: HookRole; webhook: NormalizedWebhook }
  | { kind: 'metric'; id: string; metric: NormalizedMetric };

export interface Evaluation {
  /** A rollback hook that answered with success. */
  rollback?: HookResult;
  /** Checks that failed: pre-rollout or rollout hooks, and metrics outside their range. */
  failures: FailingCheck[];
  /** Failed hooks whose alerts are not muted. */
  alertedHookFailures: FailingCheck[];
  /** Metrics that gave no verdict: no data, or the provider could not be asked. */
  unjudged: Measurement[];
  /** The confirmation gate asked this tick, if any. */
  gate?: { type: ConfirmationGate; open: boolean; closedBy: string[] };
  measurements: Measurement[];
}

export function runPrefix(ctx: Ctx): string {
  return `${ctx.meta.uid}/r${ctx.status.run}`;
}

function tickPrefix(ctx: Ctx, tick: AnalysisTick): string {
  return `${runPrefix(ctx)}/t${tick.number}`;
}

export function hookId(prefix: string, webhook: NormalizedWebhook, index: number): string {
  return `${prefix}/hook/${webhook.type}/${index}-${webhook.name}`;
}

function hooksOf(ctx: Ctx, tick: AnalysisTick, type: WebhookType, role: HookRole): Request[] {
  const prefix = tickPrefix(ctx, tick);
  return ctx.analysis.webhooks.flatMap((webhook, index) =>
    webhook.type === type
      ? [{ kind: 'hook' as const, id: hookId(prefix, webhook, index), role, webhook }]
      : [],
  );
}

function metrics(ctx: Ctx, tick: AnalysisTick): Request[] {
  const prefix = tickPrefix(ctx, tick);
  return ctx.analysis.metrics.map((metric, index) => ({
    kind: 'metric' as const,
    id: `${prefix}/metric/${index}-${metric.name}`,
    metric,
  }));
}

/** The confirmation gate the current tick asks, given the phase and the run's position. */
export function tickGate(ctx: Ctx): ConfirmationGate | undefined {
  if (phaseOf(ctx) === 'Waiting') return 'confirm-rollout';
  const index = stageIndex(ctx.plan, ctx.status);
  const next = ctx.plan.stages[index + 1];
  return next === undefined ? ctx.plan.promotionGate : next.enterGate;
}

/** Whether the run is before its first stage (no traffic on the canary yet). */
export function atStart(ctx: Ctx): boolean {
  return stageIndex(ctx.plan, ctx.status) === -1;
}

/** Phases whose ticks ask hooks and metrics. */
export const ANALYSING: ReadonlySet<Phase> = new Set(['Waiting', 'Progressing', 'WaitingPromotion']);

/** Everything the current tick asks for; empty once it is judged and outside the phases that analyse. */
export function tickRequests(ctx: Ctx): Request[] {
  const phase = phaseOf(ctx);
  const tick = ctx.status.tick;
  if (tick === undefined || tick.evaluated || !ANALYSING.has(phase)) return [];
  const rollback = hooksOf(ctx, tick, 'rollback', 'rollback');
  if (phase === 'Waiting') return [...hooksOf(ctx, tick, 'confirm-rollout', 'gate'), ...rollback];
  const gate = tickGate(ctx);
  const gateHooks = gate === undefined ? [] : hooksOf(ctx, tick, gate, 'gate');
  // Before the first stage the canary has no traffic to measure: only pre-rollout hooks run.
  const checks = atStart(ctx)
    ? ctx.status.preRolloutPassed === true
      ? []
      : hooksOf(ctx, tick, 'pre-rollout', 'check')
    : [...hooksOf(ctx, tick, 'rollout', 'check'), ...metrics(ctx, tick)];
  return [...checks, ...gateHooks, ...rollback];
}

/** Requests of the current tick that have no result yet. */
export function missingResults(ctx: Ctx): Request[] {
  return tickRequests(ctx).filter((request) =>
    request.kind === 'hook'
      ? ctx.observed.hookResults[request.id] === undefined
      : ctx.observed.metricResults[request.id] === undefined,
  );
}

/** The judgement of the current tick, once it has started, is not yet judged, and every result is in. */
export function evaluation(ctx: Ctx): Evaluation | undefined {
  const tick = ctx.status.tick;
  if (tick === undefined || tick.evaluated || !ANALYSING.has(phaseOf(ctx))) return undefined;
  const requests = tickRequests(ctx);
  if (missingResults(ctx).length > 0) return undefined;
  const result: Evaluation = { failures: [], alertedHookFailures: [], unjudged: [], measurements: [] };
  const gate = tickGate(ctx);
  if (gate !== undefined) result.gate = { type: gate, open: true, closedBy: [] };
  for (const request of requests) {
    if (request.kind === 'metric') judgeMetric(ctx, request, result);
    else judgeHook(ctx, request, result);
  }
  return result;
}

function judgeMetric(ctx: Ctx, request: Extract<Request, { kind: 'metric' }>, into: Evaluation): void {
  const measurement = ctx.observed.metricResults[request.id] as Measurement;
  into.measurements.push(measurement);
  if (measurement.outcome === 'fail') {
    into.failures.push({
      type: 'metric',
      name: request.metric.name,
      ...(measurement.value === undefined ? {} : { value: measurement.value }),
      threshold: request.metric.thresholdRange,
      detail: measurement.message,
    });
  } else if (measurement.outcome === 'noData' || measurement.outcome === 'error') {
    into.unjudged.push(measurement);
  }
}

function judgeHook(ctx: Ctx, request: Extract<Request, { kind: 'hook' }>, into: Evaluation): void {
  const result = ctx.observed.hookResults[request.id] as HookResult;
  switch (request.role) {
    case 'rollback':
      if (result.ok && into.rollback === undefined) into.rollback = result;
      return;
    case 'gate':
      if (!result.ok && into.gate !== undefined) {
        into.gate.open = false;
        into.gate.closedBy.push(`${request.webhook.name} (${result.message})`);
      }
      return;
    case 'check':
      if (!result.ok) {
        const check = { type: 'webhook' as const, name: request.webhook.name, detail: result.message };
        into.failures.push(check);
        if (!request.webhook.muteAlert) into.alertedHookFailures.push(check);
      }
      return;
  }
}

/**
 * Ticks without a verdict a metric may accumulate in one run before the run is rolled
 * back: its own noDataLimit, else as many analysis intervals as fit in
 * progressDeadlineSeconds, so waiting for data is bounded by the same budget as
 * waiting for readiness.
 */
export function noDataLimit(ctx: Ctx, metricName: string): number {
  const own = ctx.analysis.metrics.find((m) => m.name === metricName)?.noDataLimit;
  return own ?? Math.max(1, Math.ceil(ctx.deadlineMs / ctx.intervalMs));
}

/** The first metric whose no-verdict count reaches its limit with this evaluation. */
export function exhaustedMetric(ctx: Ctx, judged: Evaluation): Measurement | undefined {
  const counts = ctx.status.noDataChecks;
  return judged.unjudged.find((m) => (counts[m.name] ?? 0) + 1 >= noDataLimit(ctx, m.name));
}
