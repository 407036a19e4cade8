import { MANUAL_CONTROL_ANNOTATIONS, type ManualControl, type MetricStatus } from '../api/index.ts';
import type { Measurement } from '../analysis/index.ts';
import type { AlertKind, FailingCheck } from '../notifiers/message.ts';
import { phaseOf, type Ctx, type DraftStatus } from './context.ts';
import {
  desiredRoutes,
  inapplicableControls,
  pendingControl,
  primaryReadiness,
  primaryReady,
  targetChange,
  targetReadiness,
  targetReady,
} from './facts.ts';
import { OUTCOMES, alert, describeCheck, describePosition, recordEvent, warn } from './messages.ts';
import { atStart, hookId, noDataLimit, runPrefix, type Evaluation } from './requests.ts';
import { affinityCookies, stageIndex } from './strategy.ts';
import type { RouteSpec } from './types.ts';

// What a transition does besides changing the phase: status bookkeeping and the
// one-shot actions (events, alerts, post-rollout hooks). Level-triggered actions
// (routes, scaling, promotion, requests) are not here: they follow from the
// phase the decision ends in (see level.ts).

export type Effect = (ctx: Ctx) => void;

// ---------------------------------------------------------------- helpers

function target(ctx: Ctx) {
  const observed = ctx.observed.target;
  if (!observed.exists)
    throw new Error('engine bug: a transition that reads the target fired while it is missing');
  return observed;
}

function currentEvaluation(ctx: Ctx): Evaluation {
  const judged = ctx.snapshot.evaluation;
  if (judged === undefined) throw new Error('engine bug: a tick effect fired without a complete tick');
  return judged;
}

function setPromotedCondition(ctx: Ctx, reason: string, message: string): void {
  const status = ctx.status;
  const phase = phaseOf(ctx);
  const value =
    phase === 'Succeeded' || phase === 'Initialized' ? 'True' : phase === 'Failed' ? 'False' : 'Unknown';
  const conditions = status.conditions;
  const previous = conditions.find((c) => c.type === 'Promoted');
  const since = previous?.status === value ? previous.lastTransitionTime : ctx.nowIso;
  status.conditions = [
    {
      type: 'Promoted',
      status: value,
      reason,
      message,
      lastTransitionTime: since,
      observedGeneration: ctx.meta.generation,
    },
    ...conditions.filter((c) => c.type !== 'Promoted'),
  ];
}

/** Records the judged tick: last measurements, failed and no-verdict counters. */
function recordResults(ctx: Ctx, judged: Evaluation): void {
  const status = ctx.status;
  if (status.tick !== undefined) status.tick = { ...status.tick, evaluated: true };
  if (judged.measurements.length > 0) {
    const byName = new Map(status.metrics.map((m) => [m.name, m]));
    for (const m of judged.measurements) byName.set(m.name, metricStatus(m));
    status.metrics = [...byName.values()];
  }
  if (judged.failures.length > 0) status.failedChecks += 1;
  if (judged.unjudged.length > 0) {
    const counts = { ...status.noDataChecks };
    for (const m of judged.unjudged) counts[m.name] = (counts[m.name] ?? 0) + 1;
    status.noDataChecks = counts;
  }
}

const VERDICTS = { pass: 'Pass', fail: 'Fail', noData: 'NoData', error: 'Error' } as const;

function metricStatus(m: Measurement): MetricStatus {
  return {
    name: m.name,
    ...(m.query === undefined ? {} : { query: m.query }),
    ...(m.value === undefined ? {} : { value: m.value }),
    verdict: VERDICTS[m.outcome],
    message: m.message,
    lastMeasuredTime: m.measuredAt,
  };
}

/** Once traffic leaves the canary, its cookie becomes the previous one so routers tell clients to drop it. */
function retireCookies(status: DraftStatus): void {
  if (status.sessionAffinityCookie !== undefined)
    status.previousSessionAffinityCookie = status.sessionAffinityCookie;
  delete status.sessionAffinityCookie;
  delete status.primarySessionAffinityCookie;
}

