import type { Ctx } from './context.ts';
import {
  blockedTooLong,
  failedHard,
  inapplicableControls,
  nextTickAt,
  pendingControl,
  primaryReadiness,
  primaryReady,
  primaryRolledOut,
  routesConverged,
  settledWeightDiffers,
  targetChange,
  targetReadiness,
  targetReady,
  tickDue,
} from './facts.ts';
import { evaluation, exhaustedMetric } from './requests.ts';
import { stageIndex } from './strategy.ts';

// The conditions of the transition table, by name. Rows are tried in table
// order and the first whose guard holds fires, so a guard may assume the rows
// above it in the same phase did not match.

export type Guard = (ctx: Ctx) => boolean;

const deleting = (ctx: Ctx) => ctx.meta.deletionTimestamp !== undefined;

/** Everything manual promotion and skipAnalysis need: both workloads serve and the routes are in place. */
const readyToPromote = (ctx: Ctx) => targetReady(ctx) && primaryReady(ctx) && routesConverged(ctx);

/** Gradual promotion applies to a progressive canary that has traffic to hand back. */
const gradualPromotion = (ctx: Ctx) =>
  ctx.strategy === 'Canary' &&
  ctx.analysis.stepWeightPromotion !== undefined &&
  ctx.status.trafficMode === 'Weighted' &&
  ctx.status.canaryWeight > 0;

const promotionStepTime = (ctx: Ctx) => ctx.now >= nextTickAt(ctx) && routesConverged(ctx);

const lastStepOfPromotion = (ctx: Ctx) =>
  ctx.status.canaryWeight <= (ctx.analysis.stepWeightPromotion as number);

const gateClosed = (ctx: Ctx) => evaluation(ctx)?.gate?.open === false;

export const guards = {
  always: () => true,
  deletingWithRevert: (ctx) => deleting(ctx) && ctx.spec.revertOnDeletion,
  deletingWithoutRevert: (ctx) => deleting(ctx) && !ctx.spec.revertOnDeletion,
  controlNotApplicable: (ctx) => inapplicableControls(ctx).length > 0,
  suspended: (ctx) => ctx.spec.suspend && pendingControl(ctx, 'abort') === undefined,
  primaryFailedHard: (ctx) => failedHard(primaryReadiness(ctx)),
  canaryFailedHard: (ctx) => failedHard(targetReadiness(ctx)),
  blockedTooLong,
  primaryInitialised: (ctx) => primaryRolledOut(ctx) && routesConverged(ctx),
  neverInitialisedAndAsked: (ctx) =>
    ctx.status.lastPromotedSpec === undefined &&
    (pendingControl(ctx, 'retry') !== undefined || targetChange(ctx) !== 'none'),
  retryRequested: (ctx) => pendingControl(ctx, 'retry') !== undefined && ctx.observed.target.exists,
  targetReverted: (ctx) => targetChange(ctx) === 'revert',
  targetChanged: (ctx) => targetChange(ctx) === 'new',
  abortRequested: (ctx) => pendingControl(ctx, 'abort') !== undefined,
  promoteRequested: (ctx) => pendingControl(ctx, 'promote') !== undefined,
  promoteRequestedAndReady: (ctx) => pendingControl(ctx, 'promote') !== undefined && readyToPromote(ctx),
  skipAnalysisAndReady: (ctx) => ctx.spec.skipAnalysis && readyToPromote(ctx),
  tickRequestsRollback: (ctx) => evaluation(ctx)?.rollback !== undefined,
  tickReachesThreshold: (ctx) =>
    (evaluation(ctx)?.failures.length ?? 0) > 0 && ctx.status.failedChecks + 1 >= ctx.analysis.threshold,
  tickExhaustsNoData: (ctx) => {
    const judged = evaluation(ctx);
    return judged !== undefined && exhaustedMetric(ctx, judged) !== undefined;
  },
  tickFailed: (ctx) => (evaluation(ctx)?.failures.length ?? 0) > 0,
  tickHalted: (ctx) => (evaluation(ctx)?.unjudged.length ?? 0) > 0,
  tickHeldForPromotion: (ctx) => gateClosed(ctx) && evaluation(ctx)?.gate?.type === 'confirm-promotion',
  tickHeldAtGate: gateClosed,
  tickPassedLastStage: (ctx) =>
    evaluation(ctx) !== undefined && stageIndex(ctx.plan, ctx.status) === ctx.plan.stages.length - 1,
  tickPassed: (ctx) => evaluation(ctx) !== undefined,
  tickDue,
  promotionFinalShiftDue: (ctx) =>
    primaryRolledOut(ctx) && (!gradualPromotion(ctx) || (lastStepOfPromotion(ctx) && promotionStepTime(ctx))),
  promotionShiftDue: (ctx) => primaryRolledOut(ctx) && gradualPromotion(ctx) && promotionStepTime(ctx),
  primaryServesAll: (ctx) => primaryReady(ctx) && routesConverged(ctx),
  settledWeightDiffers,
  targetReadyOrGone: (ctx) => !ctx.observed.target.exists || targetReady(ctx),
} satisfies Record<string, Guard>;

export type GuardName = keyof typeof guards;
