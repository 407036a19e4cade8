import { describe, expect, it } from '@jest/globals';
import type { CanaryAnalysis, CanarySpec, WebhookType } from '../../../src/api/index.ts';
import type { Action, Decision } from '../../../src/engine/index.ts';
import {
  initialisedWorld,
  parseRequestId,
  phaseIs,
  runUntil,
  specOf,
  World,
  type HookAnswer,
  type MetricAnswer,
} from './world.ts';

// Whole releases against the simulated world: the engine decides, the world
// carries the actions out, time moves as the decisions ask.

const METRIC = { name: 'request-success-rate', thresholdRange: { min: 99 } };

function hooks(...types: WebhookType[]): CanaryAnalysis['webhooks'] {
  return types.map((type) => ({ name: `${type}-hook`, type, url: `http://hooks.test/${type}` }));
}

function world(
  analysis: CanaryAnalysis,
  options: { hooks?: HookAnswer; metrics?: MetricAnswer; extra?: Partial<CanarySpec> } = {},
) {
  return initialisedWorld({
    spec: specOf({ metrics: [METRIC], ...analysis }, options.extra),
    ...(options.hooks === undefined ? {} : { hooks: options.hooks }),
    ...(options.metrics === undefined ? {} : { metrics: options.metrics }),
  });
}

/** Starts a release of `revision` and drives it to Succeeded or Failed. */
function release(w: World, revision = 'rev-2'): Decision[] {
  w.newRevision(revision);
  const made = runUntil(w, phaseIs('Succeeded', 'Failed'));
  made.push(...settle(w));
  return made;
}

/** A few more reconciles so level actions after the last transition (routes, scale-down) happen. */
function settle(w: World): Decision[] {
  return [w.step(), w.step(), w.step()];
}

const actionsOf = <K extends Action['kind']>(made: Decision[], kind: K) =>
  made.flatMap((d) => d.actions.filter((a): a is Extract<Action, { kind: K }> => a.kind === kind));

const routeLog = (made: Decision[]) =>
  actionsOf(made, 'setRoutes').map(
    (a) => `${a.routes.primaryWeight}/${a.routes.canaryWeight}${a.routes.mirror ? 'm' : ''}`,
  );

const eventLog = (made: Decision[]) => actionsOf(made, 'event').map((e) => e.reason);

/** Distinct analysis ticks whose metrics were measured in `run`. */
const analysedTicks = (w: World, run = 1) =>
  new Set(
    w.answered
      .filter((a) => a.kind === 'metric')
      .map((a) => parseRequestId(a.id))
      .filter((k) => k.run === run)
      .map((k) => k.tick),
  ).size;