function resetPosition(status: DraftStatus): void {
  status.canaryWeight = 0;
  status.iterations = 0;
  status.trafficMode = 'None';
  status.preRolloutPassed = false;
  delete status.tick;
  delete status.pendingConfirmation;
  retireCookies(status);
}

function markHandled(ctx: Ctx, control: ManualControl): void {
  const token = pendingControl(ctx, control);
  if (token !== undefined) ctx.status.handledControls = { ...ctx.status.handledControls, [control]: token };
}

function fireEndOfRunHooks(ctx: Ctx): void {
  const prefix = `${runPrefix(ctx)}/end`;
  ctx.analysis.webhooks.forEach((webhook, index) => {
    if (webhook.type !== 'post-rollout') return;
    ctx.actions.push({ kind: 'runHook', id: hookId(prefix, webhook, index), webhook, phase: phaseOf(ctx) });
  });
}

// ---------------------------------------------------------------- runs

type ObservedTarget = ReturnType<typeof target>;

/** Records the observed target as the one acted on, with the source revision that applied it. */
function recordApplied(status: DraftStatus, observed: ObservedTarget): void {
  status.lastAppliedSpec = observed.revision;
  status.trackedConfigs = { ...observed.configs };
  if (observed.sourceRevision === undefined) delete status.sourceRevision;
  else status.sourceRevision = observed.sourceRevision;
}

/** Starts a run of the observed target revision (a new revision, or a retry of the same one). */
function beginRun(ctx: Ctx): void {
  const observed = target(ctx);
  const status = ctx.status;
  status.run += 1;
  recordApplied(status, observed);
  status.failedChecks = 0;
  status.noDataChecks = {};
  status.metrics = [];
  delete status.stalled;
  resetPosition(status);
}

const startRun: Effect = (ctx) => {
  // A retry runs the revision already applied; anything else is a change of the target.
  const retry = targetChange(ctx) === 'none';
  beginRun(ctx);
  const revision = ctx.status.lastAppliedSpec as string;
  const what = retry ? `retrying revision ${revision}` : `new revision ${revision} detected`;
  recordEvent(ctx, 'NewRevision', `${what}: starting analysis run ${ctx.status.run}`);
  setPromotedCondition(ctx, 'NewRevision', `analysing revision ${revision}`);
  alert(ctx, {
    kind: 'Started',
    severity: 'info',
    summary: `${what}: analysis run ${ctx.status.run} starts`,
    next: nextAfterStart(ctx),
  });
};

function nextAfterStart(ctx: Ctx): string {
  return phaseOf(ctx) === 'Waiting'
    ? 'Waiting for the confirm-rollout webhooks before scaling the canary up.'
    : 'Scaling the canary up, then analysing it step by step.';
}

const restartRun: Effect = (ctx) => {
  beginRun(ctx);
  const revision = ctx.status.lastAppliedSpec as string;
  recordEvent(
    ctx,
    'AnalysisRestarted',
    `new revision ${revision} during the analysis: traffic back on the primary, restarting as run ${ctx.status.run}`,
  );
  setPromotedCondition(ctx, 'AnalysisRestarted', `analysing revision ${revision}`);
  alert(ctx, {
    kind: 'Started',
    severity: 'info',
    summary: `new revision ${revision} replaced the one under analysis: run ${ctx.status.run} starts`,
    next: nextAfterStart(ctx),
  });
};

const acceptRevert: Effect = (ctx) => {
  const observed = target(ctx);
  const status = ctx.status;
  recordApplied(status, observed);
  resetPosition(status);
  const message = `target reverted to the promoted revision ${observed.revision}: nothing to analyse`;
  recordEvent(ctx, 'RevisionReverted', message);
  setPromotedCondition(ctx, 'RevisionReverted', message);
};

// ---------------------------------------------------------------- initialisation

const completeInitialization: Effect = (ctx) => {
  const observed = target(ctx);
  const status = ctx.status;
  recordApplied(status, observed);
  status.lastPromotedSpec = observed.revision;
  status.lastPromotedConfigs = { ...observed.configs };
  status.failedChecks = 0;
  resetPosition(status);
  const message = `primary ready with revision ${observed.revision}; all traffic on the primary`;
  recordEvent(ctx, 'Initialized', message);
  setPromotedCondition(ctx, 'Initialized', message);
};

