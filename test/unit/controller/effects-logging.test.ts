import { describe, expect, it } from '@jest/globals';
import { Writable } from 'node:stream';
import type { Canary, NormalizedCanarySpec, NormalizedWebhook } from '../../../src/api/index.ts';
import { Effects, type EffectsDeps } from '../../../src/controller/effects.ts';
import type { HookResult } from '../../../src/engine/index.ts';
import type { Task } from '../../../src/hooks/index.ts';
import { createLogger } from '../../../src/telemetry/logger.ts';

// Hook results are logged from the background executor, outside any reconcile's
// logger: the line must still say which canary it is about.

function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return { log: createLogger('info', sink), lines };
}

const canary = {
  apiVersion: 'fledge.dev/v1beta1',
  kind: 'Canary',
  metadata: { name: 'web', namespace: 'shop', uid: 'b6f1a7e4-3d1c-4c55-9a43-7c2e0f0e9d21' },
  spec: { targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' } },
  status: { phase: 'Progressing' },
} as unknown as Canary;

const webhook: NormalizedWebhook = {
  name: 'smoke',
  type: 'rollout',
  url: 'http://hooks.example/check?token=hunter22',
  timeout: '5s',
  retries: 0,
  disableTLS: false,
  muteAlert: false,
};

describe('Effects logging', () => {
  it('names the canary and namespace on the line that reports a webhook answer', async () => {
    const { log, lines } = capturingLogger();
    const tasks: Promise<HookResult>[] = [];
    const deps = {
      log,
      workloads: { forCanary: () => ({}) },
      observer: {
        requestHook: (_key: string, _id: string, task: Task<HookResult>) =>
          tasks.push(task(new AbortController().signal)),
      },
      webhooks: {
        call: async (): Promise<HookResult> => ({
          name: 'smoke',
          type: 'rollout',
          ok: false,
          status: 500,
          message: 'HTTP 500',
        }),
      },
    } as unknown as EffectsDeps;
    await new Effects(deps).apply('shop/web', canary, {} as NormalizedCanarySpec, {
      kind: 'runHook',
      id: 'uid/r1/t1/hook/0-smoke',
      webhook,
      phase: 'Progressing',
    });
    await Promise.all(tasks);
    const answered = lines.find((line) => line.msg === 'webhook answered');
    expect(answered).toMatchObject({
      canary: 'web',
      namespace: 'shop',
      hook: 'smoke',
      ok: false,
      status: 500,
    });
    expect(JSON.stringify(lines)).not.toContain('hunter22');
  });
});