describe('strategies', () => {
  it('canary: steps clamp to maxWeight and never overshoot it, then promote', () => {
    const w = world({ stepWeight: 20, maxWeight: 50 });
    const made = release(w);
    expect(w.status.phase).toBe('Succeeded');
    expect(routeLog(made)).toEqual(['80/20', '60/40', '50/50', '100/0']);
    expect(analysedTicks(w)).toBe(3);
    expect(w.status.lastPromotedSpec).toBe('rev-2');
    expect(w.target.up).toBe(false);
    expect(eventLog(made)).toEqual([
      'NewRevision',
      'StepAdvanced',
      'StepAdvanced',
      'StepAdvanced',
      'PromotionStarted',
      'Promoted',
    ]);
  });

  it('canary with stepWeights walks the explicit list', () => {
    const w = world({ stepWeights: [5, 10, 50, 80] });
    const made = release(w);
    expect(routeLog(made)).toEqual(['95/5', '90/10', '50/50', '20/80', '100/0']);
    expect(analysedTicks(w)).toBe(4);
  });

  it('stepWeightPromotion hands traffic back to the primary one step per interval', () => {
    const w = world({ stepWeight: 25, maxWeight: 50, stepWeightPromotion: 20 });
    const made = release(w);
    expect(routeLog(made)).toEqual(['75/25', '50/50', '70/30', '90/10', '100/0']);
    const shifts = made.filter((d) => d.transitions.includes('promoting.shift'));
    expect(shifts).toHaveLength(2);
  });

  it('A/B testing routes only matched traffic to the canary, for `iterations` analysed steps', () => {
    const match = [{ headers: { 'x-canary': { exact: 'insider' } } }];
    const w = world({ iterations: 3, match });
    const made = release(w);
    const set = actionsOf(made, 'setRoutes');
    expect(set[0]?.routes).toEqual({ primaryWeight: 0, canaryWeight: 100, mirror: false, match });
    expect(routeLog(made)).toEqual(['0/100', '100/0']);
    expect(analysedTicks(w)).toBe(3);
    expect(w.status).toMatchObject({ phase: 'Succeeded', strategy: 'ABTesting', iterations: 3 });
  });

  it('blue/green analyses `iterations` steps without traffic, then one with all traffic, then promotes', () => {
    const w = world({ iterations: 2 });
    const made = release(w);
    expect(routeLog(made)).toEqual(['0/100', '100/0']);
    expect(analysedTicks(w)).toBe(3);
    expect(w.status.strategy).toBe('BlueGreen');
  });

  it('blue/green with mirroring mirrors during the iterations', () => {
    const w = world({ iterations: 2, mirror: true, mirrorWeight: 50 });
    const made = release(w);
    expect(routeLog(made)).toEqual(['100/0m', '0/100', '100/0']);
    expect(actionsOf(made, 'setRoutes')[0]?.routes.mirrorWeight).toBe(50);
    expect(w.status.strategy).toBe('BlueGreenMirroring');
  });

  it('a canary with mirror mirrors for one analysed step before shifting weight', () => {
    const w = world({ stepWeight: 50, maxWeight: 100, mirror: true });
    const made = release(w);
    expect(routeLog(made)).toEqual(['100/0m', '50/50', '0/100', '100/0']);
    expect(analysedTicks(w)).toBe(3);
  });

  it('session affinity: cookies are deterministic per run and retired after promotion', () => {
    const affinity = { cookieName: 'canary', primaryCookieName: 'primary' };
    const w = world({ stepWeight: 50, maxWeight: 100, sessionAffinity: affinity });
    const made = release(w);
    const set = actionsOf(made, 'setRoutes');
    const cookie = set[0]?.routes.sessionAffinity?.cookie as string;
    expect(cookie).toMatch(/^canary=[0-9a-f]{16}$/);
    expect(set[0]?.routes.sessionAffinity?.primaryCookie).toMatch(/^primary=[0-9a-f]{16}$/);
    expect(set[1]?.routes.sessionAffinity?.cookie).toBe(cookie);
    expect(set.at(-1)?.routes.sessionAffinity).toEqual({ previousCookie: cookie });
    expect(w.status.previousSessionAffinityCookie).toBe(cookie);
    expect(w.status.sessionAffinityCookie).toBeUndefined();
    // The next run gets a different cookie.
    const next = release(w, 'rev-3');
    expect(actionsOf(next, 'setRoutes')[0]?.routes.sessionAffinity?.cookie).not.toBe(cookie);
  });
});

