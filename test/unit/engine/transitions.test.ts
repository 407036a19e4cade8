import { describe, expect, it } from '@jest/globals';
import { Phases, type Phase, type WebhookType } from '../../../src/api/index.ts';
import {
  decide,
  effects,
  guards,
  TRANSITIONS,
  type Action,
  type Decision,
  type DecisionInput,
} from '../../../src/engine/index.ts';
import {
  failed,
  hookResult,
  inputFor,
  iso,
  metricResult,
  MINUTE,
  notReady,
  NOW,
  ready,
  requestId,
  tick,
} from './fixtures.ts';
import { specOf } from './world.ts';

// One case per row of the transition table: an input in which that row is the
// first to fire, and what the decision must then contain.

const METRICS = [{ name: 'request-success-rate', thresholdRange: { min: 99 } }];

function hooked(types: WebhookType[], extra: object = {}) {
  return specOf({
    stepWeight: 20,
    maxWeight: 60,
    metrics: METRICS,
    webhooks: types.map((type) => ({ name: type, type, url: `http://hooks.test/${type}` })),
    ...extra,
  });
}

const longAgo = iso(NOW - 11 * MINUTE);
const of = <K extends Action['kind']>(d: Decision, kind: K) =>
  d.actions.filter((a): a is Extract<Action, { kind: K }> => a.kind === kind);
const events = (d: Decision) => of(d, 'event').map((e) => e.reason);
const alerts = (d: Decision) => of(d, 'alert').map((a) => a.message.kind);
const routes = (d: Decision) =>
  of(d, 'setRoutes').map((a) => `${a.routes.primaryWeight}/${a.routes.canaryWeight}`);
const scales = (d: Decision) => of(d, 'scaleCanary').map((a) => a.to);

interface Case {
  input: DecisionInput;
  check: (d: Decision) => void;
}

