import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { canaryStatus, imageOf, inPhase, waitForCanary } from '../../harness/canary.ts';
import { kubectl } from '../../harness/control-plane.ts';
import { createTestNamespace, integrationEnv } from '../../harness/env.ts';
import { startOperatorProcess, type OperatorProcess } from '../../harness/operator.ts';
import { waitFor } from '../../harness/processes.ts';
import { startFakeGatewayController, type FakeGatewayController } from '../../harness/third-party.ts';
import { apply, canary, deployment, setImage } from './fixtures.ts';
import { phasePath, recordStatusHistory, weightedRunViolations, type StatusHistory } from './history.ts';
import { startHookServer, type HookServer } from './hook-server.ts';

const HTTPROUTES = 'httproutes.gateway.networking.k8s.io';
const plan = { maxWeight: 50, stepWeight: 25, intervalMs: 10_000 };

async function routeWeights(kubeconfigPath: string, namespace: string, name: string): Promise<string> {
  const out = await kubectl(kubeconfigPath, [
    'get',
    HTTPROUTES,
    name,
    '-n',
    namespace,
    '-o',
    'jsonpath={range .spec.rules[*]}{range .backendRefs[*]}{.name}={.weight} {end}{end}',
  ]);
  return out.trim();
}

async function replicasOf(kubeconfigPath: string, namespace: string, name: string): Promise<string> {
  return kubectl(kubeconfigPath, ['-n', namespace, 'get', 'deploy', name, '-o', 'jsonpath={.spec.replicas}']);
}

