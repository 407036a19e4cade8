import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { canaryStatus, inPhase, waitForCanary } from '../../harness/canary.ts';
import { createTestNamespace, integrationEnv } from '../../harness/env.ts';
import { startOperatorProcess, type OperatorProcess } from '../../harness/operator.ts';
import { waitFor } from '../../harness/processes.ts';
import { startPrometheusProxy, type PrometheusProxy } from '../../harness/prometheus-proxy.ts';
import { startFakeGatewayController, type FakeGatewayController } from '../../harness/third-party.ts';
import { apply, canary, deployment, setImage } from './fixtures.ts';
import { recordStatusHistory, weightedRunViolations, type StatusHistory } from './history.ts';
import { startHookServer, type HookCall, type HookServer } from './hook-server.ts';

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

/** Hook calls of one Canary, grouped by request id. */
function callsByKey(calls: HookCall[], name: string): Map<string, HookCall[]> {
  const grouped = new Map<string, HookCall[]>();
  for (const call of calls.filter((c) => c.body.name === name)) {
    const key = call.key ?? `missing key: ${call.url}`;
    grouped.set(key, [...(grouped.get(key) ?? []), call]);
  }
  return grouped;
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

  /** Waits for the run to succeed within the plan; returns its hook calls and the request ids called more than once. */
  async function succeeded(name: string, history: StatusHistory) {
    const done = await waitForCanary(kubeconfigPath, namespace, name, inPhase('Succeeded', 'Failed'), {
      what: `${name} to finish`,
      timeoutMs: 180_000,
    });
    expect(done.status.phase).toBe('Succeeded');
    expect(weightedRunViolations(await history.stop(), plan)).toEqual([]);
    const calls = hooks.calls.filter((call) => call.body.name === name);
    const repeated = [...callsByKey(calls, name)].filter(([, same]) => same.length > 1);
    expect(pathOf(calls, '/pre')).toHaveLength(1);
    expect(pathOf(calls, '/post')).toHaveLength(1);
    return { calls, repeated };
  }

  it('calls every hook and sends every query once per tick over a whole run', async () => {
    operator = await startOperatorProcess({ kubeconfigPath, namespace, name: 'uninterrupted' });
    const { queriesBefore, history } = await release('steady');
    const { calls, repeated } = await succeeded('steady', history);
    expect(repeated.map(([key, same]) => `${key} x${same.length}`)).toEqual([]);
    expect(calls.every((call) => call.key !== undefined)).toBe(true);
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
    const { calls, repeated } = await succeeded('killed', history);
    // A repeated call straddles a kill: it ran before the crash and its tick was not recorded yet.
    for (const [key, same] of repeated) {
      const first = same[0]!.at;
      const last = same.at(-1)!.at;
      expect({ key, straddlesKill: kills.some((at) => first < at && at < last) }).toEqual({
        key,
        straddlesKill: true,
      });
    }
    expect(repeated.length).toBeLessThanOrEqual(kills.length);
    const rolloutTicks = new Set(pathOf(calls, '/rollout').map((call) => call.key)).size;
    const queries = prometheus.queries.slice(queriesBefore).filter((q) => q.query === query);
    expect(queries.length).toBeGreaterThanOrEqual(rolloutTicks);
    expect(queries.length - rolloutTicks).toBeLessThanOrEqual(kills.length);
    process.stderr.write(
      `[exactly-once] ${kills.length} kills: ${repeated.length} hook calls repeated, ` +
        `${queries.length - rolloutTicks} queries repeated, ${rolloutTicks} analysed ticks\n`,
    );
  }, 300_000);
});
