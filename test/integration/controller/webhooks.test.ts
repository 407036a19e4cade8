import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { webhookChecksum } from '../../../src/hooks/index.ts';
import { canaryStatus, imageOf, inPhase, waitForCanary } from '../../harness/canary.ts';
import { kubectl } from '../../harness/control-plane.ts';
import { createTestNamespace, integrationEnv } from '../../harness/env.ts';
import { startOperatorProcess, type OperatorProcess } from '../../harness/operator.ts';
import { waitFor } from '../../harness/processes.ts';
import { startFakeGatewayController, type FakeGatewayController } from '../../harness/third-party.ts';
import { apply, canary, deployment, setImage } from './fixtures.ts';
import { startHookServer, type HookServer } from './hook-server.ts';
import { field, routeWeights } from './sampling.ts';

/** Answers each path with the status set for it (200 until told otherwise). */
function routedAnswers(hooks: HookServer) {
  const statuses = new Map<string, number>();
  hooks.answerWith((call) => {
    const status = statuses.get(call.url) ?? 200;
    return { status, body: status <= 202 ? 'ok' : `refused by the test receiver (${status})` };
  });
  return {
    url: (path: string) => `${hooks.base}${path}`,
    answer: (path: string, status: number) => statuses.set(path, status),
    callsTo: (path: string) => hooks.calls.filter((call) => call.url === path),
  };
}

