import { describe, expect, it } from '@jest/globals';
import { Observer, type ObserverDeps } from '../../../src/controller/observer.ts';
import { SourceRevisions, type SourceRevisionDeps } from '../../../src/controller/source-revision.ts';
import type { HookResult } from '../../../src/engine/index.ts';
import type { Measurement } from '../../../src/analysis/index.ts';
import { TaskExecutor, type Task } from '../../../src/hooks/index.ts';
import { createLogger } from '../../../src/telemetry/logger.ts';
import { settle } from '../../../src/runtime/clock.ts';

// A hook whose answer the engine reads is cancelled once no decision waits for it; one sent at
// the end of a run (post-rollout) is not, or the reconcile after the final status patch would
// cancel it before it is sent.

const key = 'apps/podinfo';

function setup() {
  const executor = <T>(name: string) =>
    new TaskExecutor<T>({
      name,
      concurrency: 4,
      resultTtlMs: 60_000,
      onSettled: () => {},
      logger: createLogger('silent'),
    });
  const hooks = executor<HookResult>('webhooks');
  const sourceRevisions = new SourceRevisions({
    client: { get: async () => undefined } as unknown as SourceRevisionDeps['client'],
    annotation: 'fledge.dev/revision',
    log: createLogger('silent'),
  });
  const deps = {
    hooks,
    measurements: executor<Measurement>('metrics'),
    sourceRevisions,
  } as unknown as ObserverDeps;
  const aborted: string[] = [];
  const finishers = new Map<string, () => void>();
  const task =
    (id: string): Task<HookResult> =>
    (signal) =>
      new Promise<HookResult>((resolve, reject) => {
        finishers.set(id, () => resolve({ ok: true } as HookResult));
        signal.addEventListener('abort', () => {
          aborted.push(id);
          reject(new Error('aborted'));
        });
      });
  const finish = async (id: string) => {
    finishers.get(id)?.();
    await settle();
  };
  return { observer: new Observer(deps), hooks, aborted, task, finish, sourceRevisions };
}

describe('Observer: hooks nobody waits for', () => {
  it('cancels a read hook the decision no longer awaits', async () => {
    const { observer, hooks, aborted, task } = setup();
    observer.requestHook(key, 'run-1/tick-1/smoke', task('run-1/tick-1/smoke'));
    observer.keepOnly(key, []);
    await settle();
    expect(aborted).toEqual(['run-1/tick-1/smoke']);
    expect(hooks.state(key, 'run-1/tick-1/smoke')).toBeUndefined();
  });

  it('lets a sent hook finish across later decisions, then drops it', async () => {
    const { observer, hooks, aborted, task, finish } = setup();
    observer.sendHook(key, 'run-1/end/ticket', task('run-1/end/ticket'));
    observer.keepOnly(key, []);
    observer.keepOnly(key, []);
    await settle();
    expect(aborted).toEqual([]);
    expect(hooks.state(key, 'run-1/end/ticket')).toBe('running');

    await finish('run-1/end/ticket');
    expect(hooks.state(key, 'run-1/end/ticket')).toBe('settled');
    observer.keepOnly(key, []);
    expect(hooks.state(key, 'run-1/end/ticket')).toBeUndefined();
  });

  it('cancels a sent hook when its Canary is deleted', async () => {
    const { observer, aborted, task } = setup();
    observer.sendHook(key, 'run-1/end/ticket', task('run-1/end/ticket'));
    observer.forget(key);
    await settle();
    expect(aborted).toEqual(['run-1/end/ticket']);
  });
});

describe('Observer: findings', () => {
  it('include why no commit is recorded, and drop it once the Canary is forgotten', async () => {
    const { observer, sourceRevisions } = setup();
    expect(observer.findings(key)).toEqual([]);
    await sourceRevisions.read(key, 'r1', {
      labels: {},
      annotations: { 'fledge.dev/revision': 'two words' },
    });
    expect(observer.findings(key)).toEqual([
      expect.objectContaining({
        field: 'status.sourceRevision',
        message: expect.stringMatching(/^no commit/),
      }),
    ]);
    observer.forget(key);
    expect(observer.findings(key)).toEqual([]);
  });
});