describe('gates', () => {
  it('confirm-rollout holds the run in Waiting, asking every interval, with one event', () => {
    let asked = 0;
    const w = world(
      { stepWeight: 50, maxWeight: 100, webhooks: hooks('confirm-rollout') },
      { hooks: (type) => (type === 'confirm-rollout' ? ++asked > 3 : true) },
    );
    w.newRevision('rev-2');
    const made = runUntil(w, phaseIs('Progressing'));
    expect(asked).toBe(4);
    expect(eventLog(made).filter((r) => r === 'AwaitingConfirmation')).toHaveLength(1);
    expect(w.target.up).toBe(true);
    release(w);
    expect(w.status.phase).toBe('Succeeded');
  });

  it('confirm-traffic-increase holds the weight while the analysis goes on; pre-rollout runs once (Flagger #1248)', () => {
    const refusals = new Set([1, 3, 4]);
    const w = world(
      { stepWeight: 50, maxWeight: 100, webhooks: hooks('pre-rollout', 'confirm-traffic-increase') },
      { hooks: (type, key) => !(type === 'confirm-traffic-increase' && refusals.has(key.tick)) },
    );
    const made = release(w);
    expect(w.status.phase).toBe('Succeeded');
    expect(w.answered.filter((a) => a.type === 'pre-rollout')).toHaveLength(1);
    expect(routeLog(made)).toEqual(['50/50', '0/100', '100/0']);
    expect(analysedTicks(w)).toBe(4);
  });

  it('confirm-promotion moves the run to WaitingPromotion, where metrics keep running', () => {
    let allowed = false;
    const w = world(
      { stepWeight: 50, maxWeight: 100, webhooks: hooks('confirm-promotion') },
      { hooks: (type) => type !== 'confirm-promotion' || allowed },
    );
    w.newRevision('rev-2');
    runUntil(w, phaseIs('WaitingPromotion'));
    const before = analysedTicks(w);
    for (let i = 0; i < 6; i++) w.step();
    expect(w.status.phase).toBe('WaitingPromotion');
    expect(analysedTicks(w)).toBeGreaterThan(before);
    allowed = true;
    runUntil(w, phaseIs('Succeeded'));
  });

  it('a failing pre-rollout hook counts as a failed check and is retried next interval', () => {
    const w = world(
      { stepWeight: 50, maxWeight: 100, threshold: 3, webhooks: hooks('pre-rollout') },
      { hooks: (type, key) => type !== 'pre-rollout' || key.tick > 2 },
    );
    release(w);
    expect(w.status).toMatchObject({ phase: 'Succeeded', failedChecks: 2 });
  });

  it('a failing rollout hook alerts unless muted', () => {
    const make = (muteAlert: boolean) =>
      world(
        {
          stepWeight: 50,
          maxWeight: 100,
          threshold: 2,
          webhooks: [{ name: 'load', type: 'rollout', url: 'http://x.test', muteAlert }],
        },
        { hooks: (type, key) => type !== 'rollout' || key.tick !== 2 },
      );
    const loud = make(false);
    const quiet = make(true);
    const kinds = (w: World) => actionsOf(release(w), 'alert').map((a) => a.message.kind);
    expect(kinds(loud)).toContain('HookFailed');
    expect(kinds(quiet)).not.toContain('HookFailed');
    expect(loud.status.phase).toBe('Succeeded');
  });

  it('a rollback webhook answering 2xx rolls back', () => {
    const w = world(
      { stepWeight: 25, maxWeight: 100, webhooks: hooks('rollback') },
      { hooks: (type, key) => type === 'rollback' && key.tick === 2 },
    );
    release(w);
    expect(w.status.phase).toBe('Failed');
    expect(w.routes).toEqual({ primaryWeight: 100, canaryWeight: 0, mirrored: false });
    expect(w.target.up).toBe(false);
  });
});

