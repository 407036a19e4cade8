import { describe, expect, it } from '@jest/globals';
import type { CanaryStatus } from '../../../src/api/index.ts';
import { decide, type Decision } from '../../../src/engine/index.ts';
import { inputFor, iso, MINUTE, notReady, NOW, tick } from './fixtures.ts';
import { initialisedWorld, phaseIs, runUntil, specOf } from './world.ts';

// A run that waits on the cluster (new pods, a route's acceptance) writes status.stalled and
// Ready=False only once the wait has outlasted a grace, a tenth of progressDeadlineSeconds (5 to 30 s)
// counted from the last time the run moved. Shorter waits cost no status write; a stuck run
// still says so, that much later.

/** A tenth of the default progressDeadlineSeconds (600), capped at 30 s. */
const GRACE = 30_000;

const ready = (d: Decision) => d.status.conditions?.find((c) => c.type === 'Ready');

/** A Progressing canary whose pods are not ready, with the given times in status. */
function waiting(status: Partial<CanaryStatus>): Decision {
  return decide(
    inputFor('Progressing', {
      target: { ready: notReady },
      status: { lastTransitionTime: iso(NOW - MINUTE), tick: tick(2, true, NOW - MINUTE), ...status },
    }),
  );
}

describe('the stall grace', () => {
  it('does not write a wait that began within the grace, and looks again when it ends', () => {
    const d = waiting({ lastTransitionTime: iso(NOW - GRACE + 4_000) });
    expect(d.status.stalled).toBeUndefined();
    expect(ready(d)).toMatchObject({ status: 'True', reason: 'Progressing' });
    expect(d.requeueAfterMs).toBe(4_000);
  });

  it('counts the grace from a tick start or a recorded event as well as a phase change', () => {
    expect(waiting({ tick: tick(2, true, NOW - 1_000) }).status.stalled).toBeUndefined();
    const evented = waiting({ lastEvents: { decidedTime: iso(NOW - 1_000), events: [] } });
    expect(evented.status.stalled).toBeUndefined();
  });

  it('writes a wait that outlasts the grace, with Ready False naming what it waits on', () => {
    const d = waiting({ lastTransitionTime: iso(NOW - GRACE) });
    expect(d.status.stalled).toEqual({
      reason: 'CanaryNotReady',
      message: 'canary: 1/3 replicas available',
      since: iso(NOW),
    });
    expect(ready(d)).toMatchObject({ status: 'False', reason: 'CanaryNotReady' });
  });

  it('is at least 5 seconds with a short progress deadline', () => {
    const spec = specOf({ stepWeight: 20, maxWeight: 60 }, { progressDeadlineSeconds: 20 });
    const at = (sinceMs: number) =>
      decide(
        inputFor('Progressing', {
          spec,
          target: { ready: notReady },
          status: { lastTransitionTime: iso(NOW - sinceMs), tick: tick(2, true, NOW - MINUTE) },
        }),
      ).status.stalled;
    expect(at(4_000)).toBeUndefined();
    expect(at(5_000)?.reason).toBe('CanaryNotReady');
  });

  it('writes at once when status holds no time to count from', () => {
    const d = waiting({ lastTransitionTime: undefined, tick: undefined });
    expect(d.status.stalled?.reason).toBe('CanaryNotReady');
  });

  it('keeps the start of a written stall, whatever moved since', () => {
    const since = iso(NOW - 30_000);
    const d = waiting({
      stalled: { reason: 'CanaryNotReady', message: 'x', since },
      lastEvents: { decidedTime: iso(NOW - 1_000), events: [] },
    });
    expect(d.status.stalled?.since).toBe(since);
  });
});

describe('the stall grace over a whole run', () => {
  it('pods ready within the grace never show as a stall', () => {
    const w = initialisedWorld({ spec: specOf({ stepWeight: 50, maxWeight: 100 }) });
    w.target.up = false;
    w.newRevision('rev-2');
    const run = w.decisions.length;
    w.reconcile();
    w.advance(2_000);
    w.target.up = true;
    runUntil(w, phaseIs('Succeeded'));
    const decisions = w.decisions.slice(run);
    expect(decisions[0]?.status.phase).toBe('Progressing');
    expect(decisions.filter((d) => d.status.stalled !== undefined)).toEqual([]);
    expect(decisions.filter((d) => ready(d)?.status === 'False')).toEqual([]);
  });

  it('a canary that never becomes ready is written as stalled once the grace has passed', () => {
    const w = initialisedWorld({ spec: specOf({ stepWeight: 50, maxWeight: 100 }) });
    w.target.broken = true;
    w.newRevision('rev-2');
    const start = w.now;
    runUntil(w, (world) => world.status.stalled !== undefined);
    const writtenAt = (w.inputs.at(-1)?.now.getTime() as number) - start;
    expect(writtenAt).toBe(GRACE);
    expect(ready(w.decisions.at(-1) as Decision)).toMatchObject({
      status: 'False',
      reason: 'CanaryNotReady',
      message: 'canary: pods crash',
    });
  });
});