describe('webhooks', () => {
  const { kubeconfigPath } = integrationEnv();
  let namespace: string;
  let operator: OperatorProcess;
  let gateway: FakeGatewayController;
  let hooks: HookServer;
  let receiver: ReturnType<typeof routedAnswers>;

  beforeAll(async () => {
    namespace = await createTestNamespace('webhooks');
    hooks = await startHookServer();
    receiver = routedAnswers(hooks);
    gateway = startFakeGatewayController(kubeconfigPath, namespace);
    operator = await startOperatorProcess({ kubeconfigPath, namespace });
  });
  afterAll(async () => {
    await operator?.stop();
    await gateway?.stop();
    await hooks?.close();
  });

  it('rolls back when the rollout webhook fails: traffic to the primary, target at zero, old image kept', async () => {
    receiver.answer('/failing/rollout', 500);
    await apply(
      kubeconfigPath,
      deployment(namespace, 'failing', 'example/failing:1'),
      canary(namespace, 'failing', {
        provider: 'gatewayapi:v1',
        service: { port: 9898, gatewayRefs: [{ name: 'public', namespace: 'gateways' }] },
        analysis: {
          interval: '10s',
          threshold: 1,
          maxWeight: 50,
          stepWeight: 25,
          webhooks: [{ name: 'smoke', type: 'rollout', url: receiver.url('/failing/rollout') }],
        },
      }),
    );
    await waitForCanary(kubeconfigPath, namespace, 'failing', inPhase('Initialized'), {
      what: 'initialisation',
    });

    await setImage(kubeconfigPath, namespace, 'failing', 'example/failing:2');
    const { status, path } = await waitForCanary(
      kubeconfigPath,
      namespace,
      'failing',
      inPhase('Succeeded', 'Failed'),
    );
    expect(status.phase).toBe('Failed');
    // The first stage took traffic (the rollout hook only runs once the canary has some), then it all went back.
    expect(path).toEqual(expect.arrayContaining(['Progressing:25']));
    expect(path.at(-1)).toBe('Failed:0');
    expect(status.failedChecks).toBe(1);
    expect(receiver.callsTo('/failing/rollout').length).toBeGreaterThanOrEqual(1);

    await waitFor('all traffic back on the primary and the target at zero', async () => {
      const weights = await routeWeights(kubeconfigPath, namespace, 'failing');
      const replicas = await field(kubeconfigPath, namespace, 'deploy', 'failing', '{.spec.replicas}');
      return weights === 'failing-primary=100 failing-canary=0' && replicas === '0';
    });
    expect(await imageOf(kubeconfigPath, namespace, 'failing-primary')).toBe('example/failing:1');

    const warnings = await kubectl(kubeconfigPath, [
      '-n',
      namespace,
      'get',
      'events.events.k8s.io',
      '-o',
      'jsonpath={range .items[?(@.type=="Warning")]}{.regarding.name}|{.reason}|{.note}{"\\n"}{end}',
    ]);
    expect(warnings.split('\n')).toEqual(
      expect.arrayContaining([expect.stringMatching(/^failing\|RolledBack\|.*webhook smoke/)]),
    );
  }, 180_000);

  it('holds at a closed confirm-rollout gate until it opens; passing gates get Flagger’s payload', async () => {
    receiver.answer('/gates/confirm-rollout', 403);
    const metadata = { suite: 'webhooks', owner: 'fledge' };
    await apply(
      kubeconfigPath,
      deployment(namespace, 'gated', 'example/gated:1'),
      canary(namespace, 'gated', {
        provider: 'kubernetes',
        analysis: {
          interval: '10s',
          threshold: 1,
          iterations: 1,
          webhooks: [
            { name: 'approval', type: 'confirm-rollout', url: receiver.url('/gates/confirm-rollout') },
            { name: 'prepare', type: 'pre-rollout', url: receiver.url('/gates/pre-rollout'), metadata },
            {
              name: 'sign-off',
              type: 'confirm-promotion',
              url: receiver.url('/gates/confirm-promotion'),
              metadata,
            },
          ],
        },
      }),
    );
    await waitForCanary(kubeconfigPath, namespace, 'gated', inPhase('Initialized'), {
      what: 'initialisation',
    });

    await setImage(kubeconfigPath, namespace, 'gated', 'example/gated:2');
    // Refused on at least two intervals: the canary stays in Waiting, its target at zero.
    await waitFor(
      'the closed gate to be asked twice',
      async () => receiver.callsTo('/gates/confirm-rollout').length >= 2,
      60_000,
    );
    const held = await canaryStatus(kubeconfigPath, namespace, 'gated');
    expect(held.phase).toBe('Waiting');
    expect(held.pendingConfirmation).toEqual(expect.objectContaining({ gate: 'confirm-rollout' }));
    expect(await field(kubeconfigPath, namespace, 'deploy', 'gated', '{.spec.replicas}')).toBe('0');
    expect(receiver.callsTo('/gates/pre-rollout')).toEqual([]);

    receiver.answer('/gates/confirm-rollout', 200);
    const { status, path } = await waitForCanary(
      kubeconfigPath,
      namespace,
      'gated',
      inPhase('Succeeded', 'Failed'),
    );
    expect(status.phase).toBe('Succeeded');
    expect(path).toEqual(expect.arrayContaining(['Waiting:0', 'Progressing:0', 'Succeeded:0']));
    expect(await imageOf(kubeconfigPath, namespace, 'gated-primary')).toBe('example/gated:2');

    const checksum = webhookChecksum(status);
    const payload = (phase: string, hookMetadata: Record<string, string>) => ({
      name: 'gated',
      namespace,
      phase,
      checksum,
      metadata: hookMetadata,
    });
    for (const call of receiver.callsTo('/gates/confirm-rollout'))
      expect(call.body).toEqual(payload('Waiting', {}));
    const preRollout = receiver.callsTo('/gates/pre-rollout');
    expect(preRollout.length).toBeGreaterThanOrEqual(1);
    for (const call of preRollout) expect(call.body).toEqual(payload('Progressing', metadata));
    const confirmPromotion = receiver.callsTo('/gates/confirm-promotion');
    expect(confirmPromotion.length).toBeGreaterThanOrEqual(1);
    for (const call of confirmPromotion) expect(call.body).toEqual(payload('Progressing', metadata));
  }, 180_000);
});