describe('failures', () => {
  it('a failing metric rolls back after exactly `threshold` failed ticks, then the canary drains and scales down', () => {
    const w = world({ stepWeight: 10, maxWeight: 100, threshold: 3 }, { metrics: () => 'fail' });
    const made = release(w);
    expect(w.status).toMatchObject({ phase: 'Failed', failedChecks: 3 });
    expect(analysedTicks(w)).toBe(3);
    expect(routeLog(made)).toEqual(['90/10', '100/0']);
    const scaleDown = made.findIndex((d) =>
      d.actions.some((a) => a.kind === 'scaleCanary' && a.to === 'zero'),
    );
    const back = made.findIndex((d) => d.actions.some((a) => a.kind === 'setRoutes'));
    expect(scaleDown).toBeGreaterThan(back);
  });

  it('no data halts advancement without failing, then the run continues', () => {
    const w = world(
      { stepWeight: 50, maxWeight: 100 },
      { metrics: (k) => (k.tick >= 2 && k.tick <= 4 ? 'noData' : 'pass') },
    );
    const made = release(w);
    expect(w.status).toMatchObject({
      phase: 'Succeeded',
      failedChecks: 0,
      noDataChecks: { 'request-success-rate': 3 },
    });
    expect(eventLog(made).filter((r) => r === 'AnalysisHalted')).toHaveLength(3);
    expect(routeLog(made)).toEqual(['50/50', '0/100', '100/0']);
  });

  it('a provider that keeps failing rolls back at the no-data limit, told apart from a failed check', () => {
    const w = world({ stepWeight: 50, maxWeight: 100 }, { metrics: () => 'error' });
    const made = release(w);
    expect(w.status).toMatchObject({
      phase: 'Failed',
      failedChecks: 0,
      noDataChecks: { 'request-success-rate': 10 },
    });
    expect(w.status.metrics?.[0]?.verdict).toBe('Error');
    expect(w.status.conditions?.find((c) => c.type === 'Promoted')?.reason).toBe('NoDataLimit');
    expect(eventLog(made).filter((r) => r === 'CheckFailed')).toHaveLength(0);
  });

  it("a metric's own noDataLimit replaces the deadline-derived limit, for that metric only", () => {
    const strict = { ...METRIC, noDataLimit: 2 };
    const w = world({ stepWeight: 50, maxWeight: 100, metrics: [strict] }, { metrics: () => 'noData' });
    const made = release(w);
    expect(w.status).toMatchObject({ phase: 'Failed', noDataChecks: { 'request-success-rate': 2 } });
    expect(eventLog(made).filter((r) => r === 'AnalysisHalted')).toHaveLength(1);
    expect(w.status.conditions?.find((c) => c.type === 'Promoted')?.message).toContain('on 2 ticks');

    // A patient metric rides out a gap longer than the default limit (10 ticks here).
    const patient = { ...METRIC, noDataLimit: 20 };
    const v = world(
      { stepWeight: 50, maxWeight: 100, metrics: [patient] },
      { metrics: (k) => (k.tick <= 12 ? 'noData' : 'pass') },
    );
    release(v);
    expect(v.status.phase).toBe('Succeeded');
    expect(v.status.noDataChecks?.['request-success-rate']).toBeGreaterThan(10);
  });

  it('progressDeadlineSeconds fails a canary that never becomes ready', () => {
    const w = world({ stepWeight: 50, maxWeight: 100 });
    w.target.broken = true;
    w.newRevision('rev-2');
    const start = w.now;
    runUntil(w, phaseIs('Failed'));
    const failedAt = (w.inputs.at(-1)?.now.getTime() as number) - start;
    // The stall is written after its grace (a tenth of the deadline, at most 30 s); the deadline counts from there.
    expect(failedAt).toBeGreaterThanOrEqual(630_000);
    expect(failedAt).toBeLessThanOrEqual(640_000);
    expect(w.status.conditions?.find((c) => c.type === 'Promoted')?.reason).toBe('DeadlineExceeded');
  });

  it('a promotion onto a broken primary keeps all traffic on the healthy canary (Flagger #1898)', () => {
    const w = world({ stepWeight: 50, maxWeight: 100 });
    w.newRevision('rev-2');
    runUntil(w, phaseIs('Promoting'));
    w.primary.broken = true;
    const made = runUntil(w, phaseIs('Failed'));
    made.push(...settle(w));
    expect(w.routes).toEqual({ primaryWeight: 0, canaryWeight: 100, mirrored: false });
    expect(w.target.up).toBe(true);
    expect(actionsOf(made, 'scaleCanary').filter((a) => a.to === 'zero')).toEqual([]);
    expect(eventLog(made)).toContain('PromotionFailed');
    // Once the primary recovers, traffic moves back to it and only then does the canary scale down.
    w.primary.broken = false;
    settle(w);
    expect(w.routes).toEqual({ primaryWeight: 100, canaryWeight: 0, mirrored: false });
    expect(w.target.up).toBe(false);
  });

  it('progressDeadlineSeconds applies in Finalising too', () => {
    const w = world({ stepWeight: 50, maxWeight: 100 });
    w.newRevision('rev-2');
    runUntil(w, phaseIs('Promoting'));
    w.routerWorks = false;
    runUntil(w, phaseIs('Failed'));
    expect(w.decisions.some((d) => d.transitions.includes('finalising.deadline'))).toBe(true);
  });

  it('routes the router never accepts stall the run until the deadline', () => {
    const w = world({ stepWeight: 50, maxWeight: 100 });
    w.routerWorks = false;
    w.newRevision('rev-2');
    runUntil(w, phaseIs('Failed'));
    expect(analysedTicks(w)).toBe(0);
    expect(w.decisions.some((d) => d.status.stalled?.reason === 'RoutesNotApplied')).toBe(true);
  });
});

