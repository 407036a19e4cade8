import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Agent } from 'node:http';
import { canaryStatus, inPhase, waitForCanary } from '../../harness/canary.ts';
import { kubectl } from '../../harness/control-plane.ts';
import { POD_NETWORK_WAIT_MS, startDataPlane, type DataPlane } from '../../harness/data-plane.ts';
import { createTestNamespace, integrationEnv } from '../../harness/env.ts';
import { get, startLoad, type Load } from '../../harness/load.ts';
import { startLoadTester, type LoadTesterProcess } from '../../harness/loadtester.ts';
import { startOperatorProcess, type OperatorProcess } from '../../harness/operator.ts';
import { waitFor } from '../../harness/processes.ts';
import { startPrometheus, type Prometheus } from '../../harness/prometheus.ts';
import { traefikGateway } from '../../harness/proxy.ts';
import { apply, canary, deployment } from '../controller/fixtures.ts';
import { canaryEvents } from '../controller/history.ts';
import { traefikGatewayQueries } from './queries.ts';
import { appliedCanaryWeight, countsOf, sampleSplit } from './split.ts';

// Real requests through everything Fledge drives: the operator writes an HTTPRoute, Traefik (the
// Gateway API implementation) routes by it, the backends answer as the pods they are, and
// Prometheus scrapes Traefik for the checks. Nothing here is a stand-in.

