import type { Condition, Phase } from '../api/index.ts';
import { createContext, isoMs, phaseOf, type Ctx } from './context.ts';
import { effects, enterPhaseCondition } from './effects.ts';
import { blocker, isIdle, nextTickAt } from './facts.ts';
import { guards } from './guards.ts';
import { levelActions } from './level.ts';
import { ANALYSING, evaluation, noDataLimit, tickRequests } from './requests.ts';
import { TRANSITIONS, type Target, type Transition } from './transitions.ts';
import type { Decision, DecisionInput } from './types.ts';

/** A decision fires at most this many rows; more means two rows undo each other (a bug). */
const MAX_ROWS_PER_DECISION = 16;
/** How soon to look again while waiting on the cluster or on results. */
const POLL_MS = 10_000;
/**
 * A wait is written to status.stalled (and Ready) only once the run has not moved for a tenth of
 * its progress deadline, within these bounds: most waits (new pods, a rollout, a route's
 * acceptance) end sooner, and writing each one and clearing it again cost two status patches.
 * The upper bound keeps a stuck run from staying silent for long.
 */
const MIN_STALL_GRACE_MS = 5_000;
const MAX_STALL_GRACE_MS = 30_000;
/** Rows after which the canary is left exactly as it is. */
const FROZEN = new Set(['suspended']);

/**
 * The decision core: given the Canary, what was observed and the time, the next
 * status and the actions that move the world towards it. Pure and deterministic.
 */
export function decide(input: DecisionInput): Decision {
  const ctx = createContext(input);
  if (ctx.status.phase === undefined) enterPhase(ctx, 'Initializing');
  const fired: string[] = [];
  let last: Transition;
  do {
    if (fired.length === MAX_ROWS_PER_DECISION) {
      throw new Error(`engine bug: no settling transition after ${fired.join(' -> ')}`);
    }
    last = matchingRow(ctx);
    fired.push(last.id);
    fire(ctx, last);
  } while (last.settles !== true);

  const frozen = FROZEN.has(last.id);
  if (!frozen) levelActions(ctx);
  recordDecidedEvents(ctx);
  finish(ctx, frozen);
  return {
    status: ctx.status,
    actions: ctx.actions,
    requeueAfterMs: frozen ? undefined : requeueAfter(ctx),
    awaiting: awaiting(ctx),
    transitions: fired,
  };
}

function matchingRow(ctx: Ctx): Transition {
  const phase = phaseOf(ctx);
  const row = TRANSITIONS.find((candidate) => candidate.from.includes(phase) && guards[candidate.when](ctx));
  if (row === undefined) throw new Error(`engine bug: no transition from phase ${phase}`);
  return row;
}

function resolveTarget(ctx: Ctx, to: Target): Phase {
  if (to === 'same') return phaseOf(ctx);
  if (to === 'runStart') {
    return ctx.analysis.webhooks.some((w) => w.type === 'confirm-rollout') ? 'Waiting' : 'Progressing';
  }
  return to;
}

function fire(ctx: Ctx, row: Transition): void {
  const judged = evaluation(ctx);
  const waitingOn = blocker(ctx);
  ctx.snapshot = {
    ...(judged === undefined ? {} : { evaluation: judged }),
    ...(waitingOn === undefined ? {} : { blocker: waitingOn }),
  };
  const next = resolveTarget(ctx, row.to);
  if (next !== phaseOf(ctx)) enterPhase(ctx, next);
  for (const name of row.effects) effects[name](ctx);
}

function enterPhase(ctx: Ctx, phase: Phase): void {
  ctx.status.phase = phase;
  ctx.status.lastTransitionTime = ctx.nowIso;
  // Progress was made: the deadline clock starts again in the new phase.
  delete ctx.status.stalled;
  enterPhaseCondition(ctx);
}

/**
 * The decision's Events go into status with it: the status is written before they are, and
 * a replica starting after a crash in between sends them from there (see Effects).
 */
function recordDecidedEvents(ctx: Ctx): void {
  const events = ctx.actions.flatMap((action) =>
    action.kind === 'event' ? [{ reason: action.reason, type: action.type, message: action.message }] : [],
  );
  if (events.length > 0) ctx.status.lastEvents = { decidedTime: ctx.nowIso, events };
}

/** Bookkeeping every decision ends with: generation, strategy, stall clock, Ready condition. */
function finish(ctx: Ctx, frozen: boolean): void {
  const status = ctx.status;
  status.observedGeneration = ctx.meta.generation;
  status.strategy = ctx.strategy;
  if (!status.conditions.some((c) => c.type === 'Promoted')) enterPhaseCondition(ctx);
  trackStall(ctx, frozen);
  setReadyCondition(ctx);
}