/** A failed initialisation remembers the revision it tried, so only a new one (or a retry) tries again. */
const rememberAttempt: Effect = (ctx) => {
  const observed = ctx.observed.target;
  if (observed.exists) recordApplied(ctx.status, observed);
};

const restartInitialization: Effect = (ctx) => {
  markHandled(ctx, 'retry');
  delete ctx.status.lastAppliedSpec;
  delete ctx.status.trackedConfigs;
  delete ctx.status.sourceRevision;
  recordEvent(ctx, 'InitializationRestarted', 'initialisation never completed: starting it again');
  setPromotedCondition(ctx, 'Initializing', 'creating the primary from the target');
};

// ---------------------------------------------------------------- controls

const handleAbort: Effect = (ctx) => markHandled(ctx, 'abort');
const handlePromote: Effect = (ctx) => markHandled(ctx, 'promote');
const handleRetry: Effect = (ctx) => markHandled(ctx, 'retry');

const CONTROL_SCOPE: Readonly<Record<ManualControl, string>> = {
  promote: 'promote acts only on a run in Waiting, Progressing or WaitingPromotion',
  abort:
    'abort acts only on a run in Waiting, Progressing or WaitingPromotion (a promotion under way cannot be undone)',
  retry: 'retry acts only on a Failed canary',
};

const ignoreControls: Effect = (ctx) => {
  for (const control of inapplicableControls(ctx)) {
    const token = pendingControl(ctx, control) as string;
    warn(
      ctx,
      'ControlIgnored',
      `${MANUAL_CONTROL_ANNOTATIONS[control]}=${token} ignored in phase ${phaseOf(ctx)}: ${CONTROL_SCOPE[control]}`,
    );
    ctx.status.handledControls = { ...ctx.status.handledControls, [control]: token };
  }
};

/** Closes the current tick unjudged; its number stays taken so no later request reuses an id. */
function abandonTick(ctx: Ctx): void {
  if (ctx.status.tick !== undefined) ctx.status.tick = { ...ctx.status.tick, evaluated: true };
}

const skipConfirmation: Effect = (ctx) => {
  abandonTick(ctx);
  delete ctx.status.pendingConfirmation;
  recordEvent(
    ctx,
    'ConfirmationSkipped',
    'fledge.dev/promote: skipping confirm-rollout; promoting once the canary is ready',
  );
};

// ---------------------------------------------------------------- ticks

/** Begins the next tick now; promotion uses judged ticks only as its clock. */
function nextTick(ctx: Ctx, evaluated: boolean): void {
  ctx.status.tick = { number: (ctx.status.tick?.number ?? 0) + 1, startedTime: ctx.nowIso, evaluated };
}

const startTick: Effect = (ctx) => nextTick(ctx, false);

const confirmRollout: Effect = (ctx) => {
  // The first analysis tick follows an interval later, once the canary is up (as in Flagger).
  recordResults(ctx, currentEvaluation(ctx));
  delete ctx.status.pendingConfirmation;
  recordEvent(ctx, 'RolloutConfirmed', 'confirm-rollout webhooks passed: scaling the canary up');
};

const holdAtGate: Effect = (ctx) => {
  const judged = currentEvaluation(ctx);
  recordResults(ctx, judged);
  if (phaseOf(ctx) !== 'Waiting' && atStart(ctx)) ctx.status.preRolloutPassed = true;
  const gate = judged.gate;
  if (gate === undefined || ctx.status.pendingConfirmation?.gate === gate.type) return;
  ctx.status.pendingConfirmation = { gate: gate.type, since: ctx.nowIso };
  const message = `${gate.type} webhooks hold the run at ${describePosition(ctx)}: ${gate.closedBy.join('; ')}`;
  recordEvent(ctx, 'AwaitingConfirmation', message);
  alert(ctx, {
    kind: 'WaitingConfirmation',
    severity: 'info',
    summary: message,
    next: `Asking again every ${ctx.analysis.interval} until every ${gate.type} webhook succeeds.`,
  });
};

