import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { canaryStatus, inPhase, waitForCanary } from '../../harness/canary.ts';
import { createTestNamespace, integrationEnv } from '../../harness/env.ts';
import { startOperatorProcess, type OperatorProcess } from '../../harness/operator.ts';
import { waitFor } from '../../harness/processes.ts';
import { startPrometheusProxy, type PrometheusProxy } from '../../harness/prometheus-proxy.ts';
import { startFakeGatewayController, type FakeGatewayController } from '../../harness/third-party.ts';
import { loadKubeConfig } from '../../../src/kube/client.ts';
import { FaultProxy } from '../runtime/fault-proxy.ts';
import { apply, canary, deployment, setImage } from './fixtures.ts';
import {
  recordStatusHistory,
  ticksJudgedTwice,
  weightedRunViolations,
  type StatusHistory,
} from './history.ts';
import { startHookServer, unexplainedRepeats, type HookCall, type HookServer } from './hook-server.ts';

// Each hook call and metric query of an analysis happens once per tick: the
// reconcile that follows Fledge's own status patch must not decide again on the
// cached copy from before it. Hooks are counted by their Idempotency-Key (the
// request id: uid, run, tick, hook), metric queries by a proxy in front of the
// real Prometheus.

const plan = { maxWeight: 30, stepWeight: 10, intervalMs: 10_000 };
const query = 'vector(1)';

function spec(hooks: HookServer, template: string) {
  return {
    provider: 'gatewayapi:v1',
    service: { port: 9898, gatewayRefs: [{ name: 'public', namespace: 'gateways' }] },
    analysis: {
      interval: '10s',
      threshold: 2,
      maxWeight: plan.maxWeight,
      stepWeight: plan.stepWeight,
      webhooks: [
        { name: 'migrate', type: 'pre-rollout', url: `${hooks.base}/pre`, timeout: '5s' },
        { name: 'smoke', type: 'rollout', url: `${hooks.base}/rollout`, timeout: '5s' },
        // Answers a moment after the others, so a tick's results settle apart (as real hooks do).
        { name: 'load', type: 'rollout', url: `${hooks.base}/rollout-slow`, timeout: '5s' },
        { name: 'ticket', type: 'post-rollout', url: `${hooks.base}/post`, timeout: '5s' },
      ],
      metrics: [{ name: 'always-one', templateRef: { name: template }, thresholdRange: { max: 100 } }],
    },
  };
}

function template(namespace: string, name: string, address: string): object {
  return {
    apiVersion: 'fledge.dev/v1beta1',
    kind: 'MetricTemplate',
    metadata: { name, namespace },
    spec: { provider: { type: 'prometheus', address }, query },
  };
}

const pathOf = (calls: HookCall[], path: string) => calls.filter((call) => call.url === path);

