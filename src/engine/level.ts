import { phaseOf, type Ctx } from './context.ts';
import { canaryDrained, desiredRoutes, expectedStamp, primaryRolledOut, routesHeld } from './facts.ts';
import { missingResults } from './requests.ts';
import { routesMatch } from './strategy.ts';

// Level-triggered actions: what the phase the decision ends in wants the world
// to look like, asked for again on every decision until the observations show
// it. None depends on having been asked before, so a lost action, a restart or
// a stale read only delays them.

export function levelActions(ctx: Ctx): void {
  switch (phaseOf(ctx)) {
    case 'Initializing':
      initialise(ctx);
      ensureRoutes(ctx);
      return;
    case 'Waiting':
      ensureRoutes(ctx);
      scaleDownWhenDrained(ctx);
      askMissingResults(ctx);
      return;
    case 'Initialized':
    case 'Succeeded':
    case 'Failed':
      ensureRoutes(ctx);
      scaleDownWhenDrained(ctx);
      return;
    case 'Progressing':
    case 'WaitingPromotion':
      scaleUp(ctx);
      ensureRoutes(ctx);
      askMissingResults(ctx);
      return;
    case 'Promoting':
      scaleUp(ctx);
      promote(ctx);
      ensureRoutes(ctx);
      return;
    case 'Finalising':
      ensureRoutes(ctx);
      return;
    case 'Terminating':
      if (ctx.observed.target.exists && !ctx.observed.target.ready.ready)
        ctx.actions.push({ kind: 'revert' });
      return;
    case 'Terminated':
      ctx.actions.push({ kind: 'finalise' });
      return;
  }
}

function stampMismatch(ctx: Ctx): boolean {
  const primary = ctx.observed.primary;
  return !primary.exists || primary.stamp !== expectedStamp(ctx);
}

function initialise(ctx: Ctx): void {
  const stamp = expectedStamp(ctx);
  if (stamp !== undefined && !primaryRolledOut(ctx) && stampMismatch(ctx))
    ctx.actions.push({ kind: 'initialise', stamp });
}

function promote(ctx: Ctx): void {
  const stamp = expectedStamp(ctx);
  const revision = ctx.status.lastPromotedSpec;
  if (stamp !== undefined && revision !== undefined && stampMismatch(ctx)) {
    ctx.actions.push({ kind: 'promote', stamp, revision });
  }
}

function ensureRoutes(ctx: Ctx): void {
  const desired = desiredRoutes(ctx);
  if (desired === undefined || routesMatch(ctx.observed.routes, desired) || routesHeld(ctx, desired)) return;
  ctx.actions.push({ kind: 'setRoutes', routes: desired });
}

function scaleUp(ctx: Ctx): void {
  if (ctx.observed.target.exists && !ctx.observed.target.ready.ready) {
    ctx.actions.push({ kind: 'scaleCanary', to: 'up' });
  }
}

/** The canary goes to zero only once the routes read back show it has no traffic and the primary serves. */
function scaleDownWhenDrained(ctx: Ctx): void {
  if (ctx.observed.target.exists && ctx.observed.target.ready.ready && canaryDrained(ctx)) {
    ctx.actions.push({ kind: 'scaleCanary', to: 'zero' });
  }
}

function askMissingResults(ctx: Ctx): void {
  const phase = phaseOf(ctx);
  for (const request of missingResults(ctx)) {
    ctx.actions.push(
      request.kind === 'hook'
        ? { kind: 'runHook', id: request.id, webhook: request.webhook, phase }
        : { kind: 'measure', id: request.id, metric: request.metric },
    );
  }
}