const cases: Record<string, Case> = {
  'deleting.revert': {
    input: inputFor('Progressing', {
      spec: specOf({ stepWeight: 20, maxWeight: 60 }, { revertOnDeletion: true }),
      deletionTimestamp: iso(NOW),
      target: { ready: notReady },
    }),
    check: (d) => {
      expect(d.status.phase).toBe('Terminating');
      expect(of(d, 'revert')).toHaveLength(1);
      expect(of(d, 'event')).toEqual([
        expect.objectContaining({ reason: 'Terminating', message: expect.stringMatching(/stay after/) }),
      ]);
    },
  },
  'deleting.handBack': {
    // The idle target is at zero: it must serve again before the primary may go.
    input: inputFor('Succeeded', { deletionTimestamp: iso(NOW), target: { ready: notReady } }),
    check: (d) => {
      expect(d.transitions).toEqual(['deleting.handBack', 'terminating.wait']);
      expect(d.status.phase).toBe('Terminating');
      expect(d.actions.map((a) => a.kind)).toEqual(['event', 'revert']);
      expect(of(d, 'event')).toEqual([
        expect.objectContaining({
          reason: 'Terminating',
          message: expect.stringMatching(/go with the Canary/),
        }),
      ]);
      expect(d.status.conditions?.find((c) => c.type === 'Promoted')).toMatchObject({
        status: 'Unknown',
        reason: 'Terminating',
      });
    },
  },
  'control.ignored': {
    input: inputFor('Succeeded', { annotations: { 'fledge.dev/promote': 'tok-1' } }),
    check: (d) => {
      expect(d.status.handledControls).toEqual({ promote: 'tok-1' });
      expect(of(d, 'event')).toEqual([
        expect.objectContaining({ reason: 'ControlIgnored', type: 'Warning' }),
      ]);
    },
  },
  suspended: {
    input: inputFor('Progressing', {
      spec: specOf({ stepWeight: 20, maxWeight: 60 }, { suspend: true }),
      status: { tick: tick(2, true, NOW - 5 * MINUTE) },
      target: { ready: notReady },
    }),
    check: (d) => {
      expect(d.actions).toEqual([]);
      expect(d.requeueAfterMs).toBeUndefined();
      expect(d.status.tick?.number).toBe(2);
      expect(d.status.stalled).toBeUndefined();
    },
  },
  'initializing.failed': {
    input: inputFor('Initializing', { primary: { ready: failed, stamp: 'rev-1' } }),
    check: (d) => {
      expect(d.status.phase).toBe('Failed');
      expect(d.status.lastAppliedSpec).toBe('rev-1');
      expect(alerts(d)).toEqual(['ReadinessFailed']);
      // The target still serves and the primary cannot: the router sends everything to the target.
      expect(routes(d)).toEqual(['0/100']);
    },
  },
  'initializing.deadline': {
    input: inputFor('Initializing', {
      primary: { ready: notReady, stamp: 'rev-1' },
      status: { stalled: { reason: 'PrimaryNotReady', message: 'x', since: longAgo } },
    }),
    check: (d) => {
      expect(d.status.phase).toBe('Failed');
      expect(alerts(d)).toEqual(['DeadlineExceeded']);
    },
  },
  'initializing.done': {
    input: inputFor('Initializing'),
    check: (d) => {
      expect(d.status).toMatchObject({
        phase: 'Initialized',
        lastPromotedSpec: 'rev-1',
        lastAppliedSpec: 'rev-1',
      });
      expect(scales(d)).toEqual(['zero']);
      expect(events(d)).toEqual(['Initialized']);
    },
  },
  'initializing.wait': {
    input: inputFor('Initializing', {
      primary: { exists: false },
      routes: undefined,
      status: { lastTransitionTime: iso(NOW - MINUTE) },
    }),
    check: (d) => {
      expect(d.actions).toEqual([{ kind: 'initialise', stamp: 'rev-1' }]);
      expect(d.status.stalled?.reason).toBe('PrimaryNotReady');
    },
  },
  'failed.reinitialize': {
    input: inputFor('Failed', { status: { lastPromotedSpec: undefined, lastAppliedSpec: 'rev-0' } }),
    check: (d) => {
      expect(d.status.phase).toBe('Initializing');
      expect(events(d)).toEqual(['InitializationRestarted']);
    },
  },
  'failed.retry': {
    input: inputFor('Failed', {
      status: { lastAppliedSpec: 'rev-2', failedChecks: 1 },
      annotations: { 'fledge.dev/retry': 'r-1' },
      target: { ready: notReady },
    }),
    check: (d) => {
      expect(d.status).toMatchObject({
        phase: 'Progressing',
        run: 2,
        failedChecks: 0,
        handledControls: { retry: 'r-1' },
      });
      expect(scales(d)).toEqual(['up']);
      expect(of(d, 'event')[0]?.message).toMatch(/retrying revision rev-2/);
    },
  },
  'idle.revert': {
    input: inputFor('Failed', {
      status: { lastAppliedSpec: 'rev-2' },
      target: { revision: 'rev-1', ready: notReady },
    }),
    check: (d) => {
      expect(d.status.phase).toBe('Succeeded');
      expect(d.status.lastAppliedSpec).toBe('rev-1');
      expect(events(d)).toEqual(['RevisionReverted']);
    },
  },
  'idle.newRevision': {
    input: inputFor('Succeeded', { target: { revision: 'rev-2', ready: notReady } }),
    check: (d) => {
      expect(d.status).toMatchObject({
        phase: 'Progressing',
        run: 2,
        lastAppliedSpec: 'rev-2',
        canaryWeight: 0,
      });
      expect(events(d)).toEqual(['NewRevision']);
      expect(alerts(d)).toEqual(['Started']);
      expect(scales(d)).toEqual(['up']);
    },
  },
  'failed.trafficSettled': {
    // The run failed at 30% while the primary could not serve: the canary took all traffic.
    input: inputFor('Failed', {
      status: { lastAppliedSpec: 'rev-2', canaryWeight: 30 },
      primary: { ready: notReady },
      routes: { primaryWeight: 0, canaryWeight: 100, mirrored: false },
    }),
    check: (d) => {
      expect(d.status.canaryWeight).toBe(100);
      expect(d.transitions).toEqual(['failed.trafficSettled', 'idle.wait']);
      // Once the primary serves again and traffic is back on it, status says 0.
      const back = decide(
        inputFor('Failed', {
          status: { ...d.status },
          routes: { primaryWeight: 100, canaryWeight: 0, mirrored: false },
        }),
      );
      expect(back.status).toMatchObject({ canaryWeight: 0, trafficMode: 'None' });
    },
  },
  'idle.wait': {
    input: inputFor('Succeeded'),
    check: (d) => {
      expect(d.actions).toEqual([]);
      expect(d.requeueAfterMs).toBeUndefined();
    },
  },
  'waiting.abort': {
    input: inputFor('Waiting', { annotations: { 'fledge.dev/abort': 'a-1' } }),
    check: (d) => {
      expect(d.status.phase).toBe('Failed');
      expect(d.status.handledControls).toEqual({ abort: 'a-1' });
      expect(alerts(d)).toEqual(['RolledBack']);
    },
  },
  'waiting.revert': {
    input: inputFor('Waiting', { target: { revision: 'rev-1', ready: notReady } }),
    check: (d) => expect(d.status.phase).toBe('Succeeded'),
  },
  'waiting.newRevision': {
    input: inputFor('Waiting', {
      spec: hooked(['confirm-rollout']),
      target: { revision: 'rev-3', ready: notReady },
    }),
    check: (d) => {
      expect(d.status).toMatchObject({ phase: 'Waiting', run: 3, lastAppliedSpec: 'rev-3' });
      expect(events(d)).toEqual(['AnalysisRestarted']);
      expect(of(d, 'runHook').map((a) => a.id)).toEqual([
        requestId(1, 'hook/confirm-rollout/0-confirm-rollout', 3),
      ]);
    },
  },
  'waiting.deadline': {
    input: inputFor('Waiting', {
      routes: { primaryWeight: 50, canaryWeight: 50, mirrored: false },
      status: { stalled: { reason: 'RoutesNotApplied', message: 'x', since: longAgo } },
    }),
    check: (d) => {
      expect(d.status.phase).toBe('Failed');
      expect(alerts(d)).toEqual(['DeadlineExceeded']);
    },
  },
  'waiting.promote': {
    input: inputFor('Waiting', { annotations: { 'fledge.dev/promote': 'p-1' }, target: { ready: notReady } }),
    check: (d) => {
      expect(d.status.phase).toBe('Progressing');
      // The token stays pending: it promotes once the canary is ready.
      expect(d.status.handledControls).toBeUndefined();
      expect(events(d)).toEqual(['ConfirmationSkipped']);
      expect(scales(d)).toEqual(['up']);
    },
  },
  'waiting.rollbackHook': {
    input: inputFor('Waiting', {
      spec: hooked(['confirm-rollout', 'rollback']),
      status: { tick: tick(1, false) },
      hookResults: {
        ...hookResult(
          requestId(1, 'hook/confirm-rollout/0-confirm-rollout'),
          false,
          'confirm-rollout',
          'confirm-rollout',
        ),
        ...hookResult(requestId(1, 'hook/rollback/1-rollback'), true, 'rollback', 'rollback'),
      },
    }),
    check: (d) => {
      expect(d.status.phase).toBe('Failed');
      expect(of(d, 'alert')[0]?.message.failingCheck).toMatchObject({ type: 'webhook', name: 'rollback' });
    },
  },
  'waiting.held': {
    input: inputFor('Waiting', {
      spec: hooked(['confirm-rollout']),
      status: { tick: tick(1, false, NOW - 10_000) },
      hookResults: hookResult(
        requestId(1, 'hook/confirm-rollout/0-confirm-rollout'),
        false,
        'confirm-rollout',
        'x',
      ),
    }),
    check: (d) => {
      expect(d.status.phase).toBe('Waiting');
      expect(d.status.pendingConfirmation).toEqual({ gate: 'confirm-rollout', since: iso(NOW) });
      expect(events(d)).toEqual(['AwaitingConfirmation']);
      expect(alerts(d)).toEqual(['WaitingConfirmation']);
      expect(d.requeueAfterMs).toBe(50_000);
    },
  },
  'waiting.confirmed': {
    input: inputFor('Waiting', {
      spec: hooked(['confirm-rollout']),
      status: { tick: tick(1, false) },
      hookResults: hookResult(
        requestId(1, 'hook/confirm-rollout/0-confirm-rollout'),
        true,
        'confirm-rollout',
        'x',
      ),
    }),
    check: (d) => {
      expect(d.status.phase).toBe('Progressing');
      expect(events(d)).toEqual(['RolloutConfirmed']);
      expect(scales(d)).toEqual(['up']);
    },
  },
  'waiting.tick': {
    input: inputFor('Waiting', {
      spec: hooked(['confirm-rollout']),
      status: { tick: tick(1, true, NOW - 2 * MINUTE) },
    }),
    check: (d) => {
      expect(d.status.tick).toEqual(tick(2, false, NOW));
      expect(of(d, 'runHook').map((a) => a.id)).toEqual([
        requestId(2, 'hook/confirm-rollout/0-confirm-rollout'),
      ]);
      expect(d.awaiting).toEqual([requestId(2, 'hook/confirm-rollout/0-confirm-rollout')]);
    },
  },
  'waiting.wait': {
    input: inputFor('Waiting', {
      spec: hooked(['confirm-rollout']),
      status: { tick: tick(1, true, NOW - 10_000) },
    }),
    check: (d) => {
      expect(d.actions).toEqual([]);
      expect(d.requeueAfterMs).toBe(50_000);
    },
  },
  'active.abort': {
    input: inputFor('Progressing', { annotations: { 'fledge.dev/abort': 'a-2' } }),
    check: (d) => {
      expect(d.status.phase).toBe('Failed');
      expect(routes(d)).toEqual(['100/0']);
      // The canary is scaled down only once the routes read back show no traffic on it.
      expect(scales(d)).toEqual([]);
    },
  },
  'active.revert': {
    input: inputFor('Progressing', { target: { revision: 'rev-1' } }),
    check: (d) => {
      expect(d.status).toMatchObject({ phase: 'Succeeded', canaryWeight: 0 });
      expect(routes(d)).toEqual(['100/0']);
    },
  },
  'active.newRevision': {
    input: inputFor('Progressing', { target: { revision: 'rev-3' } }),
    check: (d) => {
      expect(d.status).toMatchObject({
        phase: 'Progressing',
        run: 3,
        canaryWeight: 0,
        lastAppliedSpec: 'rev-3',
      });
      expect(routes(d)).toEqual(['100/0']);
      expect(events(d)).toEqual(['AnalysisRestarted']);
    },
  },
  'active.canaryFailed': {
    input: inputFor('Progressing', { target: { ready: failed } }),
    check: (d) => {
      expect(d.status.phase).toBe('Failed');
      expect(alerts(d)).toEqual(['ReadinessFailed']);
      expect(routes(d)).toEqual(['100/0']);
    },
  },
  'active.primaryFailed': {
    input: inputFor('Progressing', { primary: { ready: failed } }),
    check: (d) => {
      expect(d.status.phase).toBe('Failed');
      // Never roll back onto a broken primary: the ready canary takes all traffic and keeps running.
      expect(routes(d)).toEqual(['0/100']);
      expect(scales(d)).toEqual([]);
    },
  },
  'active.deadline': {
    input: inputFor('Progressing', {
      target: { ready: notReady },
      status: { stalled: { reason: 'CanaryNotReady', message: 'x', since: longAgo } },
    }),
    check: (d) => {
      expect(d.status.phase).toBe('Failed');
      expect(of(d, 'alert')[0]?.message).toMatchObject({
        kind: 'DeadlineExceeded',
        failingCheck: { type: 'readiness', name: 'CanaryNotReady' },
      });
    },
  },
  'active.manualPromote': {
    input: inputFor('Progressing', { annotations: { 'fledge.dev/promote': 'p-2' } }),
    check: (d) => {
      expect(d.status).toMatchObject({
        phase: 'Promoting',
        lastPromotedSpec: 'rev-2',
        handledControls: { promote: 'p-2' },
      });
      expect(of(d, 'promote')).toEqual([{ kind: 'promote', stamp: 'rev-2', revision: 'rev-2' }]);
    },
  },
  'active.skipAnalysis': {
    input: inputFor('Progressing', {
      spec: specOf({ stepWeight: 20, maxWeight: 60 }, { skipAnalysis: true }),
    }),
    check: (d) => expect(d.status.phase).toBe('Promoting'),
  },
  'active.rollbackHook': {
    input: inputFor('Progressing', {
      spec: hooked(['rollback']),
      status: { tick: tick(3, false) },
      metricResults: metricResult(3, 'pass'),
      hookResults: hookResult(requestId(3, 'hook/rollback/0-rollback'), true, 'rollback', 'rollback'),
    }),
    check: (d) => {
      expect(d.status.phase).toBe('Failed');
      expect(d.status.metrics?.[0]?.verdict).toBe('Pass');
    },
  },
  'active.threshold': {
    input: inputFor('Progressing', {
      status: { tick: tick(3, false) },
      metricResults: metricResult(3, 'fail'),
    }),
    check: (d) => {
      // Status follows the traffic back to the primary; the alert names the weight the run failed at.
      expect(d.status).toMatchObject({
        phase: 'Failed',
        failedChecks: 1,
        canaryWeight: 0,
        trafficMode: 'None',
      });
      expect(routes(d)).toEqual(['100/0']);
      expect(of(d, 'alert')[0]?.message).toMatchObject({
        kind: 'RolledBack',
        weight: 20,
        failingCheck: { type: 'metric', name: 'request-success-rate', value: 42, threshold: { min: 99 } },
      });
    },
  },
  'active.noDataLimit': {
    input: inputFor('Progressing', {
      status: { tick: tick(3, false), noDataChecks: { 'request-success-rate': 9 } },
      metricResults: metricResult(3, 'noData'),
    }),
    check: (d) => {
      expect(d.status.phase).toBe('Failed');
      expect(d.status.failedChecks).toBe(0);
      expect(d.status.noDataChecks).toEqual({ 'request-success-rate': 10 });
      expect(d.status.conditions?.find((c) => c.type === 'Promoted')?.reason).toBe('NoDataLimit');
    },
  },
  'active.checkFailed': {
    input: inputFor('Progressing', {
      spec: specOf({ stepWeight: 20, maxWeight: 60, threshold: 2, metrics: METRICS }),
      status: { tick: tick(3, false) },
      metricResults: metricResult(3, 'fail'),
    }),
    check: (d) => {
      expect(d.status).toMatchObject({ phase: 'Progressing', failedChecks: 1, canaryWeight: 20 });
      expect(of(d, 'event')).toEqual([expect.objectContaining({ reason: 'CheckFailed', type: 'Warning' })]);
      expect(d.status.metrics?.[0]).toMatchObject({
        name: 'request-success-rate',
        verdict: 'Fail',
        value: 42,
      });
    },
  },
  'active.halted': {
    input: inputFor('Progressing', {
      status: { tick: tick(3, false) },
      metricResults: metricResult(3, 'error'),
    }),
    check: (d) => {
      expect(d.status).toMatchObject({
        failedChecks: 0,
        canaryWeight: 20,
        noDataChecks: { 'request-success-rate': 1 },
      });
      expect(of(d, 'event')[0]?.message).toMatch(/could not be measured \(1\/10\)/);
      expect(d.status.metrics?.[0]?.verdict).toBe('Error');
    },
  },
  'active.heldForPromotion': {
    input: inputFor('Progressing', {
      spec: hooked(['confirm-promotion']),
      status: { canaryWeight: 60, tick: tick(4, false) },
      metricResults: metricResult(4, 'pass'),
      hookResults: hookResult(
        requestId(4, 'hook/confirm-promotion/0-confirm-promotion'),
        false,
        'confirm-promotion',
        'x',
      ),
    }),
    check: (d) => {
      expect(d.status).toMatchObject({
        phase: 'WaitingPromotion',
        pendingConfirmation: { gate: 'confirm-promotion' },
      });
      expect(alerts(d)).toEqual(['WaitingConfirmation']);
    },
  },
  'active.held': {
    input: inputFor('Progressing', {
      spec: hooked(['confirm-traffic-increase']),
      status: { tick: tick(3, false) },
      metricResults: metricResult(3, 'pass'),
      hookResults: hookResult(
        requestId(3, 'hook/confirm-traffic-increase/0-confirm-traffic-increase'),
        false,
        'confirm-traffic-increase',
        'x',
      ),
    }),
    check: (d) => {
      expect(d.status).toMatchObject({ phase: 'Progressing', canaryWeight: 20 });
      expect(d.status.pendingConfirmation?.gate).toBe('confirm-traffic-increase');
    },
  },
  'active.promote': {
    input: inputFor('Progressing', {
      status: { canaryWeight: 60, tick: tick(4, false) },
      metricResults: metricResult(4, 'pass'),
    }),
    check: (d) => {
      expect(d.status).toMatchObject({ phase: 'Promoting', lastPromotedSpec: 'rev-2' });
      expect(of(d, 'promote')).toHaveLength(1);
      expect(events(d)).toEqual(['PromotionStarted']);
    },
  },
  'active.advance': {
    input: inputFor('Progressing', {
      status: { tick: tick(3, false) },
      metricResults: metricResult(3, 'pass'),
    }),
    check: (d) => {
      expect(d.status).toMatchObject({
        phase: 'Progressing',
        canaryWeight: 40,
        tick: { number: 3, evaluated: true },
      });
      expect(routes(d)).toEqual(['60/40']);
      expect(alerts(d)).toEqual(['StepAdvanced']);
    },
  },
  'active.tick': {
    input: inputFor('Progressing', { status: { tick: tick(2, true, NOW - MINUTE - 1000) } }),
    check: (d) => {
      expect(d.status.tick).toEqual(tick(3, false, NOW));
      expect(of(d, 'measure').map((a) => a.id)).toEqual([requestId(3, 'metric/0-request-success-rate')]);
      expect(d.requeueAfterMs).toBe(10_000);
    },
  },
  'active.wait': {
    input: inputFor('Progressing', { status: { tick: tick(2, true, NOW - 10_000) } }),
    check: (d) => {
      expect(d.actions).toEqual([]);
      expect(d.requeueAfterMs).toBe(50_000);
    },
  },
  'promoting.primaryFailed': {
    input: inputFor('Promoting', { primary: { ready: failed, stamp: 'rev-2' } }),
    check: (d) => {
      // The canary keeps the traffic, so status does not claim it went back to the primary.
      expect(d.status).toMatchObject({ phase: 'Failed', canaryWeight: 60, trafficMode: 'Weighted' });
      expect(events(d)).toEqual(['PromotionFailed']);
      expect(routes(d)).toEqual(['0/100']);
      expect(scales(d)).toEqual([]);
    },
  },
  'promoting.deadline': {
    input: inputFor('Promoting', {
      primary: { ready: notReady, stamp: 'rev-2' },
      status: { stalled: { reason: 'PrimaryNotReady', message: 'x', since: longAgo } },
    }),
    check: (d) => {
      expect(d.status.phase).toBe('Failed');
      expect(routes(d)).toEqual(['0/100']);
      expect(of(d, 'event')[0]?.message).toMatch(/all traffic stays on the canary/);
    },
  },
  'promoting.finalShift': {
    input: inputFor('Promoting', { primary: { ready, stamp: 'rev-2' } }),
    check: (d) => {
      expect(d.status).toMatchObject({ phase: 'Finalising', canaryWeight: 0 });
      expect(routes(d)).toEqual(['100/0']);
    },
  },
  'promoting.shift': {
    input: inputFor('Promoting', {
      spec: specOf({ stepWeight: 20, maxWeight: 60, stepWeightPromotion: 20 }),
      primary: { ready, stamp: 'rev-2' },
      status: { tick: tick(4, true, NOW - MINUTE) },
    }),
    check: (d) => {
      expect(d.status).toMatchObject({ phase: 'Promoting', canaryWeight: 40 });
      expect(routes(d)).toEqual(['60/40']);
      expect(events(d)).toEqual(['PromotionAdvanced']);
    },
  },
  'promoting.wait': {
    input: inputFor('Promoting', {
      primary: { ready, stamp: 'rev-1' },
      status: { lastTransitionTime: iso(NOW - MINUTE) },
    }),
    check: (d) => {
      expect(of(d, 'promote')).toEqual([{ kind: 'promote', stamp: 'rev-2', revision: 'rev-2' }]);
      expect(d.status.stalled?.reason).toBe('PrimaryNotReady');
    },
  },
  'finalising.primaryFailed': {
    input: inputFor('Finalising', { primary: { ready: failed, stamp: 'rev-2' } }),
    check: (d) => {
      expect(d.status.phase).toBe('Failed');
      expect(routes(d)).toEqual(['0/100']);
    },
  },
  'finalising.deadline': {
    input: inputFor('Finalising', {
      primary: { ready, stamp: 'rev-2' },
      routes: { primaryWeight: 40, canaryWeight: 60, mirrored: false },
      status: { stalled: { reason: 'RoutesNotApplied', message: 'x', since: longAgo } },
    }),
    check: (d) => {
      expect(d.status.phase).toBe('Failed');
      expect(routes(d)).toEqual(['100/0']);
    },
  },
  'finalising.done': {
    input: inputFor('Finalising', {
      spec: hooked(['post-rollout']),
      primary: { ready, stamp: 'rev-2' },
    }),
    check: (d) => {
      expect(d.status.phase).toBe('Succeeded');
      expect(alerts(d)).toEqual(['Promoted']);
      expect(scales(d)).toEqual(['zero']);
      expect(of(d, 'runHook').map((a) => a.id)).toEqual([
        `${requestId(0, '', 2).split('/t0/')[0]}/end/hook/post-rollout/0-post-rollout`,
      ]);
      expect(d.status.conditions?.find((c) => c.type === 'Promoted')).toMatchObject({ status: 'True' });
    },
  },
  'finalising.wait': {
    input: inputFor('Finalising', {
      primary: { ready, stamp: 'rev-2' },
      routes: { primaryWeight: 40, canaryWeight: 60, mirrored: false },
      status: { lastTransitionTime: iso(NOW - MINUTE) },
    }),
    check: (d) => {
      expect(routes(d)).toEqual(['100/0']);
      expect(d.status.stalled?.reason).toBe('RoutesNotApplied');
    },
  },
  'terminating.done': {
    input: inputFor('Terminating', {
      spec: specOf({ stepWeight: 20, maxWeight: 60 }, { revertOnDeletion: true }),
    }),
    check: (d) => {
      expect(d.status.phase).toBe('Terminated');
      expect(d.actions.map((a) => a.kind)).toEqual(['event', 'finalise']);
    },
  },
  'terminating.deadline': {
    input: inputFor('Terminating', {
      target: { ready: notReady },
      status: { stalled: { reason: 'CanaryNotReady', message: 'x', since: longAgo } },
    }),
    check: (d) => {
      expect(d.status.phase).toBe('Terminated');
      expect(of(d, 'event')[0]).toMatchObject({ reason: 'Terminated', type: 'Warning' });
    },
  },
  'terminating.wait': {
    input: inputFor('Terminating', { target: { ready: notReady } }),
    check: (d) => expect(d.actions).toEqual([{ kind: 'revert' }]),
  },
  'terminated.wait': {
    input: inputFor('Terminated'),
    check: (d) => {
      expect(d.actions).toEqual([{ kind: 'finalise' }]);
      expect(d.requeueAfterMs).toBeUndefined();
    },
  },
};