describe('exactly once per tick', () => {
  const { kubeconfigPath, prometheusUrl } = integrationEnv();
  let namespace: string;
  let gateway: FakeGatewayController;
  let hooks: HookServer;
  let prometheus: PrometheusProxy;
  let operator: OperatorProcess | undefined;

  beforeAll(async () => {
    namespace = await createTestNamespace('exactly-once');
    gateway = startFakeGatewayController(kubeconfigPath, namespace);
    hooks = await startHookServer();
    hooks.answerWith((call) => ({
      status: 200,
      body: 'ok',
      ...(call.url === '/rollout-slow' ? { delayMs: 150 } : {}),
    }));
    prometheus = await startPrometheusProxy(prometheusUrl);
  });
  afterEach(async () => {
    await operator?.stop();
    operator = undefined;
  });
  afterAll(async () => {
    await gateway?.stop();
    await hooks?.close();
    await prometheus?.close();
  });

  /** Applies the app, waits for initialisation, then releases a new image with its status history recorded. */
  async function release(name: string): Promise<{ queriesBefore: number; history: StatusHistory }> {
    await apply(
      kubeconfigPath,
      template(namespace, name, prometheus.url),
      deployment(namespace, name, 'example/app:1'),
      canary(namespace, name, spec(hooks, name)),
    );
    await waitForCanary(kubeconfigPath, namespace, name, inPhase('Initialized'), {
      what: `${name} initialised`,
    });
    const history = recordStatusHistory(kubeconfigPath, namespace, name);
    await history.started();
    const queriesBefore = prometheus.queries.length;
    await setImage(kubeconfigPath, namespace, name, 'example/app:2');
    return { queriesBefore, history };
  }

  /**
   * Waits for the run to succeed within the plan, no tick judged twice and no hook called twice
   * for a tick unless one of `kills` explains it; returns its hook calls and how many were repeats.
   */
  async function succeeded(name: string, history: StatusHistory, kills: number[] = []) {
    const done = await waitForCanary(kubeconfigPath, namespace, name, inPhase('Succeeded', 'Failed'), {
      what: `${name} to finish`,
      timeoutMs: 180_000,
    });
    expect(done.status.phase).toBe('Succeeded');
    // The post-rollout hook is sent after the status that ends the run is written.
    const ofRun = () => hooks.calls.filter((call) => call.body.name === name);
    await waitFor(`${name}'s post-rollout hook`, async () => pathOf(ofRun(), '/post').length > 0, 30_000);
    const versions = await history.stop();
    expect(weightedRunViolations(versions, plan)).toEqual([]);
    expect(ticksJudgedTwice(versions)).toEqual([]);
    const calls = ofRun();
    expect(calls.every((call) => call.key !== undefined)).toBe(true);
    expect(unexplainedRepeats(calls, kills)).toEqual([]);
    expect(pathOf(calls, '/pre')).toHaveLength(1);
    expect(pathOf(calls, '/post')).toHaveLength(1);
    return { calls, repeats: calls.length - new Set(calls.map((call) => call.key)).size };
  }

  it('calls every hook and sends every query once per tick over a whole run', async () => {
    operator = await startOperatorProcess({ kubeconfigPath, namespace, name: 'uninterrupted' });
    const { queriesBefore, history } = await release('steady');
    const { calls, repeats } = await succeeded('steady', history);
    expect(repeats).toBe(0);
    // Rollout hooks and metrics are asked by the same ticks: one query per rollout call.
    const rolloutTicks = pathOf(calls, '/rollout').length;
    expect(pathOf(calls, '/rollout-slow')).toHaveLength(rolloutTicks);
    expect(rolloutTicks).toBeGreaterThanOrEqual(plan.maxWeight / plan.stepWeight);
    const queries = prometheus.queries.slice(queriesBefore).filter((q) => q.query === query);
    expect(queries).toHaveLength(rolloutTicks);
  }, 240_000);

  it('repeats a call only for a tick whose result a SIGKILL kept from being recorded', async () => {
    operator = await startOperatorProcess({ kubeconfigPath, namespace, name: 'killed-0' });
    const { queriesBefore, history } = await release('killed');
    const kills: number[] = [];
    // Right after an advance is where a second decision on the previous tick would happen.
    for (const weight of [10, 20]) {
      await waitFor(
        `killed at ${weight}%`,
        async () => ((await canaryStatus(kubeconfigPath, namespace, 'killed')).canaryWeight ?? 0) >= weight,
        120_000,
      );
      await operator.kill();
      kills.push(Date.now());
      operator = await startOperatorProcess({ kubeconfigPath, namespace, name: `killed-${kills.length}` });
    }
    // A repeated call straddles a kill: it ran before the crash and its tick was not recorded yet.
    const { calls, repeats } = await succeeded('killed', history, kills);
    expect(repeats).toBeLessThanOrEqual(kills.length);
    const rolloutTicks = new Set(pathOf(calls, '/rollout').map((call) => call.key)).size;
    const queries = prometheus.queries.slice(queriesBefore).filter((q) => q.query === query);
    expect(queries.length).toBeGreaterThanOrEqual(rolloutTicks);
    expect(queries.length - rolloutTicks).toBeLessThanOrEqual(kills.length);
    process.stderr.write(
      `[exactly-once] ${kills.length} kills: ${repeats} hook calls repeated, ` +
        `${queries.length - rolloutTicks} queries repeated, ${rolloutTicks} analysed ticks\n`,
    );
  }, 300_000);

  it('waits out a 30 s apiserver outage mid-run: no crash, no tick judged twice, no hook called twice', async () => {
    // The operator reaches the apiserver through a proxy the test can cut; everything else does not.
    const kubeConfig = loadKubeConfig({ kubeconfigPath });
    const proxy = await FaultProxy.start(kubeConfig.getCurrentCluster()!.server);
    const throughProxy = join(await mkdtemp(join(tmpdir(), 'fledge-outage-')), 'kubeconfig');
    await writeFile(throughProxy, proxy.kubeconfigFileThrough(kubeconfigPath));
    try {
      operator = await startOperatorProcess({ kubeconfigPath: throughProxy, namespace, name: 'cut-off' });
      const { history } = await release('cut-off');
      await waitFor(
        'cut off at 10%',
        async () => ((await canaryStatus(kubeconfigPath, namespace, 'cut-off')).canaryWeight ?? 0) >= 10,
        120_000,
      );
      proxy.setMode('refuse');
      const attemptsBefore = proxy.accepted;
      // The outage itself is the fault under test: it lasts 30 s, whatever the operator does.
      await new Promise((resume) => setTimeout(resume, 30_000));
      const attempts = proxy.accepted - attemptsBefore;
      proxy.setMode('forward');
      // It kept trying, and it is still the same process.
      expect(attempts).toBeGreaterThan(0);
      expect(operator.exited()).toBe(false);
      const { repeats } = await succeeded('cut-off', history);
      expect(repeats).toBe(0);
      expect(operator.exited()).toBe(false);
    } finally {
      await proxy.close();
      await rm(dirname(throughProxy), { recursive: true, force: true });
    }
  }, 300_000);
});
