import { describe, expect, it } from '@jest/globals';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import {
  TaskExecutor,
  type Task,
  type TaskExecutorMetrics,
  type TaskExecutorOptions,
} from '../../../src/hooks/index.ts';
import { ManualClock, settle } from '../../../src/runtime/clock.ts';
import { Handover } from '../../../src/runtime/handover.ts';
import { capturedLogger } from './receiver.ts';

/** Tasks the test finishes by hand; each one ends early (rejecting) when its signal aborts. */
class Tasks {
  readonly started: string[] = [];
  readonly signals = new Map<string, AbortSignal>();
  readonly #pending = new Map<string, { resolve: (value: string) => void; reject: (error: Error) => void }>();
  #running = 0;
  maxRunning = 0;

  task(name: string): Task<string> {
    return (signal) => {
      this.started.push(name);
      this.signals.set(name, signal);
      this.maxRunning = Math.max(this.maxRunning, ++this.#running);
      return new Promise<string>((resolve, reject) => {
        this.#pending.set(name, { resolve, reject });
        signal.addEventListener('abort', () => reject(new Error(`${name} aborted`)));
      }).finally(() => this.#running--);
    };
  }

  async resolve(name: string, value = `${name} done`): Promise<void> {
    this.#finisher(name).resolve(value);
    await settle();
  }

  async reject(name: string, error: Error): Promise<void> {
    this.#finisher(name).reject(error);
    await settle();
  }

  #finisher(name: string) {
    const finisher = this.#pending.get(name);
    if (!finisher) throw new Error(`task ${name} has not started`);
    return finisher;
  }
}

function metrics(): { registry: Registry; metrics: TaskExecutorMetrics } {
  const registry = new Registry();
  const registers = [registry];
  return {
    registry,
    metrics: {
      started: new Counter({ name: 't_started', help: 'h', labelNames: ['executor'] as const, registers }),
      finished: new Counter({
        name: 't_finished',
        help: 'h',
        labelNames: ['executor', 'outcome'] as const,
        registers,
      }),
      running: new Gauge({ name: 't_running', help: 'h', labelNames: ['executor'] as const, registers }),
      queueWait: new Histogram({
        name: 't_queue_wait',
        help: 'h',
        labelNames: ['executor'] as const,
        buckets: [1, 10],
        registers,
      }),
    },
  };
}

async function value(
  registry: Registry,
  name: string,
  labels: Record<string, string>,
): Promise<number | undefined> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  const matching = metric?.values.find((v) =>
    Object.entries(labels).every(([k, l]) => (v.labels as Record<string, unknown>)[k] === l),
  );
  return matching?.value;
}

function setup(options: Partial<TaskExecutorOptions> = {}) {
  const clock = new ManualClock();
  const settled: string[] = [];
  const { logger, output } = capturedLogger();
  const executor = new TaskExecutor<string>({
    name: 'webhooks',
    concurrency: 4,
    resultTtlMs: 60_000,
    onSettled: (key) => settled.push(key),
    logger,
    clock,
    ...options,
  });
  return { executor, clock, settled, tasks: new Tasks(), logs: output };
}

describe('TaskExecutor: one run per id', () => {
  it('starts a task once while it is pending, then keeps its result', async () => {
    const { executor, tasks, settled } = setup();
    expect(executor.request('apps/podinfo', 'tick-1/hook', tasks.task('a'))).toBe('running');
    expect(executor.request('apps/podinfo', 'tick-1/hook', tasks.task('b'))).toBe('running');
    expect(executor.result('apps/podinfo', 'tick-1/hook')).toBeUndefined();

    await tasks.resolve('a');
    expect(executor.request('apps/podinfo', 'tick-1/hook', tasks.task('c'))).toBe('settled');
    expect(tasks.started).toEqual(['a']);
    expect(executor.result('apps/podinfo', 'tick-1/hook')).toEqual({ status: 'fulfilled', value: 'a done' });
    expect(settled).toEqual(['apps/podinfo']);
  });

  it('keeps the same id of two canaries apart', async () => {
    const { executor, tasks } = setup();
    executor.request('apps/one', 'hook', tasks.task('one'));
    executor.request('apps/two', 'hook', tasks.task('two'));
    await tasks.resolve('two');
    expect(tasks.started).toEqual(['one', 'two']);
    expect(executor.result('apps/one', 'hook')).toBeUndefined();
    expect(executor.result('apps/two', 'hook')).toEqual({ status: 'fulfilled', value: 'two done' });
  });

  it('settles a task that throws as rejected, logs it, and still calls onSettled once', async () => {
    const { executor, tasks, settled, logs } = setup();
    executor.request('apps/podinfo', 'm', tasks.task('m'));
    const error = new Error('provider exploded');
    await tasks.reject('m', error);
    expect(executor.result('apps/podinfo', 'm')).toEqual({ status: 'rejected', reason: error });
    expect(executor.state('apps/podinfo', 'm')).toBe('settled');
    expect(settled).toEqual(['apps/podinfo']);
    expect(logs()).toContain('provider exploded');
  });

  it('survives an onSettled callback that throws', async () => {
    const { executor, tasks, logs } = setup({
      onSettled: () => {
        throw new Error('queue is gone');
      },
    });
    executor.request('apps/podinfo', 'a', tasks.task('a'));
    await tasks.resolve('a');
    expect(executor.result('apps/podinfo', 'a')).toEqual({ status: 'fulfilled', value: 'a done' });
    expect(logs()).toContain('onSettled callback threw');
    executor.request('apps/podinfo', 'b', tasks.task('b'));
    expect(tasks.started).toEqual(['a', 'b']);
  });

  it('rejects invalid settings, naming the field', () => {
    expect(() => setup({ concurrency: 0 })).toThrow(
      'task executor "webhooks": concurrency must be a positive integer',
    );
    expect(() => setup({ perKeyConcurrency: 1.5 })).toThrow('perKeyConcurrency must be a positive integer');
    expect(() => setup({ resultTtlMs: 0 })).toThrow('resultTtlMs must be positive');
  });
});