describe('operator killed (SIGKILL) mid-analysis and restarted', () => {
  const { kubeconfigPath } = integrationEnv();
  let namespace: string;
  let gateway: FakeGatewayController;
  let hooks: HookServer;
  let operator: OperatorProcess | undefined;

  beforeAll(async () => {
    namespace = await createTestNamespace('restart');
    gateway = startFakeGatewayController(kubeconfigPath, namespace);
    hooks = await startHookServer();
  });
  afterAll(async () => {
    await operator?.stop();
    await gateway?.stop();
    await hooks?.close();
  });

  it('finishes each run with its own outcome: promotes the healthy one, rolls back the one whose hook starts failing', async () => {
    // One operator, two canaries analysed side by side: "good" keeps passing its rollout
    // hook, "bad" starts failing it while the operator is down.
    let badFails = false;
    hooks.answerWith((call) =>
      call.url.startsWith('/bad') && badFails
        ? { status: 500, body: 'check failed' }
        : { status: 200, body: 'ok' },
    );
    const spec = (hook: string) => ({
      provider: 'gatewayapi:v1',
      service: { port: 9898, gatewayRefs: [{ name: 'public', namespace: 'gateways' }] },
      analysis: {
        interval: '10s',
        threshold: 2,
        maxWeight: plan.maxWeight,
        stepWeight: plan.stepWeight,
        webhooks: [{ name: 'check', type: 'rollout', url: `${hooks.base}/${hook}`, timeout: '5s' }],
      },
    });
    operator = await startOperatorProcess({ kubeconfigPath, namespace, name: 'before-kill' });
    await apply(
      kubeconfigPath,
      deployment(namespace, 'good', 'example/good:1'),
      deployment(namespace, 'bad', 'example/bad:1'),
      canary(namespace, 'good', spec('good')),
      canary(namespace, 'bad', spec('bad')),
    );
    for (const name of ['good', 'bad']) {
      await waitForCanary(kubeconfigPath, namespace, name, inPhase('Initialized'), {
        what: `${name} initialised`,
      });
    }

    const histories: Record<string, StatusHistory> = {
      good: recordStatusHistory(kubeconfigPath, namespace, 'good'),
      bad: recordStatusHistory(kubeconfigPath, namespace, 'bad'),
    };
    await Promise.all(Object.values(histories).map((history) => history.started()));
    await setImage(kubeconfigPath, namespace, 'good', 'example/good:2');
    await setImage(kubeconfigPath, namespace, 'bad', 'example/bad:2');

    // Mid-analysis: both canaries carry traffic and neither run is decided.
    await waitFor(
      'both canaries to step up their traffic',
      async () => {
        for (const name of ['good', 'bad']) {
          const status = await canaryStatus(kubeconfigPath, namespace, name);
          if (status.phase !== 'Progressing' || (status.canaryWeight ?? 0) < plan.stepWeight) return false;
        }
        return true;
      },
      90_000,
    );
    await operator.kill();
    const killedAt = Date.now();
    badFails = true;
    const atKill = {
      good: await canaryStatus(kubeconfigPath, namespace, 'good'),
      bad: await canaryStatus(kubeconfigPath, namespace, 'bad'),
    };
    expect(atKill.good.phase).toBe('Progressing');
    expect(atKill.bad.phase).toBe('Progressing');
    // Under analysis the canaries run pods: they were scaled up from zero for the run.
    expect(await replicasOf(kubeconfigPath, namespace, 'good')).toBe('2');
    expect(await replicasOf(kubeconfigPath, namespace, 'bad')).toBe('2');

    // The operator is down for a moment; nothing moves in the meantime.
    await new Promise((resume) => setTimeout(resume, 3_000));
    expect((await canaryStatus(kubeconfigPath, namespace, 'good')).canaryWeight).toBe(
      atKill.good.canaryWeight,
    );
    operator = await startOperatorProcess({ kubeconfigPath, namespace, name: 'after-restart' });

    const good = await waitForCanary(kubeconfigPath, namespace, 'good', inPhase('Succeeded', 'Failed'), {
      what: 'good to finish',
    });
    const bad = await waitForCanary(kubeconfigPath, namespace, 'bad', inPhase('Succeeded', 'Failed'), {
      what: 'bad to finish',
    });
    const goodHistory = await histories.good!.stop();
    const badHistory = await histories.bad!.stop();

    // The promoted run: every step of the plan, none twice, never past maxWeight.
    expect(good.status.phase).toBe('Succeeded');
    expect(weightedRunViolations(goodHistory, plan)).toEqual([]);
    const goodPath = phasePath(goodHistory);
    expect(goodPath).toEqual(expect.arrayContaining(['Progressing:25', 'Progressing:50', 'Succeeded:0']));
    expect(goodPath.at(-1)).toBe('Succeeded:0');
    expect(await imageOf(kubeconfigPath, namespace, 'good-primary')).toBe('example/good:2');
    expect(await routeWeights(kubeconfigPath, namespace, 'good')).toBe('good-primary=100 good-canary=0');

    // The rolled-back run: the failing hook counted up to the threshold after the restart,
    // never promoted, traffic back on the untouched primary.
    expect(bad.status.phase).toBe('Failed');
    expect(bad.status.failedChecks).toBe(2);
    expect(bad.status.canaryWeight ?? 0).toBe(0);
    expect(weightedRunViolations(badHistory, plan)).toEqual([]);
    const badPath = phasePath(badHistory);
    expect(badPath.some((step) => /^(Promoting|Finalising|Succeeded):/.test(step))).toBe(false);
    expect(badPath.at(-1)).toBe('Failed:0');
    expect(await imageOf(kubeconfigPath, namespace, 'bad-primary')).toBe('example/bad:1');
    expect(await routeWeights(kubeconfigPath, namespace, 'bad')).toBe('bad-primary=100 bad-canary=0');
    const failedCalls = hooks.calls.filter((call) => call.url.startsWith('/bad') && call.at > killedAt);
    expect(failedCalls.length).toBeGreaterThanOrEqual(2);

    // Both canaries scaled to zero once traffic left them.
    for (const name of ['good', 'bad']) {
      await waitFor(`${name} target scaled to zero`, async () => {
        return (await replicasOf(kubeconfigPath, namespace, name)) === '0';
      });
    }
    // The restarted process did the rest of the work.
    const decidedAfter = (await operator.logs()).filter((line) => line.msg === 'decided');
    for (const name of ['good', 'bad']) {
      expect(decidedAfter.some((line) => line.name === name)).toBe(true);
    }
  }, 240_000);
});
