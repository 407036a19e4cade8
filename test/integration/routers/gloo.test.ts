import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { RouteTable, Upstream } from '../../../src/routers/gloo.ts';
import { waitForCanary } from '../../harness/canary.ts';
import { integrationEnv } from '../../harness/env.ts';
import { fixtureCrdFile, installCrdFiles } from '../../harness/third-party.ts';
import { apply, canary, deployment } from '../controller/fixtures.ts';
import { FAILING_HOOK, readyOf, startReleaseRig, type ReleaseRig } from './releases.ts';

// The gloo router through the operator on the real apiserver, with Gloo Edge's own RouteTable
// and Upstream CRDs (vendored in test/fixtures/crds/gloo-edge.yaml: the module proxy serves no
// version of github.com/solo-io/gloo). No Gloo runs: the read-back is the RouteTable's weighted
// destinations, which Gloo serves.

const ROUTE_TABLES = 'routetables.gateway.solo.io';
const UPSTREAMS = 'upstreams.gloo.solo.io';
const ORIGINAL = 'fledge.dev/original-configuration';

describe('gloo router through the operator', () => {
  const { kubeconfigPath } = integrationEnv();
  let rig: ReleaseRig;

  const table = (name: string) => rig.get<RouteTable>(ROUTE_TABLES, name);
  const upstream = (name: string) => rig.get<Upstream>(UPSTREAMS, name);
  /** Per route: `[<matchers>] <upstream suffix>=<weight> ...`, as the apiserver has them. */
  const weights = async (name: string): Promise<string> => {
    const live = await table(name);
    if (live === undefined) throw new Error('no RouteTable yet');
    return (live.spec.routes ?? [])
      .map((route) => {
        const matched = route.matchers === undefined ? '' : `[${route.matchers.length} matcher] `;
        const destinations = route.routeAction?.multi?.destinations ?? [];
        const kind = (upstreamName: string) => upstreamName.replace(/^.*-(\w+)upstream-\d+$/, '$1');
        return (
          matched + destinations.map((d) => `${kind(d.destination.upstream.name)}=${d.weight}`).join(' ')
        );
      })
      .join(' | ');
  };

  beforeAll(async () => {
    await installCrdFiles(kubeconfigPath, [fixtureCrdFile('gloo-edge.yaml')], [ROUTE_TABLES, UPSTREAMS]);
    rig = await startReleaseRig('routers-gloo');
  }, 120_000);
  afterAll(async () => rig?.stop());

  it('writes the Upstreams with the settings of spec.upstreamRef, steps the weights and promotes', async () => {
    const tuned = {
      apiVersion: 'gloo.solo.io/v1',
      kind: 'Upstream',
      metadata: { name: 'tuned', namespace: rig.namespace },
      spec: {
        kube: { serviceName: 'anything', serviceNamespace: rig.namespace, servicePort: 80 },
        loadBalancerConfig: { leastRequest: { choiceCount: 3 } },
        useHttp2: true,
      },
    };
    await rig.initialise(
      'web',
      {
        provider: 'gloo',
        upstreamRef: { apiVersion: 'gloo.solo.io/v1', kind: 'Upstream', name: 'tuned' },
        analysis: { interval: '10s', threshold: 1, stepWeight: 20, maxWeight: 50 },
      },
      tuned,
    );
    const primary = await upstream(`${rig.namespace}-web-primaryupstream-9898`);
    expect(primary?.spec).toEqual({
      kube: { serviceName: 'web-primary', serviceNamespace: rig.namespace, servicePort: 9898 },
      loadBalancerConfig: { leastRequest: { choiceCount: 3 } },
      useHttp2: true,
    });
    expect((await upstream(`${rig.namespace}-web-canaryupstream-9898`))?.spec.kube).toEqual({
      serviceName: 'web-canary',
      serviceNamespace: rig.namespace,
      servicePort: 9898,
    });
    const initial = await table('web');
    expect(initial?.spec.routes?.[0]?.inheritablePathMatchers).toBe(true);
    expect(initial?.spec.routes?.[0]?.routeAction?.multi?.destinations?.[0]?.destination.upstream).toEqual({
      name: `${rig.namespace}-web-primaryupstream-9898`,
      namespace: rig.namespace,
    });

    const outcome = await rig.release('web', () => weights('web'));
    expect(outcome.status.phase).toBe('Succeeded');
    expect(outcome.seen).toEqual([
      'primary=100 canary=0',
      'primary=80 canary=20',
      'primary=60 canary=40',
      'primary=50 canary=50',
      'primary=100 canary=0',
    ]);
    const progressing = outcome.path
      .filter((s) => s.startsWith('Progressing:'))
      .map((s) => Number(s.split(':')[1]));
    expect([...new Set(progressing)].filter((w) => w > 0)).toEqual([20, 40, 50]);
  }, 180_000);

  it('a failing check rolls the weights back to the primary', async () => {
    await rig.initialise('bad', {
      provider: 'gloo',
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
    expect(await weights('bad')).toBe('primary=100 canary=0');
  }, 180_000);

  it('A/B: requests matching the header go to the canary, the rest stay on the primary', async () => {
    await rig.initialise('ab', {
      provider: 'gloo',
      analysis: {
        interval: '10s',
        threshold: 1,
        iterations: 2,
        match: [{ headers: { 'x-canary': { exact: 'insider' } } }],
      },
    });
    const matcher = (await table('ab'))?.spec.routes?.[0]?.matchers;
    expect(matcher).toEqual([{ headers: [{ name: 'x-canary', value: 'insider' }] }]);
    const outcome = await rig.release('ab', () => weights('ab'));
    expect(outcome.status.phase).toBe('Succeeded');
    expect(outcome.seen).toContain('[1 matcher] primary=0 canary=100 | primary=100 canary=0');
    expect(outcome.seen.at(-1)).toBe('[1 matcher] primary=100 canary=0 | primary=100 canary=0');
  }, 180_000);

  it('a match on the source workload, which a Gloo route cannot express, ends in CapabilityMissing', async () => {
    await apply(
      kubeconfigPath,
      deployment(rig.namespace, 'sourced', 'example/web:1'),
      canary(rig.namespace, 'sourced', {
        provider: 'gloo',
        analysis: {
          interval: '10s',
          threshold: 1,
          iterations: 2,
          match: [{ sourceLabels: { app: 'curl' } }],
        },
      }),
    );
    const { status } = await waitForCanary(
      kubeconfigPath,
      rig.namespace,
      'sourced',
      (s) => readyOf(s)?.status === 'False' && readyOf(s)?.reason === 'CapabilityMissing',
      { what: 'sourced refused', timeoutMs: 60_000 },
    );
    expect(readyOf(status)?.message).toContain('spec.analysis.match[0].sourceLabels');
    expect(await table('sourced')).toBeUndefined();
  }, 90_000);

  it('revertOnDeletion restores an adopted RouteTable, and releases one Fledge created routing to the apex', async () => {
    const original = {
      routes: [
        {
          inheritablePathMatchers: true,
          routeAction: {
            multi: {
              destinations: [
                { destination: { upstream: { name: 'kept-v1', namespace: 'gloo-system' } }, weight: 1 },
              ],
            },
          },
        },
      ],
    };
    await apply(kubeconfigPath, {
      apiVersion: 'gateway.solo.io/v1',
      kind: 'RouteTable',
      metadata: { name: 'kept', namespace: rig.namespace, annotations: { owner: 'team-a' } },
      spec: original,
    });
    for (const name of ['kept', 'made']) {
      await rig.initialise(name, {
        provider: 'gloo',
        revertOnDeletion: true,
        analysis: { interval: '10s', threshold: 1, stepWeight: 20, maxWeight: 50 },
      });
    }
    const adopted = await table('kept');
    expect(adopted?.metadata.annotations?.[ORIGINAL]).toBeDefined();
    expect(await weights('kept')).toBe('primary=100 canary=0');

    for (const name of ['kept', 'made']) await rig.deleteCanary(name);
    const restored = await table('kept');
    expect(restored?.spec).toEqual(original);
    expect(
      Object.keys(restored?.metadata.annotations ?? {}).filter(
        (k) => !k.startsWith('kubectl.kubernetes.io/'),
      ),
    ).toEqual(['owner']);
    const released = await table('made');
    expect(await weights('made')).toBe('apex=100');
    expect(released?.metadata.ownerReferences ?? []).toEqual([]);
    expect(released?.metadata.annotations ?? {}).toEqual({});
    const apex = await upstream(`${rig.namespace}-made-apexupstream-9898`);
    expect(apex?.spec.kube).toEqual({
      serviceName: 'made',
      serviceNamespace: rig.namespace,
      servicePort: 9898,
    });
    expect(apex?.metadata.ownerReferences ?? []).toEqual([]);
  }, 180_000);
});