const countFailedCheck: Effect = (ctx) => {
  const judged = currentEvaluation(ctx);
  recordResults(ctx, judged);
  const failed = judged.failures.map(describeCheck).join('; ');
  warn(ctx, 'CheckFailed', `failed checks ${ctx.status.failedChecks}/${ctx.analysis.threshold}: ${failed}`);
  const hook = judged.alertedHookFailures[0];
  if (hook !== undefined) {
    alert(ctx, {
      kind: 'HookFailed',
      severity: 'warn',
      summary: `webhook ${hook.name} failed at ${describePosition(ctx)}`,
      failingCheck: hook,
      next: `Failed checks ${ctx.status.failedChecks}/${ctx.analysis.threshold}; the run rolls back at the threshold.`,
    });
  }
};

const haltOnNoData: Effect = (ctx) => {
  const judged = currentEvaluation(ctx);
  recordResults(ctx, judged);
  const counts = ctx.status.noDataChecks;
  const detail = judged.unjudged
    .map(
      (m) =>
        `metric ${m.name} ${m.outcome === 'error' ? 'could not be measured' : 'had no data'} (${counts[m.name]}/${noDataLimit(ctx, m.name)}): ${m.message}`,
    )
    .join('; ');
  warn(ctx, 'AnalysisHalted', `advancement halted at ${describePosition(ctx)}: ${detail}`);
};

const advanceStage: Effect = (ctx) => {
  recordResults(ctx, currentEvaluation(ctx));
  const status = ctx.status;
  if (atStart(ctx)) status.preRolloutPassed = true;
  const next = ctx.plan.stages[stageIndex(ctx.plan, status) + 1];
  if (next === undefined) throw new Error('engine bug: advancing past the last stage');
  status.trafficMode = next.traffic;
  status.canaryWeight = next.canaryWeight;
  status.iterations = next.iterations;
  delete status.pendingConfirmation;
  if (next.traffic === 'Weighted')
    Object.assign(status, affinityCookies(ctx.analysis, ctx.meta.uid, status.run));
  const message = `advanced to ${describePosition(ctx)}`;
  recordEvent(ctx, 'StepAdvanced', message);
  alert(ctx, { kind: 'StepAdvanced', severity: 'info', summary: message, next: 'Analysing this step next.' });
};

// ---------------------------------------------------------------- promotion

const startPromotion: Effect = (ctx) => {
  const status = ctx.status;
  const judged = ctx.snapshot.evaluation;
  if (judged !== undefined) recordResults(ctx, judged);
  status.lastPromotedSpec = status.lastAppliedSpec;
  status.lastPromotedConfigs = { ...status.trackedConfigs };
  delete status.pendingConfirmation;
  // The tick clock now paces the gradual promotion.
  nextTick(ctx, true);
  const message = `promoting revision ${status.lastAppliedSpec}: copying the canary's template and configs to the primary`;
  recordEvent(ctx, 'PromotionStarted', message);
  setPromotedCondition(ctx, 'Promoting', message);
};

const shiftPromotion: Effect = (ctx) => {
  const status = ctx.status;
  const step = ctx.analysis.stepWeightPromotion as number;
  status.canaryWeight = Math.max(0, status.canaryWeight - step);
  nextTick(ctx, true);
  recordEvent(ctx, 'PromotionAdvanced', `promotion: primary weight ${100 - status.canaryWeight}`);
};

const beginFinalising: Effect = (ctx) => {
  const status = ctx.status;
  status.canaryWeight = 0;
  status.trafficMode = 'None';
  retireCookies(status);
  setPromotedCondition(ctx, 'Finalising', 'primary rolled out; moving all traffic to it');
};

const completePromotion: Effect = (ctx) => {
  const revision = ctx.status.lastPromotedSpec as string;
  const message = `revision ${revision} promoted: the primary serves all traffic`;
  recordEvent(ctx, 'Promoted', message);
  setPromotedCondition(ctx, 'Succeeded', message);
  alert(ctx, { kind: 'Promoted', severity: 'info', summary: message, next: 'Scaling the canary to zero.' });
  fireEndOfRunHooks(ctx);
};

