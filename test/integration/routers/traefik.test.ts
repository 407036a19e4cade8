import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Agent } from 'node:http';
import type { UpstreamCrds } from '../../../src/routers/index.ts';
import { traefikRouter } from '../../../src/routers/traefik.ts';
import { inPhase, waitForCanary } from '../../harness/canary.ts';
import { kubectl, waitEstablished } from '../../harness/control-plane.ts';
import { POD_NETWORK_WAIT_MS, startDataPlane, type DataPlane } from '../../harness/data-plane.ts';
import { createTestNamespace, integrationEnv } from '../../harness/env.ts';
import { get, startLoad } from '../../harness/load.ts';
import { startOperatorProcess, type OperatorProcess } from '../../harness/operator.ts';
import { waitFor } from '../../harness/processes.ts';
import { startPrometheus, type Prometheus } from '../../harness/prometheus.ts';
import { upstreamCrdFiles } from '../../harness/third-party.ts';
import { apply, canary, deployment } from '../controller/fixtures.ts';
import { countsOf } from '../traffic/split.ts';
import { FAILING_HOOK, readyOf, startReleaseRig, type ReleaseRig } from './releases.ts';

// The traefik router through the operator, on the real apiserver with Traefik's own CRDs
// (from its Go module), so every TraefikService Fledge writes is validated by Traefik's
// schema. No Traefik runs here: a TraefikService has no status, so the weights it carries
// are the read-back.

const TRAEFIK_SERVICES = 'traefikservices.traefik.io';
const ORIGINAL = 'fledge.dev/original-configuration';

interface Backend {
  name: string;
  port?: number;
  weight?: number;
}
interface TraefikService {
  metadata: { annotations?: Record<string, string>; ownerReferences?: { uid: string }[] };
  spec: {
    weighted?: { services: Backend[] };
    mirroring?: { name: string; port: number; mirrors: { name: string; percent: number }[] };
  };
}

async function installTraefikCrds(kubeconfigPath: string): Promise<void> {
  const files = await upstreamCrdFiles(traefikRouter.crds as UpstreamCrds);
  const fileArgs = files.flatMap((file) => ['-f', file]);
  await kubectl(kubeconfigPath, ['apply', '--server-side', '--force-conflicts', ...fileArgs]);
  await waitEstablished(kubeconfigPath, fileArgs);
  // Established is not enough: storage for a new kind answers 429 for a moment.
  await waitFor('TraefikServices to be served', async () => {
    await kubectl(kubeconfigPath, ['get', TRAEFIK_SERVICES, '--all-namespaces']);
    return true;
  });
}