describe('real traffic: Traefik as the Gateway API implementation', () => {
  const { kubeconfigPath } = integrationEnv();
  let namespace: string;
  let plane: DataPlane;
  let prometheus: Prometheus;
  let operator: OperatorProcess;
  let loadTester: LoadTesterProcess;

  beforeAll(async () => {
    plane = await startDataPlane({ kubeconfigPath });
    prometheus = await startPrometheus({ scrapeConfigs: plane.scrapeConfigs });
    namespace = await createTestNamespace('traffic');
    const template = (name: string, query: string) => ({
      apiVersion: 'fledge.dev/v1beta1',
      kind: 'MetricTemplate',
      metadata: { name, namespace },
      spec: { provider: { type: 'prometheus', address: prometheus.url }, query },
    });
    await apply(
      kubeconfigPath,
      ...traefikGateway(plane.proxy, namespace),
      template('traefik-success-rate', traefikGatewayQueries.successRate),
      template('traefik-duration', traefikGatewayQueries.duration),
    );
    loadTester = await startLoadTester({ kubeconfigPath, gateNamespace: namespace });
    operator = await startOperatorProcess({ kubeconfigPath, namespace });
  }, 180_000 + POD_NETWORK_WAIT_MS);

  afterAll(async () => {
    await operator?.stop();
    await loadTester?.stop();
    await prometheus?.stop();
    await plane?.stop();
  });

  /** Steps of 20 up to 60, every 10 s, each checked on Traefik's metrics. */
  const progressive = (extra: Record<string, unknown> = {}) => ({
    interval: '10s',
    threshold: 2,
    maxWeight: 60,
    stepWeight: 20,
    metrics: [
      {
        name: 'success-rate',
        interval: '15s',
        templateRef: { name: 'traefik-success-rate' },
        thresholdRange: { min: 99 },
      },
      {
        name: 'latency',
        interval: '15s',
        templateRef: { name: 'traefik-duration' },
        thresholdRange: { max: 500 },
      },
    ],
    ...extra,
  });

  /** A Deployment answering as version 1 and its Canary, checked on Traefik's metrics; waits for Initialized. */
  async function release(name: string, analysis: Record<string, unknown> = progressive()): Promise<void> {
    await apply(
      kubeconfigPath,
      deployment(namespace, name, 'example/podinfo:1'),
      canary(namespace, name, {
        provider: 'gatewayapi:v1',
        service: { port: 9898, hosts: [`${name}.test`], gatewayRefs: [{ name: 'traefik', namespace }] },
        analysis,
      }),
    );
    await waitForCanary(kubeconfigPath, namespace, name, inPhase('Initialized'), {
      what: `${name} initialised`,
      timeoutMs: 90_000,
    });
    // Traffic reaches the primary through Traefik before the new revision starts.
    await waitFor(`${name}.test to answer through Traefik`, async () => {
      return (await get(plane.proxy.url, new Agent(), { host: `${name}.test` })) === 200;
    });
  }

  /** Sends `count` requests to `name`.test one by one; returns where the backends counted them. */
  async function sendCounted(name: string, agent: Agent, headers: Record<string, string>, count = 100) {
    const start = countsOf(await plane.backend.counts(), namespace, name);
    for (let i = 0; i < count; i++) await get(plane.proxy.url, agent, { host: `${name}.test`, ...headers });
    const end = countsOf(await plane.backend.counts(), namespace, name);
    const canary = end.canary - start.canary;
    return { canary, primary: end.total - start.total - canary };
  }

  /** Changes the pod template (a new revision), with the given behaviour in its environment. */
  async function roll(name: string, env: Record<string, string>): Promise<void> {
    const pairs = Object.entries(env).map(([k, v]) => `${k}=${v}`);
    await kubectl(kubeconfigPath, ['-n', namespace, 'set', 'env', `deployment/${name}`, ...pairs]);
  }

  /** Runs a release until it ends, under steady load unless the Canary brings its own. */
  async function underLoad(name: string, env: Record<string, string>, ownLoad = true) {
    const load: Load | undefined = ownLoad ? startLoad(plane.proxy.url, { host: `${name}.test` }) : undefined;
    try {
      await roll(name, env);
      return await waitForCanary(kubeconfigPath, namespace, name, inPhase('Succeeded', 'Failed'), {
        timeoutMs: 240_000,
      });
    } finally {
      await load?.stop();
    }
  }

  it('promotes a good release, and at every step the backends see the canary share Fledge set', async () => {
    // The load comes from `fledge loadtester`, called by the Canary's rollout hook as Flagger's would be.
    await release(
      'good',
      progressive({
        webhooks: [
          {
            name: 'load',
            type: 'rollout',
            url: `${loadTester.url}/`,
            metadata: { cmd: `hey -z 5m -q 10 -c 2 -host good.test ${plane.proxy.url}/` },
          },
        ],
      }),
    );
    const sampler = sampleSplit(plane.proxy, plane.backend, namespace, 'good');
    let windows: Awaited<ReturnType<typeof sampler.stop>>;
    let outcome: Awaited<ReturnType<typeof underLoad>>;
    try {
      outcome = await underLoad('good', { VERSION: '2' }, false);
    } finally {
      windows = await sampler.stop();
    }
    expect(outcome.status.phase).toBe('Succeeded');

    const setWeights = [...new Set(outcome.path.map((step) => Number(step.split(':')[1])))];
    expect(setWeights).toEqual(expect.arrayContaining([20, 40, 60]));
    // Per step: the canary's share of what the backends counted while Traefik applied that weight.
    const steps = [20, 40, 60].map((weight) => {
      const window = windows.get(weight) ?? { canary: 0, total: 0 };
      const share = window.total === 0 ? NaN : (100 * window.canary) / window.total;
      return { weight, requests: window.total, share: Math.round(share * 10) / 10 };
    });
    expect(
      steps.map(({ weight, requests, share }) => ({
        weight,
        enough: requests >= 50,
        close: Math.abs(share - weight) <= 5,
      })),
    ).toEqual(steps.map(({ weight }) => ({ weight, enough: true, close: true })));
    // Traefik never applied a weight Fledge did not set.
    expect(setWeights).toEqual(expect.arrayContaining([...windows.keys()]));
  }, 300_000);

  /** Runs a faulty release under load; it must fail on `metric` after `threshold` (2) failed checks. */
  async function rolledBack(name: string, env: Record<string, string>, metric: string) {
    await release(name);
    const outcome = await underLoad(name, { VERSION: '2', ...env });
    expect(outcome.status.phase).toBe('Failed');
    expect(outcome.status.failedChecks).toBe(2);
    // The check that failed is the one the fault shows in, measured on Traefik's metrics.
    const verdicts = Object.fromEntries((outcome.status.metrics ?? []).map((m) => [m.name, m.verdict]));
    expect(verdicts[metric]).toBe('Fail');
    // Traffic goes all back to the primary (Fledge writes the route after the status).
    await waitFor('Traefik to send everything to the primary', async () => {
      return (await appliedCanaryWeight(plane.proxy, namespace, name)) === 0;
    });
    // The canary did answer real requests before it was rolled back.
    return (await plane.backend.counts()).filter((c) => c.namespace === namespace && c.app === name);
  }

  it('rolls back a release answering 10% 500s on the success rate Traefik measured', async () => {
    const counts = await rolledBack('flaky', { ERROR_RATE: '0.1' }, 'success-rate');
    expect(counts.some((c) => c.code === 500 && c.count > 0)).toBe(true);
  }, 300_000);

  it('rolls back a release answering in 800 ms on the latency Traefik measured', async () => {
    const counts = await rolledBack('slow', { LATENCY_MS: '800' }, 'latency');
    expect(counts.some((c) => c.code === 200 && c.count > 0)).toBe(true);
  }, 300_000);

  it('A/B: requests with the header reach only the canary, the others only the primary', async () => {
    await release('ab', {
      interval: '10s',
      threshold: 2,
      iterations: 4,
      // Judged by the header test below, not by metrics: too little traffic for a rate.
      match: [{ headers: { 'x-canary': { exact: 'insider' } } }],
    });
    const agent = new Agent({ keepAlive: true });
    const before = countsOf(await plane.backend.counts(), namespace, 'ab');
    await roll('ab', { VERSION: '2' });
    // Until Traefik serves the header route, tagged requests still reach the primary.
    await waitFor('the header route to reach the canary', async () => {
      await get(plane.proxy.url, agent, { host: 'ab.test', 'x-canary': 'insider' });
      const now = countsOf(await plane.backend.counts(), namespace, 'ab');
      return now.canary > before.canary;
    });
    expect(await sendCounted('ab', agent, { 'x-canary': 'insider' })).toEqual({ canary: 100, primary: 0 });
    expect(await sendCounted('ab', agent, {})).toEqual({ canary: 0, primary: 100 });
    agent.destroy();
    const outcome = await waitForCanary(kubeconfigPath, namespace, 'ab', inPhase('Succeeded', 'Failed'));
    expect(outcome.status.phase).toBe('Succeeded');
  }, 300_000);

  it('session affinity, which Traefik cannot apply, is named as ignored in Ready once Traefik takes the route', async () => {
    await release('sticky', progressive({ sessionAffinity: { cookieName: 'sticky-affinity' } }));
    await waitFor('Ready to name the session affinity Traefik ignores', async () => {
      const ready = (await canaryStatus(kubeconfigPath, namespace, 'sticky')).conditions?.find(
        (c) => c.type === 'Ready',
      );
      return (ready?.message ?? '').includes(
        "spec.analysis.sessionAffinity is ignored by Traefik's Gateway API provider (traefik.io/gateway-controller)",
      );
    });
    const warnings = (await canaryEvents(kubeconfigPath, namespace, 'sticky')).filter(
      (e) => e.reason === 'FieldsIgnored',
    );
    expect(warnings.map((e) => [e.type, e.note.includes('spec.analysis.sessionAffinity')])).toEqual([
      ['Warning', true],
    ]);
  }, 120_000);

  it('the operator killed mid-run and restarted: Traefik never goes back to a lower weight', async () => {
    await release('restart');
    const load = startLoad(plane.proxy.url, { host: 'restart.test' });
    // Every weight Traefik applies, in order, sampled throughout, restart included.
    const applied: number[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const weight = await appliedCanaryWeight(plane.proxy, namespace, 'restart').catch(() => undefined);
        if (weight !== undefined && applied.at(-1) !== weight) applied.push(weight);
        await new Promise((done) => setTimeout(done, 200));
      }
    })();
    try {
      await roll('restart', { VERSION: '2' });
      await waitFor('Traefik to apply the first step', async () => applied.includes(20));
      await operator.kill();
      // Traffic stays where it was while no operator runs.
      await new Promise((done) => setTimeout(done, 5_000));
      operator = await startOperatorProcess({ kubeconfigPath, namespace });
      const outcome = await waitForCanary(
        kubeconfigPath,
        namespace,
        'restart',
        inPhase('Succeeded', 'Failed'),
      );
      expect(outcome.status.phase).toBe('Succeeded');
      await waitFor('everything back on the promoted primary', async () => applied.at(-1) === 0);
    } finally {
      sampling = false;
      await sampler;
      await load.stop();
    }
    expect(applied).toEqual([0, 20, 40, 60, 0]);
  }, 300_000);
});