// ---------------------------------------------------------------- failure

interface Failure {
  reason: string;
  summary: string;
  alertKind: AlertKind;
  failingCheck?: FailingCheck;
}

/** Where traffic ends up after a failure: the primary, unless it cannot serve and the canary can. */
function trafficAfterFailure(ctx: Ctx): string {
  if (!primaryReady(ctx) && targetReady(ctx)) {
    return `The primary is not ready (${primaryReadiness(ctx).message}): all traffic stays on the canary, which keeps running.`;
  }
  return 'Traffic returns to the primary and the canary is scaled to zero.';
}

function failRun(ctx: Ctx, failure: Failure, eventReason: 'RolledBack' | 'PromotionFailed'): void {
  const status = ctx.status;
  delete status.pendingConfirmation;
  retireCookies(status);
  const next = trafficAfterFailure(ctx);
  warn(ctx, eventReason, `${failure.summary}. ${next}`);
  setPromotedCondition(ctx, failure.reason, failure.summary);
  alert(ctx, {
    kind: failure.alertKind,
    severity: 'error',
    summary: failure.summary,
    outcome: OUTCOMES[eventReason],
    ...(failure.failingCheck === undefined ? {} : { failingCheck: failure.failingCheck }),
    next,
  });
  fireEndOfRunHooks(ctx);
  // The run is over: once traffic goes back to the primary, status says so, as Flagger's does
  // (the alert above still names the weight the run failed at).
  if (desiredRoutes(ctx)?.canaryWeight === 0) {
    status.canaryWeight = 0;
    status.trafficMode = 'None';
  }
}

function readinessFailure(ctx: Ctx): Failure {
  const canary = targetReadiness(ctx);
  const failing = !canary.ready && !canary.retriable ? 'canary' : 'primary';
  const readiness = failing === 'canary' ? canary : primaryReadiness(ctx);
  return {
    reason: 'ReadinessFailed',
    summary: `${failing} workload failed: ${readiness.message}`,
    alertKind: 'ReadinessFailed',
    failingCheck: { type: 'readiness', name: failing, detail: readiness.message },
  };
}

function deadlineFailure(ctx: Ctx): Failure {
  const blocked = ctx.snapshot.blocker;
  if (blocked === undefined) throw new Error('engine bug: a deadline fired while nothing blocked the run');
  return {
    reason: 'DeadlineExceeded',
    summary: `no progress for ${ctx.spec.progressDeadlineSeconds}s (progressDeadlineSeconds): ${blocked.message}`,
    alertKind: 'DeadlineExceeded',
    failingCheck: { type: 'readiness', name: blocked.reason, detail: blocked.message },
  };
}

const rollbackOnAbort: Effect = (ctx) =>
  failRun(
    ctx,
    { reason: 'Aborted', summary: 'aborted by fledge.dev/abort', alertKind: 'RolledBack' },
    'RolledBack',
  );

const rollbackOnHook: Effect = (ctx) => {
  const judged = currentEvaluation(ctx);
  recordResults(ctx, judged);
  const hook = judged.rollback as NonNullable<Evaluation['rollback']>;
  failRun(
    ctx,
    {
      reason: 'RollbackRequested',
      summary: `rollback webhook ${hook.name} asked for a rollback (${hook.message})`,
      alertKind: 'RolledBack',
      failingCheck: { type: 'webhook', name: hook.name, detail: hook.message },
    },
    'RolledBack',
  );
};

const rollbackOnChecks: Effect = (ctx) => {
  const judged = currentEvaluation(ctx);
  recordResults(ctx, judged);
  const first = judged.failures[0] as FailingCheck;
  failRun(
    ctx,
    {
      reason: 'FailedChecks',
      summary: `failed checks reached the threshold ${ctx.analysis.threshold} at ${describePosition(ctx)}: ${judged.failures.map(describeCheck).join('; ')}`,
      alertKind: 'RolledBack',
      failingCheck: first,
    },
    'RolledBack',
  );
};