describe('traefik router through the operator', () => {
  const { kubeconfigPath } = integrationEnv();
  let rig: ReleaseRig;

  const service = (name: string) => rig.get<TraefikService>(TRAEFIK_SERVICES, name);
  /** `<service>=<weight>` as the apiserver has them. */
  const weights = async (name: string): Promise<string> => {
    const live = await service(name);
    if (live === undefined) throw new Error('no TraefikService yet');
    const mirroring = live.spec.mirroring;
    if (mirroring !== undefined) {
      return `${mirroring.name}:${mirroring.port} mirrored to ${mirroring.mirrors.map((m) => `${m.name}=${m.percent}%`).join(' ')}`;
    }
    return (live.spec.weighted?.services ?? []).map((b) => `${b.name}=${b.weight}`).join(' ');
  };

  beforeAll(async () => {
    await installTraefikCrds(kubeconfigPath);
    rig = await startReleaseRig('routers-traefik');
  }, 120_000);
  afterAll(async () => rig?.stop());

  it('steps the weights up to maxWeight, reading each step back, and promotes', async () => {
    await rig.initialise('web', {
      provider: 'traefik',
      analysis: { interval: '10s', threshold: 1, stepWeight: 20, maxWeight: 50 },
    });
    const initial = await service('web');
    expect(initial?.spec).toEqual({
      weighted: {
        services: [
          { name: 'web-primary', port: 9898, weight: 100 },
          { name: 'web-canary', port: 9898, weight: 0 },
        ],
      },
    });
    expect(initial?.metadata.annotations).toMatchObject({
      'kustomize.toolkit.fluxcd.io/reconcile': 'disabled',
    });

    const outcome = await rig.release('web', () => weights('web'));
    expect(outcome.status.phase).toBe('Succeeded');
    expect(outcome.seen).toEqual([
      'web-primary=100 web-canary=0',
      'web-primary=80 web-canary=20',
      'web-primary=60 web-canary=40',
      'web-primary=50 web-canary=50',
      'web-primary=100 web-canary=0',
    ]);
    // Status followed the weights read back from the TraefikService, never ahead of them.
    const progressing = outcome.path
      .filter((s) => s.startsWith('Progressing:'))
      .map((s) => Number(s.split(':')[1]));
    expect([...new Set(progressing)].filter((w) => w > 0)).toEqual([20, 40, 50]);
  }, 240_000);

  it('a failing check rolls the weights back to 100% primary', async () => {
    await rig.initialise('bad', {
      provider: 'traefik',
      analysis: {
        interval: '10s',
        threshold: 1,
        stepWeight: 20,
        maxWeight: 60,
        webhooks: [
          { name: 'smoke', type: 'rollout', url: `${rig.hooks.base}${FAILING_HOOK}`, timeout: '5s' },
        ],
      },
    });
    const outcome = await rig.release('bad', () => weights('bad'));
    expect(outcome.status.phase).toBe('Failed');
    expect(await weights('bad')).toBe('bad-primary=100 bad-canary=0');
    expect(outcome.status.canaryWeight ?? 0).toBe(0);
  }, 240_000);

  it('blue/green with mirroring copies the primary requests to the canary, then promotes', async () => {
    await rig.initialise('copy', {
      provider: 'traefik',
      analysis: { interval: '10s', threshold: 1, iterations: 2, mirror: true },
    });
    const outcome = await rig.release('copy', () => weights('copy'));
    expect(outcome.status.phase).toBe('Succeeded');
    expect(outcome.seen).toContain('copy-primary:9898 mirrored to copy-canary=100%');
    expect(outcome.seen.at(-1)).toBe('copy-primary=100 copy-canary=0');
  }, 240_000);

  it('a field a TraefikService cannot apply ends in CapabilityMissing and writes nothing', async () => {
    await apply(
      kubeconfigPath,
      deployment(rig.namespace, 'timed', 'example/web:1'),
      canary(rig.namespace, 'timed', {
        provider: 'traefik',
        service: { port: 9898, timeout: '5s' },
        analysis: { interval: '10s', threshold: 1, stepWeight: 20, maxWeight: 50 },
      }),
    );
    const { status } = await waitForCanary(
      kubeconfigPath,
      rig.namespace,
      'timed',
      (s) => readyOf(s)?.status === 'False' && readyOf(s)?.reason === 'CapabilityMissing',
      { what: 'timed refused', timeoutMs: 60_000 },
    );
    expect(readyOf(status)?.message).toContain('spec.service.timeout');
    expect(await service('timed')).toBeUndefined();
  }, 90_000);

  it('revertOnDeletion gives an adopted TraefikService back as it was, and releases one Fledge created pointing at the apex', async () => {
    const original = {
      weighted: {
        services: [
          { name: 'kept-v1', port: 80, weight: 70 },
          { name: 'kept-v2', port: 80, weight: 30 },
        ],
      },
    };
    await apply(kubeconfigPath, {
      apiVersion: 'traefik.io/v1alpha1',
      kind: 'TraefikService',
      metadata: { name: 'kept', namespace: rig.namespace, annotations: { owner: 'team-a' } },
      spec: original,
    });
    for (const name of ['kept', 'made']) {
      await rig.initialise(name, {
        provider: 'traefik',
        revertOnDeletion: true,
        analysis: { interval: '10s', threshold: 1, stepWeight: 20, maxWeight: 50 },
      });
    }
    const adopted = await service('kept');
    expect((adopted?.spec.weighted?.services ?? []).map((b) => b.name)).toEqual([
      'kept-primary',
      'kept-canary',
    ]);
    expect(adopted?.metadata.annotations?.[ORIGINAL]).toBeDefined();
    expect(adopted?.metadata.ownerReferences ?? []).toEqual([]);

    for (const name of ['kept', 'made']) await rig.deleteCanary(name);
    const restored = await service('kept');
    expect(restored?.spec).toEqual(original);
    const annotations = Object.keys(restored?.metadata.annotations ?? {}).filter(
      (k) => !k.startsWith('kubectl.kubernetes.io/'),
    );
    expect(annotations).toEqual(['owner']);
    const released = await service('made');
    expect(released?.spec).toEqual({ weighted: { services: [{ name: 'made', port: 9898, weight: 100 }] } });
    expect(released?.metadata.ownerReferences ?? []).toEqual([]);
    expect(released?.metadata.annotations ?? {}).toEqual({});
  }, 240_000);
});