describe('TaskExecutor: concurrency and fairness', () => {
  it('never runs more than `concurrency` tasks, starting queued ones as slots free up', async () => {
    const { executor, tasks } = setup({ concurrency: 2 });
    for (const name of ['a', 'b', 'c', 'd', 'e']) executor.request('apps/podinfo', name, tasks.task(name));
    expect(tasks.started).toEqual(['a', 'b']);
    expect(executor.state('apps/podinfo', 'c')).toBe('queued');

    await tasks.resolve('b');
    expect(tasks.started).toEqual(['a', 'b', 'c']);
    for (const name of ['a', 'c', 'd', 'e']) await tasks.resolve(name);
    expect(tasks.started).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(tasks.maxRunning).toBe(2);
    expect(executor.running).toBe(0);
  });

  it('gives a freed slot to another canary before the busy one gets its next task', async () => {
    const { executor, tasks } = setup({ concurrency: 1 });
    for (const name of ['a1', 'a2', 'a3']) executor.request('apps/a', name, tasks.task(name));
    executor.request('apps/b', 'b1', tasks.task('b1'));
    executor.request('apps/c', 'c1', tasks.task('c1'));
    for (const name of ['a1', 'b1', 'c1', 'a2', 'a3']) await tasks.resolve(name);
    expect(tasks.started).toEqual(['a1', 'b1', 'c1', 'a2', 'a3']);
  });

  it('hands a slot to the canary with the fewest running tasks', async () => {
    const { executor, tasks } = setup({ concurrency: 3 });
    for (const name of ['a1', 'a2', 'a3', 'a4']) executor.request('apps/a', name, tasks.task(name));
    executor.request('apps/b', 'b1', tasks.task('b1'));
    executor.request('apps/b', 'b2', tasks.task('b2'));
    expect(tasks.started).toEqual(['a1', 'a2', 'a3']);
    // a keeps 2 running, b has none: b goes first although a asked earlier.
    await tasks.resolve('a1');
    expect(tasks.started).toEqual(['a1', 'a2', 'a3', 'b1']);
    // One running each: a was served longer ago.
    await tasks.resolve('a2');
    expect(tasks.started).toEqual(['a1', 'a2', 'a3', 'b1', 'a4']);
    // One running each again: now b was served longer ago.
    executor.request('apps/a', 'a5', tasks.task('a5'));
    await tasks.resolve('a3');
    expect(tasks.started).toEqual(['a1', 'a2', 'a3', 'b1', 'a4', 'b2']);
  });

  it('caps one canary at perKeyConcurrency, keeping slots free for others', async () => {
    const { executor, tasks } = setup({ concurrency: 3, perKeyConcurrency: 2 });
    for (const name of ['a1', 'a2', 'a3']) executor.request('apps/a', name, tasks.task(name));
    expect(tasks.started).toEqual(['a1', 'a2']);
    executor.request('apps/b', 'b1', tasks.task('b1'));
    expect(tasks.started).toEqual(['a1', 'a2', 'b1']);
    await tasks.resolve('a1');
    expect(tasks.started).toEqual(['a1', 'a2', 'b1', 'a3']);
  });
});

