import {
  MANUAL_CONTROL_ANNOTATIONS,
  type ManualControl,
  type Phase,
  type StallReason,
} from '../api/index.ts';
import { isoMs, phaseOf, type Ctx } from './context.ts';
import { ANALYSING, missingResults } from './requests.ts';
import { CANARY_ONLY, primaryRoutes, routesMatch, sameConfigs, stageRoutes, stampOf } from './strategy.ts';
import type { Readiness, RouteSpec } from './types.ts';

// Facts derived from the input, shared by the transition guards, the level
// actions and the bookkeeping. Each is a small function of the draft status
// and the observations, so it always reflects the effects applied so far.

/** Which manual controls each phase acts on; any other pending control is ignored with an event. */
const APPLICABLE_CONTROLS: Readonly<Record<Phase, readonly ManualControl[]>> = {
  Initializing: [],
  Initialized: [],
  Waiting: ['promote', 'abort'],
  Progressing: ['promote', 'abort'],
  WaitingPromotion: ['promote', 'abort'],
  Promoting: [],
  Finalising: [],
  Succeeded: [],
  Failed: ['retry'],
  Terminating: [],
  Terminated: [],
};

/** The token of a control annotation not yet handled, if any. */
export function pendingControl(ctx: Ctx, control: ManualControl): string | undefined {
  const token = ctx.meta.annotations?.[MANUAL_CONTROL_ANNOTATIONS[control]];
  if (token === undefined || token === '') return undefined;
  return ctx.status.handledControls?.[control] === token ? undefined : token;
}

/** The phases in which `control` is acted on (the CLI refuses it elsewhere). */
export function phasesAccepting(control: ManualControl): Phase[] {
  return (Object.keys(APPLICABLE_CONTROLS) as Phase[]).filter((phase) =>
    APPLICABLE_CONTROLS[phase].includes(control),
  );
}

export function inapplicableControls(ctx: Ctx): ManualControl[] {
  const applicable = APPLICABLE_CONTROLS[phaseOf(ctx)];
  return (Object.keys(MANUAL_CONTROL_ANNOTATIONS) as ManualControl[]).filter(
    (control) => !applicable.includes(control) && pendingControl(ctx, control) !== undefined,
  );
}

export type TargetChange = 'none' | 'revert' | 'new';

/** Whether the target differs from what was last acted on, and whether it went back to what the primary runs. */
export function targetChange(ctx: Ctx): TargetChange {
  const target = ctx.observed.target;
  const status = ctx.status;
  if (!target.exists) return 'none';
  if (target.revision === status.lastAppliedSpec && sameConfigs(target.configs, status.trackedConfigs))
    return 'none';
  const reverted =
    status.lastPromotedSpec === target.revision &&
    (status.lastPromotedConfigs === undefined || sameConfigs(target.configs, status.lastPromotedConfigs));
  return reverted ? 'revert' : 'new';
}

const NOT_FOUND: Readiness = { ready: false, message: 'not found', retriable: true };

export function targetReadiness(ctx: Ctx): Readiness {
  return ctx.observed.target.exists ? ctx.observed.target.ready : NOT_FOUND;
}

export function primaryReadiness(ctx: Ctx): Readiness {
  return ctx.observed.primary.exists ? ctx.observed.primary.ready : NOT_FOUND;
}

export function primaryReady(ctx: Ctx): boolean {
  return primaryReadiness(ctx).ready;
}

export function targetReady(ctx: Ctx): boolean {
  return targetReadiness(ctx).ready;
}

/** The stamp the primary must carry in this phase: the target's while initialising, else the last promotion's. */
export function expectedStamp(ctx: Ctx): string | undefined {
  if (phaseOf(ctx) === 'Initializing') {
    const target = ctx.observed.target;
    return target.exists ? stampOf(target.revision, target.configs) : undefined;
  }
  const promoted = ctx.status.lastPromotedSpec;
  return promoted === undefined ? undefined : stampOf(promoted, ctx.status.lastPromotedConfigs);
}

/** The primary runs, fully rolled out, the template it was last given. */
export function primaryRolledOut(ctx: Ctx): boolean {
  const primary = ctx.observed.primary;
  return primary.exists && primary.ready.ready && primary.stamp === expectedStamp(ctx);
}

/** Readiness failed for good: waiting cannot help. */
export function failedHard(readiness: Readiness): boolean {
  return !readiness.ready && !readiness.retriable;
}

/** The routes this phase wants, or undefined where the engine leaves routing alone. */
export function desiredRoutes(ctx: Ctx): RouteSpec | undefined {
  switch (phaseOf(ctx)) {
    case 'Initializing':
      return primaryRolledOut(ctx) ? primaryRoutes(ctx.status) : undefined;
    case 'Initialized':
    case 'Waiting':
    case 'Finalising':
    case 'Succeeded':
      return primaryRoutes(ctx.status);
    case 'Progressing':
    case 'WaitingPromotion':
    case 'Promoting':
      return stageRoutes(ctx.status, ctx.analysis);
    case 'Failed':
      return failedRoutes(ctx);
    case 'Terminating':
    case 'Terminated':
      return undefined;
  }
}

/**
 * After a failure traffic goes to the primary, unless the primary cannot serve and the
 * canary can: then the canary keeps all traffic (never roll back onto a broken primary).
 */
function failedRoutes(ctx: Ctx): RouteSpec {
  return !primaryReady(ctx) && targetReady(ctx) ? CANARY_ONLY : primaryRoutes(ctx.status);
}