describe('transition table', () => {
  it('has a case for every row, and no case for a row that does not exist', () => {
    expect(Object.keys(cases).sort()).toEqual(TRANSITIONS.map((t) => t.id).sort());
  });

  it.each(TRANSITIONS.map((t) => [t.id, t] as const))('%s', (id, row) => {
    const testCase = cases[id] as Case;
    const decision = decide(testCase.input);
    expect(decision.transitions[0]).toBe(id);
    if (row.to !== 'same' && row.to !== 'runStart') expect(decision.transitions.length).toBeGreaterThan(0);
    testCase.check(decision);
  });

  it('has unique ids and ends every phase with an unconditional settling row', () => {
    expect(new Set(TRANSITIONS.map((t) => t.id)).size).toBe(TRANSITIONS.length);
    for (const phase of Phases) {
      const rows = TRANSITIONS.filter((t) => t.from.includes(phase));
      const last = rows.at(-1);
      expect([phase, last?.when, last?.settles]).toEqual([phase, 'always', true]);
      expect(rows.filter((t) => t.when === 'always')).toHaveLength(1);
    }
  });

  it('uses every guard and every effect', () => {
    const usedGuards = new Set(TRANSITIONS.map((t) => t.when));
    const usedEffects = new Set(TRANSITIONS.flatMap((t) => t.effects));
    expect(Object.keys(guards).filter((g) => !usedGuards.has(g as never))).toEqual([]);
    expect(Object.keys(effects).filter((e) => !usedEffects.has(e as never))).toEqual([]);
  });

  it('starts a canary without status in Initializing', () => {
    const input = inputFor('Initializing', { primary: { exists: false }, routes: undefined });
    input.canary.status = {};
    const decision = decide(input);
    expect(decision.status).toMatchObject({
      phase: 'Initializing',
      strategy: 'Canary',
      observedGeneration: 3,
    });
    // The primary it just asked for is not there yet: a wait within the grace, not a stall.
    expect(decision.status.stalled).toBeUndefined();
    expect(decision.status.conditions?.map((c) => [c.type, c.status])).toEqual([
      ['Promoted', 'Unknown'],
      ['Ready', 'Unknown'],
    ]);
    // Looked at again within the poll interval, so the stall is written once the grace ends.
    expect(decision.requeueAfterMs).toBe(10_000);
  });

  it.each(['Initialized', 'Succeeded', 'Failed'] as Phase[])('leaves a settled %s canary alone', (phase) => {
    const status = phase === 'Failed' ? { lastAppliedSpec: 'rev-2' } : {};
    const decision = decide(inputFor(phase, { target: { ready: notReady }, status }));
    expect(decision.actions).toEqual([]);
    expect(decision.status.phase).toBe(phase);
  });
});