function trackStall(ctx: Ctx, frozen: boolean): void {
  const found = frozen ? undefined : blocker(ctx);
  const status = ctx.status;
  if (found === undefined) {
    delete status.stalled;
    return;
  }
  if (status.stalled === undefined && ctx.now < stallGraceEnd(ctx)) return;
  status.stalled = {
    reason: found.reason,
    message: found.message,
    since: status.stalled?.since ?? ctx.nowIso,
  };
}

/**
 * When a wait not yet written may be: a tenth of the progress deadline after the run last moved
 * (entered its phase, started a tick, recorded an event). Those times are in status, so the start
 * of a wait needs no write of its own; the deadline counts from the write, at most the grace late.
 * Without any of them the wait is written at once.
 */
function stallGraceEnd(ctx: Ctx): number {
  const status = ctx.status;
  const moved = [status.lastTransitionTime, status.tick?.startedTime, status.lastEvents?.decidedTime];
  const times = moved.flatMap((time) => (time === undefined ? [] : [isoMs(time)]));
  const grace = Math.min(MAX_STALL_GRACE_MS, Math.max(MIN_STALL_GRACE_MS, ctx.deadlineMs / 10));
  return times.length === 0 ? -Infinity : Math.max(...times) + grace;
}

function setReadyCondition(ctx: Ctx): void {
  const status = ctx.status;
  const phase = phaseOf(ctx);
  const promoted = status.conditions.find((c) => c.type === 'Promoted');
  let ready: Pick<Condition, 'status' | 'reason' | 'message'>;
  if (phase === 'Failed') {
    ready = {
      status: 'False',
      reason: promoted?.reason ?? 'Failed',
      message: promoted?.message ?? 'the run failed',
    };
  } else if (status.stalled !== undefined) {
    ready = { status: 'False', reason: status.stalled.reason, message: status.stalled.message };
  } else if (phase === 'Initializing' || phase === 'Terminating' || phase === 'Terminated') {
    ready = { status: 'Unknown', reason: phase, message: `phase ${phase}` };
  } else if (halted(ctx) !== undefined) {
    ready = { status: 'False', reason: 'AnalysisHalted', message: halted(ctx) as string };
  } else {
    ready = { status: 'True', reason: phase, message: `phase ${phase}` };
  }
  const conditions = status.conditions;
  const previous = conditions.find((c) => c.type === 'Ready');
  const since = previous?.status === ready.status ? previous.lastTransitionTime : ctx.nowIso;
  status.conditions = [
    ...conditions.filter((c) => c.type !== 'Ready'),
    { type: 'Ready', ...ready, lastTransitionTime: since, observedGeneration: ctx.meta.generation },
  ];
}

/**
 * Why the analysis holds, while the last measurement of a metric gave no verdict: the run
 * neither advances nor fails on it, and Ready must not say all is well meanwhile.
 */
function halted(ctx: Ctx): string | undefined {
  if (!ANALYSING.has(phaseOf(ctx))) return undefined;
  const unjudged = ctx.status.metrics.filter((m) => m.verdict === 'NoData' || m.verdict === 'Error');
  if (unjudged.length === 0) return undefined;
  const described = unjudged.map((m) => {
    const seen = ctx.status.noDataChecks[m.name] ?? 0;
    return `metric ${m.name} gave no verdict (${m.message}; ${seen} of ${noDataLimit(ctx, m.name)} ticks before rollback)`;
  });
  return `analysis halted at canary weight ${ctx.status.canaryWeight}: ${described.join('; ')}`;
}

function requeueAfter(ctx: Ctx): number | undefined {
  const phase = phaseOf(ctx);
  const poll = Math.min(POLL_MS, ctx.intervalMs);
  const stalled = ctx.status.stalled;
  // A wait within its grace is looked at again when the grace ends, to be written then.
  if (stalled === undefined && blocker(ctx) !== undefined)
    return Math.max(0, Math.min(poll, stallGraceEnd(ctx) - ctx.now));
  if (stalled !== undefined) {
    if (isIdle(phase)) return poll;
    const remaining = isoMs(stalled.since) + ctx.deadlineMs - ctx.now;
    return Math.max(0, Math.min(poll, remaining));
  }
  const tick = ctx.status.tick;
  if (ANALYSING.has(phase) && tick !== undefined && !tick.evaluated) return poll;
  if (ANALYSING.has(phase) || phase === 'Promoting') return Math.max(0, nextTickAt(ctx) - ctx.now);
  return undefined;
}

function awaiting(ctx: Ctx): string[] {
  return tickRequests(ctx).map((request) => request.id);
}
