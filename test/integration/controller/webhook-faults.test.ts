import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { CanaryStatus } from '../../../src/api/index.ts';
import { imageOf, inPhase, waitForCanary } from '../../harness/canary.ts';
import { createTestNamespace, integrationEnv } from '../../harness/env.ts';
import { startOperatorProcess, type OperatorProcess } from '../../harness/operator.ts';
import { apply, canary, deployment, setImage } from './fixtures.ts';
import { canaryEvents, recordStatusHistory } from './history.ts';
import { startHookServer, type HookAnswer, type HookServer } from './hook-server.ts';

// A rollout webhook that hangs, answers 500, answers 429 with Retry-After, or answers with a
// 10 MB body: each tick it spoils is a failed check, nothing is promoted meanwhile, and once
// it answers again the run goes on by itself and promotes.

const faults: Record<string, HookAnswer> = {
  hangs: { status: 200, body: 'late', delayMs: 8_000 },
  'answers 500': { status: 500, body: 'internal error' },
  'answers 429 with Retry-After': { status: 429, body: 'slow down', headers: { 'Retry-After': '1' } },
  'answers 500 with a 10 MB body': { status: 500, body: 'x'.repeat(10 * 1024 * 1024) },
};

describe('a rollout webhook that fails in every way', () => {
  const { kubeconfigPath } = integrationEnv();
  let namespace: string;
  let operator: OperatorProcess;
  let hooks: HookServer;

  beforeAll(async () => {
    namespace = await createTestNamespace('webhook-faults');
    hooks = await startHookServer();
    operator = await startOperatorProcess({ kubeconfigPath, namespace });
  }, 60_000);
  afterAll(async () => {
    await operator?.stop();
    await hooks?.close();
  });

  it('holds the run with failed checks, promotes nothing, and finishes once it answers', async () => {
    await apply(
      kubeconfigPath,
      deployment(namespace, 'faulty', 'example/faulty:1'),
      canary(namespace, 'faulty', {
        analysis: {
          interval: '10s',
          threshold: 20,
          iterations: 2,
          webhooks: [
            { name: 'check', type: 'rollout', url: `${hooks.base}/check`, timeout: '3s', retries: 1 },
          ],
        },
      }),
    );
    await waitForCanary(kubeconfigPath, namespace, 'faulty', inPhase('Initialized'), { what: 'initialised' });
    const history = recordStatusHistory(kubeconfigPath, namespace, 'faulty');
    await history.started();

    let failedChecks = 0;
    let held: number | undefined;
    for (const [name, answer] of Object.entries(faults)) {
      hooks.answerWith(() => answer);
      if (failedChecks === 0) await setImage(kubeconfigPath, namespace, 'faulty', 'example/faulty:2');
      const before = failedChecks;
      // Two ticks spoilt by this fault.
      const { status } = await waitForCanary(
        kubeconfigPath,
        namespace,
        'faulty',
        (s: CanaryStatus) => (s.failedChecks ?? 0) >= before + 2,
        { what: `two failed checks while the webhook ${name}`, timeoutMs: 90_000 },
      );
      failedChecks = status.failedChecks ?? 0;
      // Still at the first stage: no spoilt tick moved the run on.
      held ??= status.iterations ?? 0;
      expect({ fault: name, phase: status.phase, iterations: status.iterations ?? 0 }).toEqual({
        fault: name,
        phase: 'Progressing',
        iterations: held,
      });
      expect(operator.exited()).toBe(false);
    }
    const recoveredAt = hooks.calls.length;
    hooks.answerWith(() => ({ status: 200, body: 'ok' }));

    const { status } = await waitForCanary(
      kubeconfigPath,
      namespace,
      'faulty',
      inPhase('Succeeded', 'Failed'),
      {
        what: 'the run to finish by itself',
      },
    );
    const versions = await history.stop();
    expect(status.phase).toBe('Succeeded');
    expect(await imageOf(kubeconfigPath, namespace, 'faulty-primary')).toBe('example/faulty:2');
    expect(hooks.calls.length).toBeGreaterThan(recoveredAt);
    // Promotion began only after the last failed check: none was judged once it started.
    const promoting = versions.filter(
      (v) => v.status.phase === 'Promoting' || v.status.phase === 'Succeeded',
    );
    expect(promoting.length).toBeGreaterThan(0);
    expect(new Set(promoting.map((v) => v.status.failedChecks))).toEqual(new Set([status.failedChecks]));
    expect(status.failedChecks).toBe(failedChecks);
    // Each failure was told in a bounded line, never the 10 MB body.
    const failed = (await canaryEvents(kubeconfigPath, namespace, 'faulty')).filter(
      (e) => e.reason === 'CheckFailed',
    );
    expect(failed.length).toBeGreaterThan(0);
    for (const event of failed) expect(Buffer.byteLength(event.note)).toBeLessThanOrEqual(1024);
  }, 420_000);
});
