import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { Registry } from 'prom-client';
import { ManualClock, settle } from '../../../src/runtime/clock.ts';
import {
  WorkQueue,
  instrumentHandler,
  type WorkHandler,
  type WorkResult,
} from '../../../src/runtime/work-queue.ts';
import { createMetrics } from '../../../src/telemetry/metrics.ts';

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A handler whose runs are finished by the test, one by one. */
function controlledHandler() {
  const runs: { key: string; signal: AbortSignal; done: Deferred<WorkResult | void> }[] = [];
  const handler: WorkHandler = (key, signal) => {
    const done = deferred<WorkResult | void>();
    runs.push({ key, signal, done });
    return done.promise;
  };
  return { runs, handler };
}

describe('WorkQueue', () => {
  it('processes a key added several times once', async () => {
    const processed: string[] = [];
    const queue = new WorkQueue({
      name: 'test',
      clock: new ManualClock(),
      handler: async (key) => {
        processed.push(key);
      },
    });
    queue.add('ns/a');
    queue.add('ns/a');
    queue.add('ns/b');
    queue.add('ns/a');
    queue.start();
    await settle();
    expect(processed).toEqual(['ns/a', 'ns/b']);
  });

  it('never runs one key concurrently and defers re-adds until the run finishes', async () => {
    const { runs, handler } = controlledHandler();
    const queue = new WorkQueue({ name: 'test', workers: 4, clock: new ManualClock(), handler });
    queue.start();
    queue.add('ns/a');
    await settle();
    expect(runs.map((run) => run.key)).toEqual(['ns/a']);

    queue.add('ns/a');
    queue.add('ns/a');
    await settle();
    expect(runs).toHaveLength(1);
    expect(queue.isProcessing('ns/a')).toBe(true);

    runs[0]!.done.resolve();
    await settle();
    expect(runs.map((run) => run.key)).toEqual(['ns/a', 'ns/a']);
    runs[1]!.done.resolve();
    await settle();
    expect(runs).toHaveLength(2);
  });

  it('runs different keys in parallel up to the worker count', async () => {
    const { runs, handler } = controlledHandler();
    const queue = new WorkQueue({ name: 'test', workers: 2, clock: new ManualClock(), handler });
    for (const key of ['a', 'b', 'c']) queue.add(key);
    queue.start();
    await settle();
    expect(runs.map((run) => run.key)).toEqual(['a', 'b']);
    expect(queue.depth).toBe(1);
    runs[0]!.done.resolve();
    await settle();
    expect(runs.map((run) => run.key)).toEqual(['a', 'b', 'c']);
  });

  it('retries failures with per-key exponential back-off and resets it on success', async () => {
    const clock = new ManualClock();
    const attempts: number[] = [];
    let failuresLeft = 4;
    const errors: (number | undefined)[] = [];
    const queue = new WorkQueue({
      name: 'test',
      clock,
      backoff: { baseMs: 5, maxMs: 20 },
      handler: async () => {
        attempts.push(clock.now());
        if (failuresLeft-- > 0) throw new Error('boom');
      },
      onError: (_key, _error, retryIn) => errors.push(retryIn),
    });
    queue.start();
    const start = clock.now();
    queue.add('k');
    await clock.advance(100);
    expect(attempts.map((at) => at - start)).toEqual([0, 5, 15, 35, 55]);
    expect(errors).toEqual([5, 10, 20, 20]);
    expect(queue.failures('k')).toBe(0);

    failuresLeft = 1;
    queue.add('k');
    await clock.advance(100);
    // After the success the back-off starts over at the base delay.
    expect(errors.at(-1)).toBe(5);
  });

  it('requeues after the interval a successful run asks for', async () => {
    const clock = new ManualClock();
    const runs: number[] = [];
    const queue = new WorkQueue({
      name: 'test',
      clock,
      handler: async () => {
        runs.push(clock.now());
        return runs.length < 3 ? { requeueAfterMs: 1_000 } : undefined;
      },
    });
    queue.start();
    const start = clock.now();
    queue.add('k');
    await clock.advance(10_000);
    expect(runs.map((at) => at - start)).toEqual([0, 1_000, 2_000]);
  });

  it('keeps the earliest of several addAfter schedules', async () => {
    const clock = new ManualClock();
    const runs: number[] = [];
    const queue = new WorkQueue({
      name: 'test',
      clock,
      handler: async () => {
        runs.push(clock.now());
      },
    });
    queue.start();
    const start = clock.now();
    queue.addAfter('k', 5_000);
    queue.addAfter('k', 2_000);
    queue.addAfter('k', 8_000);
    expect(queue.scheduledAt('k')).toBe(start + 2_000);
    await clock.advance(10_000);
    expect(runs.map((at) => at - start)).toEqual([2_000]);
  });

  it('drains queued work on a draining shutdown and ignores later adds', async () => {
    const { runs, handler } = controlledHandler();
    const queue = new WorkQueue({ name: 'test', clock: new ManualClock(), handler });
    queue.start();
    queue.add('a');
    queue.add('b');
    queue.addAfter('c', 1_000);
    await settle();
    let finished = false;
    const shutdown = queue.shutdown({ drain: true }).then(() => (finished = true));
    queue.add('d');
    runs[0]!.done.resolve();
    await settle();
    expect(runs.map((run) => run.key)).toEqual(['a', 'b']);
    expect(finished).toBe(false);
    runs[1]!.done.resolve();
    await shutdown;
    expect(runs.map((run) => run.key)).toEqual(['a', 'b']);
  });

  it('on a stopping shutdown starts nothing new and aborts in-flight handlers', async () => {
    const { runs, handler } = controlledHandler();
    const queue = new WorkQueue({ name: 'test', clock: new ManualClock(), handler });
    queue.start();
    queue.add('a');
    queue.add('b');
    await settle();
    const shutdown = queue.shutdown({ drain: false });
    expect(runs[0]!.signal.aborted).toBe(true);
    runs[0]!.done.reject(new Error('aborted'));
    await shutdown;
    expect(runs.map((run) => run.key)).toEqual(['a']);
  });

  it('rejects a worker count that is not a positive integer', () => {
    expect(() => new WorkQueue({ name: 'q', workers: 0, handler: async () => {} })).toThrow(
      /workers must be a positive integer/,
    );
  });

  it('reports depth, adds, retries and in-flight work through the metrics', async () => {
    const clock = new ManualClock();
    const metrics = createMetrics({ version: 't', meshProvider: 'none', processMetrics: false });
    const { runs, handler } = controlledHandler();
    const queue = new WorkQueue({ name: 'canary', clock, handler, metrics: metrics.workQueue });
    queue.add('a');
    queue.add('a');
    queue.add('b');
    expect(await value(metrics.registry, 'fledge_workqueue_depth', { name: 'canary' })).toBe(2);
    expect(await value(metrics.registry, 'fledge_workqueue_adds_total', { name: 'canary' })).toBe(3);
    queue.start();
    await settle();
    await clock.advance(3_000);
    expect(
      await value(metrics.registry, 'fledge_workqueue_unfinished_work_seconds', { name: 'canary' }),
    ).toBe(3);
    expect(
      await value(metrics.registry, 'fledge_workqueue_longest_running_processor_seconds', { name: 'canary' }),
    ).toBe(3);
    runs[0]!.done.reject(new Error('boom'));
    await settle();
    expect(await value(metrics.registry, 'fledge_workqueue_retries_total', { name: 'canary' })).toBe(1);
    expect(
      await value(metrics.registry, 'fledge_workqueue_work_duration_seconds_count', { name: 'canary' }),
    ).toBe(1);
  });

  it('exports its counters at 0 before anything happened', async () => {
    const metrics = createMetrics({ version: 't', meshProvider: 'none', processMetrics: false });
    new WorkQueue({ name: 'canary', handler: async () => {}, metrics: metrics.workQueue });
    expect(await value(metrics.registry, 'fledge_workqueue_adds_total', { name: 'canary' })).toBe(0);
    expect(await value(metrics.registry, 'fledge_workqueue_retries_total', { name: 'canary' })).toBe(0);
    expect(await value(metrics.registry, 'fledge_workqueue_depth', { name: 'canary' })).toBe(0);
  });

  it('counts reconciles by result and times them', async () => {
    const clock = new ManualClock();
    const metrics = createMetrics({ version: 't', meshProvider: 'none', processMetrics: false });
    const outcomes: (WorkResult | Error | undefined)[] = [
      undefined,
      { requeueAfterMs: 5 },
      new Error('x'),
      undefined,
    ];
    const handler = instrumentHandler(
      async () => {
        await new Promise<void>((resolve) => clock.setTimer(resolve, 500));
        const outcome = outcomes.shift();
        if (outcome instanceof Error) throw outcome;
        return outcome;
      },
      metrics.reconcile,
      clock,
    );
    const signal = new AbortController().signal;
    for (let i = 0; i < 4; i++) {
      const run = handler('k', signal).catch(() => undefined);
      await clock.advance(500);
      await run;
    }
    const registry = metrics.registry;
    expect(await value(registry, 'fledge_reconcile_total', { result: 'success' })).toBe(2);
    expect(await value(registry, 'fledge_reconcile_total', { result: 'requeue_after' })).toBe(1);
    expect(await value(registry, 'fledge_reconcile_total', { result: 'error' })).toBe(1);
    expect(await value(registry, 'fledge_reconcile_errors_total', {})).toBe(1);
    expect(await value(registry, 'fledge_reconcile_time_seconds_sum', {})).toBe(2);
  });

  it('property: every key runs again after its last add, and never concurrently', async () => {
    type Op =
      | { kind: 'add'; key: string }
      | { kind: 'addAfter'; key: string; ms: number }
      | { kind: 'tick'; ms: number };
    const keyArb = fc.constantFrom('a', 'b', 'c', 'd');
    const opArb: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant('add' as const), key: keyArb }),
      fc.record({ kind: fc.constant('addAfter' as const), key: keyArb, ms: fc.integer({ min: 1, max: 50 }) }),
      fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 30 }) }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(opArb, { maxLength: 40 }),
        fc.integer({ min: 1, max: 3 }),
        fc.array(fc.boolean(), { maxLength: 60 }),
        async (ops, workers, failPattern) => {
          const clock = new ManualClock();
          const running = new Set<string>();
          let concurrent = false;
          let calls = 0;
          /** Time of each key's last add/addAfter call, and time its last run started. */
          const lastAdd = new Map<string, number>();
          const lastStart = new Map<string, number>();
          const queue = new WorkQueue({
            name: 'prop',
            workers,
            clock,
            backoff: { baseMs: 1, maxMs: 8 },
            handler: async (key) => {
              if (running.has(key)) concurrent = true;
              running.add(key);
              lastStart.set(key, clock.now());
              const fail = failPattern[calls++ % Math.max(1, failPattern.length)] ?? false;
              await new Promise<void>((resolve) => clock.setTimer(resolve, 3));
              running.delete(key);
              // Fail at most a bounded number of times so retries settle.
              if (fail && calls < 60) throw new Error('fail');
            },
          });
          queue.start();
          for (const op of ops) {
            if (op.kind === 'add') {
              lastAdd.set(op.key, clock.now());
              queue.add(op.key);
            } else if (op.kind === 'addAfter') {
              lastAdd.set(op.key, clock.now());
              queue.addAfter(op.key, op.ms);
            } else {
              await clock.advance(op.ms);
            }
          }
          await clock.advance(10_000);
          expect(concurrent).toBe(false);
          for (const [key, addedAt] of lastAdd) {
            expect(lastStart.get(key)).toBeGreaterThanOrEqual(addedAt);
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});

async function value(
  registry: Registry,
  name: string,
  labels: Record<string, string>,
): Promise<number | undefined> {
  const metrics = await registry.getMetricsAsJSON();
  for (const metric of metrics) {
    for (const sample of metric.values as {
      metricName?: string;
      labels: Record<string, unknown>;
      value: number;
    }[]) {
      const sampleName = sample.metricName ?? metric.name;
      if (sampleName !== name) continue;
      if (Object.entries(labels).every(([label, expected]) => sample.labels[label] === expected))
        return sample.value;
    }
  }
  return undefined;
}