describe('revisions and controls', () => {
  it('a new revision during the analysis sends traffic back to the primary and restarts', () => {
    const w = world({ stepWeight: 25, maxWeight: 100 });
    w.newRevision('rev-2');
    runUntil(w, (x) => (x.status.canaryWeight ?? 0) >= 50);
    w.newRevision('rev-3');
    const made = runUntil(w, phaseIs('Succeeded'));
    expect(routeLog(made)[0]).toBe('100/0');
    expect(eventLog(made)[0]).toBe('AnalysisRestarted');
    expect(w.status).toMatchObject({ run: 2, lastPromotedSpec: 'rev-3' });
    expect(analysedTicks(w, 2)).toBe(4);
  });

  it('reverting to the promoted revision mid-run needs no analysis', () => {
    const w = world({ stepWeight: 25, maxWeight: 100 });
    w.newRevision('rev-2');
    runUntil(w, (x) => (x.status.canaryWeight ?? 0) === 50);
    const measured = w.answered.length;
    w.newRevision('rev-1');
    const made = [...runUntil(w, phaseIs('Succeeded')), ...settle(w)];
    expect(w.answered.length).toBe(measured);
    expect(eventLog(made)).toEqual(['RevisionReverted']);
    expect(w.routes?.primaryWeight).toBe(100);
    expect(w.target.up).toBe(false);
  });

  it('a failed run is retried without a template change', () => {
    let failing = true;
    const w = world({ stepWeight: 50, maxWeight: 100 }, { metrics: () => (failing ? 'fail' : 'pass') });
    release(w);
    expect(w.status.phase).toBe('Failed');
    failing = false;
    w.annotations['fledge.dev/retry'] = '2030-01-01T02:00:00Z';
    runUntil(w, phaseIs('Succeeded'));
    expect(w.status).toMatchObject({
      run: 2,
      lastPromotedSpec: 'rev-2',
      handledControls: { retry: '2030-01-01T02:00:00Z' },
    });
    // The same token is acted on once.
    settle(w);
    expect(w.status.run).toBe(2);
  });

  it('suspend freezes a run in place; resuming continues from the same step', () => {
    const w = world({ stepWeight: 25, maxWeight: 100 });
    w.newRevision('rev-2');
    runUntil(w, (x) => (x.status.canaryWeight ?? 0) === 50);
    w.spec = { ...w.spec, suspend: true };
    const frozen = [w.step(), w.step(), w.step(), w.step()];
    expect(frozen.flatMap((d) => d.actions)).toEqual([]);
    expect(w.status.canaryWeight).toBe(50);
    w.spec = { ...w.spec, suspend: false };
    const made = runUntil(w, phaseIs('Succeeded'));
    expect(routeLog(made)).toEqual(['25/75', '0/100', '100/0']);
  });

  it('an abort still acts on a suspended run; promote waits for the resume', () => {
    const w = world({ stepWeight: 25, maxWeight: 100 });
    w.newRevision('rev-2');
    runUntil(w, (x) => x.status.canaryWeight === 50);
    w.spec = { ...w.spec, suspend: true };
    w.annotations['fledge.dev/promote'] = 'p-1';
    w.step();
    expect(w.status.phase).toBe('Progressing');
    expect(w.status.handledControls).toBeUndefined();
    w.annotations['fledge.dev/abort'] = 'a-1';
    w.step();
    expect(w.status).toMatchObject({ phase: 'Failed', handledControls: { abort: 'a-1' } });
  });

  it('skipAnalysis promotes once the canary is ready, without measuring', () => {
    const w = world({ stepWeight: 25, maxWeight: 100 }, { extra: { skipAnalysis: true } });
    release(w);
    expect(w.status).toMatchObject({ phase: 'Succeeded', lastPromotedSpec: 'rev-2' });
    expect(w.answered).toEqual([]);
  });

  it('promote waits for the canary to be ready, then skips the rest of the analysis', () => {
    const w = world({ stepWeight: 10, maxWeight: 100 });
    w.target.broken = true;
    w.newRevision('rev-2');
    w.step();
    w.annotations['fledge.dev/promote'] = 'p-1';
    for (let i = 0; i < 3; i++) w.step();
    expect(w.status.phase).toBe('Progressing');
    w.target.broken = false;
    runUntil(w, phaseIs('Succeeded'));
    expect(w.status.handledControls).toEqual({ promote: 'p-1' });
    expect(analysedTicks(w)).toBe(0);
  });

  it('abort rolls back now; a control that does not apply is ignored with an event, once', () => {
    const w = world({ stepWeight: 10, maxWeight: 100 });
    w.newRevision('rev-2');
    runUntil(w, (x) => (x.status.canaryWeight ?? 0) === 20);
    w.annotations['fledge.dev/abort'] = 'a-1';
    const made = [...runUntil(w, phaseIs('Failed')), ...settle(w)];
    expect(w.routes?.primaryWeight).toBe(100);
    expect(eventLog(made)).toContain('RolledBack');
    w.annotations['fledge.dev/promote'] = 'p-9';
    const ignored = settle(w);
    expect(eventLog(ignored)).toEqual(['ControlIgnored']);
    expect(w.status.handledControls).toEqual({ abort: 'a-1', promote: 'p-9' });
  });
});