// Real requests: Traefik's kubernetesCRD provider serves an IngressRoute pointing at the
// TraefikService Fledge writes, and the backends answer as the pods they are. Prometheus
// scrapes Traefik, so the builtin checks judge on Traefik's own metrics.
describe('real traffic: Traefik serving the TraefikService', () => {
  const { kubeconfigPath } = integrationEnv();
  let namespace: string;
  let plane: DataPlane;
  let prometheus: Prometheus;
  let operator: OperatorProcess;
  const startOperator = () =>
    startOperatorProcess({ kubeconfigPath, namespace, args: [`--metrics-server=${prometheus.url}`] });

  beforeAll(async () => {
    await installTraefikCrds(kubeconfigPath);
    plane = await startDataPlane({
      kubeconfigPath,
      providers: ['kubernetesCRD', 'kubernetesCRD.allowEmptyServices'],
    });
    prometheus = await startPrometheus({ scrapeConfigs: plane.scrapeConfigs });
    namespace = await createTestNamespace('traffic-traefik');
    operator = await startOperator();
  }, 180_000 + POD_NETWORK_WAIT_MS);

  afterAll(async () => {
    await operator?.stop();
    await prometheus?.stop();
    await plane?.stop();
  });

  /** The canary's share (percent) of the weighted service Traefik built from the TraefikService, as served. */
  async function appliedWeight(name: string): Promise<number | undefined> {
    const canaryPrefix = `${namespace}-${name}-canary-`;
    const primaryPrefix = `${namespace}-${name}-primary-`;
    const wrr = (await plane.proxy.services()).find((s) => s.name === `${namespace}-${name}@kubernetescrd`);
    const members = wrr?.weighted?.services ?? [];
    const weightOf = (prefix: string) =>
      members.filter((m) => m.name.startsWith(prefix)).reduce((sum, m) => sum + m.weight, 0);
    const total = weightOf(canaryPrefix) + weightOf(primaryPrefix);
    return total === 0 ? undefined : Math.round((100 * weightOf(canaryPrefix)) / total);
  }

  /** Sends `count` requests one by one; the canary's share (percent) of what the backends counted. */
  async function canaryShare(name: string, agent: Agent, count = 100): Promise<number> {
    const start = countsOf(await plane.backend.counts(), namespace, name);
    for (let i = 0; i < count; i++) await get(plane.proxy.url, agent, { host: `${name}.test` });
    const end = countsOf(await plane.backend.counts(), namespace, name);
    return (100 * (end.canary - start.canary)) / (end.total - start.total);
  }

  /** An IngressRoute for `<name>.test` to the TraefikService, a target and its Canary; resolves once Traefik answers. */
  async function initialise(name: string, agent: Agent, analysis: Record<string, unknown>): Promise<void> {
    await apply(
      kubeconfigPath,
      {
        apiVersion: 'traefik.io/v1alpha1',
        kind: 'IngressRoute',
        metadata: { name, namespace },
        spec: {
          entryPoints: ['web'],
          routes: [
            { match: `Host(\`${name}.test\`)`, kind: 'Rule', services: [{ name, kind: 'TraefikService' }] },
          ],
        },
      },
      deployment(namespace, name, 'example/podinfo:1'),
      canary(namespace, name, {
        provider: 'traefik',
        analysis,
      }),
    );
    await waitForCanary(kubeconfigPath, namespace, name, inPhase('Initialized'), {
      what: `${name} initialised`,
      timeoutMs: 90_000,
    });
    await waitFor(`${name}.test to answer through Traefik`, async () => {
      return (await get(plane.proxy.url, agent, { host: `${name}.test` })) === 200;
    });
  }

  it('promotes a release, and at every step the backends see the canary share Fledge set', async () => {
    const name = 'split';
    const agent = new Agent({ keepAlive: true });
    await initialise(name, agent, { interval: '15s', threshold: 1, stepWeight: 20, maxWeight: 60 });
    await kubectl(kubeconfigPath, ['-n', namespace, 'set', 'env', `deployment/${name}`, 'VERSION=2']);
    // Each weight Traefik serves is measured once, credited only if Traefik served it throughout.
    const shares = new Map<number, number>();
    let running = true;
    const measuring = (async () => {
      while (running) {
        const weight = await appliedWeight(name).catch(() => undefined);
        if (weight !== undefined && weight > 0 && weight < 100 && !shares.has(weight)) {
          const share = await canaryShare(name, agent);
          if ((await appliedWeight(name).catch(() => undefined)) === weight) shares.set(weight, share);
        }
        await new Promise((done) => setTimeout(done, 300));
      }
    })();
    let outcome: Awaited<ReturnType<typeof waitForCanary>>;
    try {
      outcome = await waitForCanary(kubeconfigPath, namespace, name, inPhase('Succeeded', 'Failed'), {
        timeoutMs: 240_000,
      });
    } finally {
      running = false;
      await measuring;
    }
    expect(outcome.status.phase).toBe('Succeeded');
    const measured = [...shares.entries()].sort(([a], [b]) => a - b);
    expect(measured.map(([weight]) => weight)).toEqual([20, 40, 60]);
    expect(measured.map(([weight, share]) => ({ weight, close: Math.abs(share - weight) <= 5 }))).toEqual(
      [20, 40, 60].map((weight) => ({ weight, close: true })),
    );
    // After promotion Traefik sends everything to the primary again.
    await waitFor(
      'Traefik to serve the promoted primary only',
      async () => (await appliedWeight(name)) === 0,
    );
    expect(await canaryShare(name, agent)).toBe(0);
    agent.destroy();
  }, 300_000);

  it('mirroring: every request is answered by the primary and a copy reaches the canary', async () => {
    const name = 'copy';
    const agent = new Agent({ keepAlive: true });
    await initialise(name, agent, { interval: '15s', threshold: 1, iterations: 2, mirror: true });
    await kubectl(kubeconfigPath, ['-n', namespace, 'set', 'env', `deployment/${name}`, 'VERSION=2']);
    const mirroring = async () =>
      (await plane.proxy.services()).some(
        (s) => s.name === `${namespace}-${name}@kubernetescrd` && 'mirroring' in s,
      );
    await waitFor('Traefik to serve the mirroring service', mirroring, 60_000);
    const start = countsOf(await plane.backend.counts(), namespace, name);
    const codes: number[] = [];
    for (let i = 0; i < 50; i++) codes.push(await get(plane.proxy.url, agent, { host: `${name}.test` }));
    // Mirrored copies are sent asynchronously: wait until the canary has counted them.
    await waitFor('the canary to count the mirrored copies', async () => {
      const now = countsOf(await plane.backend.counts(), namespace, name);
      return now.canary - start.canary >= 50;
    });
    expect(await mirroring()).toBe(true);
    const end = countsOf(await plane.backend.counts(), namespace, name);
    expect(codes.every((code) => code === 200)).toBe(true);
    expect({
      canary: end.canary - start.canary,
      primary: end.total - end.canary - (start.total - start.canary),
    }).toEqual({
      canary: 50,
      primary: 50,
    });
    const outcome = await waitForCanary(kubeconfigPath, namespace, name, inPhase('Succeeded', 'Failed'), {
      timeoutMs: 120_000,
    });
    expect(outcome.status.phase).toBe('Succeeded');
    agent.destroy();
  }, 240_000);

  /**
   * Releases `name` under load with `env` set, judged by one builtin check; `midRun` runs once
   * Traefik serves the first step. The run must fail after two failed checks, Traefik serving no
   * weight but 0 and the first step throughout. Returns the check's last value.
   */
  async function rolledBack(
    name: string,
    check: { name: string; thresholdRange: { min?: number; max?: number } },
    env: string,
    midRun: () => Promise<void> = async () => {},
  ): Promise<number | undefined> {
    const agent = new Agent({ keepAlive: true });
    await initialise(name, agent, {
      interval: '10s',
      threshold: 2,
      stepWeight: 20,
      maxWeight: 60,
      // The builtin check: the query comes from the traefik router's declaration.
      metrics: [{ ...check, interval: '15s' }],
    });
    agent.destroy();
    const load = startLoad(plane.proxy.url, { host: `${name}.test` });
    // Every weight Traefik serves, in order, sampled throughout.
    const applied: number[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const weight = await appliedWeight(name).catch(() => undefined);
        if (weight !== undefined && applied.at(-1) !== weight) applied.push(weight);
        await new Promise((done) => setTimeout(done, 200));
      }
    })();
    let outcome: Awaited<ReturnType<typeof waitForCanary>>;
    try {
      await kubectl(kubeconfigPath, ['-n', namespace, 'set', 'env', `deployment/${name}`, env]);
      await waitFor('Traefik to serve the first step', async () => applied.includes(20), 120_000);
      await midRun();
      outcome = await waitForCanary(kubeconfigPath, namespace, name, inPhase('Succeeded', 'Failed'), {
        timeoutMs: 240_000,
      });
      await waitFor('Traefik to send everything to the primary', async () => applied.at(-1) === 0);
    } finally {
      sampling = false;
      await sampler;
      await load.stop();
    }
    expect(outcome.status.phase).toBe('Failed');
    expect(outcome.status.failedChecks).toBe(2);
    const measured = outcome.status.metrics?.find((m) => m.name === check.name);
    expect(measured).toMatchObject({ verdict: 'Fail' });
    // No step on failing checks, and no other weight.
    expect(applied).toEqual([0, 20, 0]);
    // The canary did answer real requests before it was rolled back.
    expect(countsOf(await plane.backend.counts(), namespace, name).canary).toBeGreaterThan(0);
    return measured?.value;
  }

  it("rolls back 10% 500s on Traefik's metrics, the operator killed mid-run, never serving a wrong weight", async () => {
    const successRate = { name: 'request-success-rate', thresholdRange: { min: 99 } };
    const value = await rolledBack('flaky', successRate, 'ERROR_RATE=0.1', async () => {
      await operator.kill();
      operator = await startOperator();
    });
    expect(value).toBeLessThan(99);
  }, 300_000);

  it('rolls back a release answering in 800 ms on the request duration Traefik measured', async () => {
    const duration = { name: 'request-duration', thresholdRange: { max: 500 } };
    expect(await rolledBack('slow', duration, 'LATENCY_MS=800')).toBeGreaterThan(500);
  }, 300_000);
});