const rollbackOnNoData: Effect = (ctx) => {
  const judged = currentEvaluation(ctx);
  recordResults(ctx, judged);
  const counts = ctx.status.noDataChecks;
  const exhausted = judged.unjudged.find(
    (m) => (counts[m.name] as number) >= noDataLimit(ctx, m.name),
  ) as Measurement;
  const limit = noDataLimit(ctx, exhausted.name);
  failRun(
    ctx,
    {
      reason: 'NoDataLimit',
      summary: `metric ${exhausted.name} gave no verdict on ${limit} ticks of this run: ${exhausted.message}`,
      alertKind: 'RolledBack',
      failingCheck: { type: 'metric', name: exhausted.name, detail: exhausted.message },
    },
    'RolledBack',
  );
};

const rollbackOnReadiness: Effect = (ctx) => failRun(ctx, readinessFailure(ctx), 'RolledBack');
const rollbackOnDeadline: Effect = (ctx) => failRun(ctx, deadlineFailure(ctx), 'RolledBack');
const failPromotionOnReadiness: Effect = (ctx) => failRun(ctx, readinessFailure(ctx), 'PromotionFailed');
const failPromotionOnDeadline: Effect = (ctx) => failRun(ctx, deadlineFailure(ctx), 'PromotionFailed');

// ---------------------------------------------------------------- deletion

function announceTerminating(ctx: Ctx, message: string): void {
  recordEvent(ctx, 'Terminating', message);
  setPromotedCondition(ctx, 'Terminating', 'handing traffic back to the target');
}

const announceRevert: Effect = (ctx) =>
  announceTerminating(
    ctx,
    'revertOnDeletion: scaling the target back up, then handing it the traffic; the apex Service and the routing object stay after the Canary',
  );

const announceHandBack: Effect = (ctx) =>
  announceTerminating(
    ctx,
    'scaling the target back up, then handing it the traffic; the objects Fledge created go with the Canary',
  );

const announceTerminated: Effect = (ctx) => {
  const gone = !ctx.observed.target.exists;
  recordEvent(
    ctx,
    'Terminated',
    gone
      ? 'target no longer exists: removing the routing objects'
      : 'target ready: traffic handed back to it',
  );
  setPromotedCondition(ctx, 'Terminated', 'traffic handed back to the target');
};

const announceTerminatedLate: Effect = (ctx) => {
  warn(
    ctx,
    'Terminated',
    `target not ready after ${ctx.spec.progressDeadlineSeconds}s (${targetReadiness(ctx).message}): finalising the deletion anyway`,
  );
  setPromotedCondition(ctx, 'DeadlineExceeded', 'traffic handed back to the target before it was ready');
};

/** Status shows where a failed run's traffic settled (see settledWeightDiffers). */
const reflectSettledRoutes: Effect = (ctx) => {
  // The guard established that routes are desired and converged.
  const desired = desiredRoutes(ctx) as RouteSpec;
  ctx.status.canaryWeight = desired.canaryWeight;
  if (desired.canaryWeight === 0) ctx.status.trafficMode = 'None';
};

/** Every effect by name; the transition table refers to these names. */
export const effects = {
  startRun,
  restartRun,
  acceptRevert,
  completeInitialization,
  rememberAttempt,
  restartInitialization,
  handleAbort,
  handlePromote,
  handleRetry,
  ignoreControls,
  skipConfirmation,
  startTick,
  confirmRollout,
  holdAtGate,
  countFailedCheck,
  haltOnNoData,
  advanceStage,
  startPromotion,
  shiftPromotion,
  beginFinalising,
  completePromotion,
  rollbackOnAbort,
  rollbackOnHook,
  rollbackOnChecks,
  rollbackOnNoData,
  reflectSettledRoutes,
  rollbackOnReadiness,
  rollbackOnDeadline,
  failPromotionOnReadiness,
  failPromotionOnDeadline,
  announceRevert,
  announceHandBack,
  announceTerminated,
  announceTerminatedLate,
} satisfies Record<string, Effect>;

export type EffectName = keyof typeof effects;

/** Sets the Promoted condition for a phase entered without a more specific effect. */
export function enterPhaseCondition(ctx: Ctx): void {
  const phase = phaseOf(ctx);
  setPromotedCondition(ctx, phase, `phase ${phase}`);
}