describe('lifecycle', () => {
  it('initialises: primary first, then routes, then the target scales to zero', () => {
    const w = new World({ spec: specOf({ stepWeight: 50, maxWeight: 100 }) });
    const made = runUntil(w, phaseIs('Initialized'));
    made.push(w.step());
    const kinds = made.flatMap((d) => d.actions.map((a) => a.kind));
    expect(kinds).toEqual(['initialise', 'setRoutes', 'event', 'scaleCanary']);
    expect(w.status).toMatchObject({ lastPromotedSpec: 'rev-1', lastAppliedSpec: 'rev-1' });
  });

  it('waits for a missing target, fails at the deadline, and re-initialises when a revision appears', () => {
    const w = new World({ spec: specOf({ stepWeight: 50, maxWeight: 100 }) });
    w.target.exists = false;
    runUntil(w, phaseIs('Failed'));
    expect(w.status.conditions?.find((c) => c.type === 'Ready')?.status).toBe('False');
    w.target.exists = true;
    runUntil(w, phaseIs('Initialized'));
  });

  it('revertOnDeletion scales the target back up before finalising', () => {
    const w = world({ stepWeight: 50, maxWeight: 100 }, { extra: { revertOnDeletion: true } });
    expect(w.target.up).toBe(false);
    w.deletionTimestamp = new Date(w.now).toISOString();
    const made = runUntil(w, (x) => x.finalised);
    expect(made.flatMap((d) => d.actions.map((a) => a.kind))).toEqual([
      'event',
      'revert',
      'event',
      'finalise',
    ]);
    expect(w.status.phase).toBe('Terminated');
  });

  it('without revertOnDeletion the target is still scaled back up before finalising', () => {
    const w = world({ stepWeight: 50, maxWeight: 100 });
    expect(w.target.up).toBe(false);
    w.deletionTimestamp = new Date(w.now).toISOString();
    const first = w.step();
    expect(first.transitions).toEqual(['deleting.handBack', 'terminating.wait']);
    // Nothing is finalised (and so the primary stays) until the target serves.
    expect(first.actions.map((a) => a.kind)).toEqual(['event', 'revert']);
    const made = runUntil(w, (x) => x.finalised);
    expect(made.flatMap((d) => d.actions.map((a) => a.kind))).toEqual(['event', 'finalise']);
    expect(w.target.up).toBe(true);
    expect(w.status.phase).toBe('Terminated');
  });

  it('revertOnDeletion with the target already gone finalises at once', () => {
    const w = world({ stepWeight: 50, maxWeight: 100 }, { extra: { revertOnDeletion: true } });
    w.target.exists = false;
    w.deletionTimestamp = new Date(w.now).toISOString();
    const made = w.step();
    expect(made.actions.map((a) => a.kind)).toEqual(['event', 'event', 'finalise']);
    expect(made.actions[1]).toMatchObject({
      reason: 'Terminated',
      message: expect.stringMatching(/no longer exists/),
    });
  });

  it('results that arrive a reconcile later and a controller restart keep the cadence and the request ids', () => {
    const fast = world({ stepWeight: 25, maxWeight: 100 });
    const slow = world({ stepWeight: 25, maxWeight: 100 });
    slow.slowResults = true;
    fast.newRevision('rev-2');
    slow.newRevision('rev-2');
    runUntil(fast, phaseIs('Succeeded'));
    let restarts = 0;
    runUntil(slow, (x) => {
      if (x.inFlight.length > 0 && restarts < 3) {
        x.restartController();
        restarts++;
      }
      return phaseIs('Succeeded')(x);
    });
    expect(restarts).toBe(3);
    const ids = (w: World) => [...new Set(w.answered.map((a) => a.id))];
    expect(ids(slow)).toEqual(ids(fast));
  });
});