describe('TaskExecutor: result lifetime', () => {
  it('drops a result after the TTL; asking again runs the task again', async () => {
    const { executor, tasks, clock } = setup({ resultTtlMs: 30_000 });
    executor.request('apps/podinfo', 'h', tasks.task('first'));
    await tasks.resolve('first');
    await clock.advance(29_999);
    expect(executor.state('apps/podinfo', 'h')).toBe('settled');
    await clock.advance(1);
    expect(executor.result('apps/podinfo', 'h')).toBeUndefined();
    expect(executor.request('apps/podinfo', 'h', tasks.task('second'))).toBe('running');
    expect(tasks.started).toEqual(['first', 'second']);
  });

  it('forget keeps the listed ids and drops the rest: results deleted, running aborted, queued never started', async () => {
    const { executor, tasks, settled } = setup({ concurrency: 2 });
    executor.request('apps/podinfo', 'old-result', tasks.task('old-result'));
    await tasks.resolve('old-result');
    executor.request('apps/podinfo', 'keep', tasks.task('keep'));
    executor.request('apps/podinfo', 'stale-running', tasks.task('stale-running'));
    executor.request('apps/podinfo', 'stale-queued', tasks.task('stale-queued'));
    executor.request('apps/other', 'theirs', tasks.task('theirs'));
    settled.length = 0;

    executor.forget('apps/podinfo', ['keep']);
    await settle();
    expect(tasks.signals.get('stale-running')?.aborted).toBe(true);
    expect(tasks.signals.get('stale-running')?.reason).not.toBeInstanceOf(Handover);
    expect(tasks.signals.get('keep')?.aborted).toBe(false);
    expect(executor.result('apps/podinfo', 'old-result')).toBeUndefined();
    expect(executor.state('apps/podinfo', 'stale-running')).toBeUndefined();
    expect(executor.state('apps/podinfo', 'stale-queued')).toBeUndefined();
    // The aborted task's slot went to the other canary, not to the forgotten queued task.
    expect(tasks.started).toEqual(['old-result', 'keep', 'stale-running', 'theirs']);
    expect(settled).toEqual([]);

    await tasks.resolve('keep');
    expect(executor.result('apps/podinfo', 'keep')).toEqual({ status: 'fulfilled', value: 'keep done' });
    expect(settled).toEqual(['apps/podinfo']);
  });

  it('forget without ids drops everything of the canary', async () => {
    const { executor, tasks } = setup();
    executor.request('apps/podinfo', 'a', tasks.task('a'));
    await tasks.resolve('a');
    executor.forget('apps/podinfo');
    expect(executor.result('apps/podinfo', 'a')).toBeUndefined();
  });
});

describe('TaskExecutor: shutdown', () => {
  it('aborts running tasks as a handover, never starts queued ones, waits for the running to end and calls no onSettled', async () => {
    const { executor, tasks, settled } = setup({ concurrency: 1 });
    executor.request('apps/podinfo', 'a', tasks.task('a'));
    executor.request('apps/podinfo', 'b', tasks.task('b'));
    await executor.shutdown();
    expect(tasks.signals.get('a')?.aborted).toBe(true);
    expect(tasks.signals.get('a')?.reason).toBeInstanceOf(Handover);
    expect(tasks.started).toEqual(['a']);
    expect(executor.running).toBe(0);
    expect(settled).toEqual([]);
    expect(() => executor.request('apps/podinfo', 'c', tasks.task('c'))).toThrow(
      'task executor "webhooks" is shut down: cannot run c for apps/podinfo',
    );
  });
});

describe('TaskExecutor: metrics', () => {
  it('counts started and finished tasks by outcome, tracks running, and observes queue wait', async () => {
    const { registry, metrics: executorMetrics } = metrics();
    const { executor, tasks, clock } = setup({ concurrency: 1, metrics: executorMetrics });
    const executorLabel = { executor: 'webhooks' };
    executor.request('apps/podinfo', 'a', tasks.task('a'));
    executor.request('apps/podinfo', 'b', tasks.task('b'));
    executor.request('apps/podinfo', 'c', tasks.task('c'));
    expect(await value(registry, 't_running', executorLabel)).toBe(1);

    await clock.advance(5_000);
    await tasks.resolve('a');
    await tasks.reject('b', new Error('boom'));
    executor.forget('apps/podinfo');
    await settle();

    expect(await value(registry, 't_started', executorLabel)).toBe(3);
    expect(await value(registry, 't_finished', { executor: 'webhooks', outcome: 'fulfilled' })).toBe(1);
    expect(await value(registry, 't_finished', { executor: 'webhooks', outcome: 'rejected' })).toBe(1);
    expect(await value(registry, 't_finished', { executor: 'webhooks', outcome: 'cancelled' })).toBe(1);
    expect(await value(registry, 't_running', executorLabel)).toBe(0);
    // a waited 0 s, b 5 s; c started right after b, still at 5 s.
    const wait = (await registry.getMetricsAsJSON()).find((m) => m.name === 't_queue_wait');
    const sum = wait?.values.find((v) => (v as { metricName?: string }).metricName === 't_queue_wait_sum');
    expect(sum?.value).toBe(10);
  });
});