/** Traffic would move onto a primary that is not ready: the engine holds the routes instead. */
export function routesHeld(ctx: Ctx, desired: RouteSpec): boolean {
  const current = ctx.observed.routes?.primaryWeight ?? 0;
  return desired.primaryWeight > current && !primaryReady(ctx);
}

export function routesConverged(ctx: Ctx): boolean {
  const desired = desiredRoutes(ctx);
  return desired === undefined || routesMatch(ctx.observed.routes, desired);
}

/**
 * The routes of a finished run have settled somewhere status does not show: the
 * canary kept all traffic while the primary could not serve, or gave it back.
 */
export function settledWeightDiffers(ctx: Ctx): boolean {
  const desired = desiredRoutes(ctx);
  return desired !== undefined && routesConverged(ctx) && ctx.status.canaryWeight !== desired.canaryWeight;
}

/** No traffic reaches the canary and the primary serves: the canary may be scaled to zero. */
export function canaryDrained(ctx: Ctx): boolean {
  const routes = ctx.observed.routes;
  return routes !== undefined && routes.canaryWeight === 0 && !routes.mirrored && primaryReady(ctx);
}

export interface Blocker {
  reason: StallReason;
  message: string;
}

const IDLE: ReadonlySet<Phase> = new Set(['Initialized', 'Succeeded', 'Failed']);

/** What the current phase waits on that the cluster should provide by itself, if anything. */
export function blocker(ctx: Ctx): Blocker | undefined {
  const phase = phaseOf(ctx);
  const needs = NEEDS[phase];
  for (const need of needs) {
    const found = need(ctx);
    if (found !== undefined) return found;
  }
  return undefined;
}

type Need = (ctx: Ctx) => Blocker | undefined;

const targetFound: Need = (ctx) =>
  ctx.observed.target.exists
    ? undefined
    : {
        reason: 'TargetNotFound',
        message: `target ${ctx.spec.targetRef.kind} ${ctx.spec.targetRef.name} not found`,
      };

const canaryReady: Need = (ctx) =>
  targetReady(ctx)
    ? undefined
    : { reason: 'CanaryNotReady', message: `canary: ${targetReadiness(ctx).message}` };

const primaryServes: Need = (ctx) =>
  primaryReady(ctx)
    ? undefined
    : { reason: 'PrimaryNotReady', message: `primary: ${primaryReadiness(ctx).message}` };

const primaryPromoted: Need = (ctx) => {
  if (primaryRolledOut(ctx)) return undefined;
  const readiness = primaryReadiness(ctx);
  const message = readiness.ready ? 'rolling out the promoted template' : readiness.message;
  return { reason: 'PrimaryNotReady', message: `primary: ${message}` };
};

const routesApplied: Need = (ctx) => {
  const desired = desiredRoutes(ctx);
  if (desired === undefined || routesMatch(ctx.observed.routes, desired)) return undefined;
  const held = routesHeld(ctx, desired) ? ' (held: the primary is not ready)' : '';
  const seen = ctx.observed.routes;
  const observed =
    seen === undefined ? 'not applied yet' : `primary ${seen.primaryWeight}, canary ${seen.canaryWeight}`;
  return {
    reason: 'RoutesNotApplied',
    message: `routes: want primary ${desired.primaryWeight}, canary ${desired.canaryWeight}, have ${observed}${held}`,
  };
};

const resultsOnTime: Need = (ctx) => {
  const tick = ctx.status.tick;
  if (tick === undefined || tick.evaluated || !ANALYSING.has(phaseOf(ctx))) return undefined;
  if (ctx.now < isoMs(tick.startedTime) + ctx.intervalMs) return undefined;
  const missing = missingResults(ctx).map((request) => request.id.split('/').slice(-2).join('/'));
  return { reason: 'ResultsOverdue', message: `no result within the interval for ${missing.join(', ')}` };
};

const NEEDS: Readonly<Record<Phase, readonly Need[]>> = {
  Initializing: [targetFound, primaryPromoted, routesApplied],
  Initialized: [routesApplied],
  Waiting: [routesApplied, resultsOnTime],
  Progressing: [targetFound, canaryReady, primaryServes, routesApplied, resultsOnTime],
  WaitingPromotion: [targetFound, canaryReady, primaryServes, routesApplied, resultsOnTime],
  Promoting: [primaryPromoted, routesApplied],
  Finalising: [primaryServes, routesApplied],
  Succeeded: [routesApplied],
  Failed: [routesApplied],
  Terminating: [canaryReady],
  Terminated: [],
};

/** Blocked for longer than progressDeadlineSeconds, in a phase where that fails the run. */
export function blockedTooLong(ctx: Ctx): boolean {
  if (IDLE.has(phaseOf(ctx)) || blocker(ctx) === undefined) return false;
  const stalled = ctx.status.stalled;
  return stalled !== undefined && ctx.now - isoMs(stalled.since) >= ctx.deadlineMs;
}

/** When the next tick may start: at once for a new run, else an interval after the last one began. */
export function nextTickAt(ctx: Ctx): number {
  const tick = ctx.status.tick;
  return tick === undefined ? ctx.now : isoMs(tick.startedTime) + ctx.intervalMs;
}

/** A new analysis tick is due: the last one is judged, its interval has passed, and nothing blocks. */
export function tickDue(ctx: Ctx): boolean {
  const tick = ctx.status.tick;
  const judged = tick === undefined || tick.evaluated;
  return judged && ctx.now >= nextTickAt(ctx) && blocker(ctx) === undefined;
}

export function isIdle(phase: Phase): boolean {
  return IDLE.has(phase);
}