describe('alerts', () => {
  it('carry the canary, cluster, weight, step and what happens next', () => {
    const w = world({ stepWeight: 50, maxWeight: 100 }, { metrics: () => 'fail' });
    const made = release(w);
    const rolledBack = actionsOf(made, 'alert').find((a) => a.message.kind === 'RolledBack');
    expect(rolledBack?.message).toMatchObject({
      canary: 'podinfo',
      namespace: 'apps',
      cluster: 'test-cluster',
      phase: 'Failed',
      severity: 'error',
      revision: 'rev-2',
      run: 1,
      weight: 50,
      step: 1,
      totalSteps: 2,
      failingCheck: { type: 'metric', name: 'request-success-rate', value: 42, threshold: { min: 99 } },
      next: 'Traffic returns to the primary and the canary is scaled to zero.',
    });
  });
});

describe('the commit of a run', () => {
  const GOOD = `main@sha1:${'3f9c2ab'.padEnd(40, '1')}`;
  const BAD = `main@sha1:${'a1b2c3d'.padEnd(40, '2')}`;
  const eventTexts = (made: Decision[]) => actionsOf(made, 'event').map((e) => `${e.reason} ${e.message}`);

  it('is recorded when a run begins and named in every event and alert of that run', () => {
    const w = world({ stepWeight: 50, maxWeight: 100 }, { metrics: () => 'fail' });
    const made = release(w, 'rev-2');
    // Without a source revision, nothing names a commit.
    expect(w.status.sourceRevision).toBeUndefined();
    expect(eventTexts(made).join('\n')).not.toContain('commit');

    w.metrics = () => 'pass';
    w.newRevision('rev-3', GOOD);
    const good = [...runUntil(w, phaseIs('Succeeded')), ...settle(w)];
    expect(w.status.sourceRevision).toBe(GOOD);
    const events = actionsOf(good, 'event');
    expect(events.length).toBeGreaterThan(2);
    for (const event of events) expect(event.message).toMatch(/^commit 3f9c2ab: /);
    const alerts = actionsOf(good, 'alert');
    expect(alerts.map((a) => a.message.kind)).toContain('Promoted');
    for (const a of alerts) expect(a.message.summary).toMatch(/^commit 3f9c2ab: /);

    w.metrics = () => 'fail';
    w.newRevision('rev-4', BAD);
    const bad = [...runUntil(w, phaseIs('Failed')), ...settle(w)];
    expect(w.status.sourceRevision).toBe(BAD);
    const rolledBack = actionsOf(bad, 'event').find((e) => e.reason === 'RolledBack');
    expect(rolledBack?.message).toMatch(/^commit a1b2c3d rolled back: failed checks reached the threshold/);
    const alert = actionsOf(bad, 'alert').find((a) => a.message.kind === 'RolledBack');
    expect(alert?.message.summary).toMatch(/^commit a1b2c3d rolled back: failed checks/);
    expect(eventTexts(bad).join('\n')).not.toContain('3f9c2ab');
  });

  it('stays the one recorded at the start while Flux applies a later commit that changes nothing', () => {
    const w = world({ stepWeight: 25, maxWeight: 50 });
    w.newRevision('rev-2', GOOD);
    runUntil(w, (x) => (x.status.canaryWeight ?? 0) > 0);
    // Same pod template, newer source revision: no new run, and the run keeps its commit.
    w.target.sourceRevision = BAD;
    const rest = [...runUntil(w, phaseIs('Succeeded')), ...settle(w)];
    expect(w.status.run).toBe(1);
    expect(w.status.sourceRevision).toBe(GOOD);
    const promoted = actionsOf(rest, 'event').find((e) => e.reason === 'Promoted');
    expect(promoted?.message).toMatch(/^commit 3f9c2ab: revision rev-2 promoted/);
  });

  it('a retry of a failed run records the source revision the target carries now', () => {
    const w = world({ stepWeight: 50, maxWeight: 100 }, { metrics: () => 'fail' });
    release(w, 'rev-2');
    w.target.sourceRevision = BAD;
    w.metrics = () => 'pass';
    w.annotations['fledge.dev/retry'] = 'r-1';
    const made = runUntil(w, phaseIs('Succeeded'));
    expect(w.status.run).toBe(2);
    expect(w.status.sourceRevision).toBe(BAD);
    expect(actionsOf(made, 'event').find((e) => e.reason === 'NewRevision')?.message).toMatch(
      /^commit a1b2c3d: retrying revision rev-2/,
    );
  });
});
