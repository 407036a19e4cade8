import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { UpstreamCrds } from '../../../src/routers/index.ts';
import { kumaRouter, type TrafficRoute } from '../../../src/routers/kuma.ts';
import { waitForCanary } from '../../harness/canary.ts';
import { kubectl } from '../../harness/control-plane.ts';
import { integrationEnv } from '../../harness/env.ts';
import { installCrdFiles, upstreamCrdFiles } from '../../harness/third-party.ts';
import { apply, canary, deployment } from '../controller/fixtures.ts';
import { FAILING_HOOK, readyOf, startReleaseRig, type ReleaseRig } from './releases.ts';

// The kuma router through the operator on the real apiserver, with Kuma's own TrafficRoute
// CRD (github.com/kumahq/kuma v1.8.1, the version the module proxy serves here). No Kuma
// control plane runs: a TrafficRoute has no status, so its split is the read-back.
// TrafficRoutes are cluster-scoped and named after the apex: the names here are this
// file's own, and what the tests leave is deleted at the end.

const TRAFFIC_ROUTES = 'trafficroutes.kuma.io';
const ORIGINAL = 'fledge.dev/original-configuration';
const NAMES = ['kuma-web', 'kuma-bad', 'kuma-kept', 'kuma-made', 'kuma-gone', 'kuma-clash'];

describe('kuma router through the operator', () => {
  const { kubeconfigPath } = integrationEnv();
  let rig: ReleaseRig;

  const route = async (name: string): Promise<TrafficRoute | undefined> => {
    const out = await kubectl(kubeconfigPath, [
      'get',
      TRAFFIC_ROUTES,
      name,
      '-o',
      'json',
      '--ignore-not-found',
    ]);
    return out.trim() === '' ? undefined : (JSON.parse(out) as TrafficRoute);
  };
  /** `<service>=<weight>` of the split, the namespace left out of Kuma's service names. */
  const weights = async (name: string): Promise<string> => {
    const live = await route(name);
    if (live === undefined) return 'none';
    return (live.spec.conf?.split ?? [])
      .map((s) => `${(s.destination['kuma.io/service'] ?? '').split('_')[0]}=${s.weight ?? 0}`)
      .join(' ');
  };
  const removeRoutes = () =>
    kubectl(kubeconfigPath, ['delete', TRAFFIC_ROUTES, ...NAMES, '--ignore-not-found', '--wait=false']);

  beforeAll(async () => {
    const files = await upstreamCrdFiles(kumaRouter.crds as UpstreamCrds);
    await installCrdFiles(kubeconfigPath, files, [TRAFFIC_ROUTES]);
    await removeRoutes();
    rig = await startReleaseRig('routers-kuma');
  }, 120_000);
  afterAll(async () => {
    await rig?.stop();
    await removeRoutes();
  });

  it('splits the apex service, steps the weights up and promotes', async () => {
    await rig.initialise('kuma-web', {
      provider: 'kuma',
      analysis: { interval: '10s', threshold: 1, stepWeight: 20, maxWeight: 50 },
    });
    const initial = await route('kuma-web');
    expect(initial?.mesh).toBe('default');
    expect(initial?.spec.destinations).toEqual([
      { match: { 'kuma.io/service': `kuma-web_${rig.namespace}_svc_9898` } },
    ]);
    expect(initial?.metadata.annotations?.['fledge.dev/canary']).toBe(`${rig.namespace}/kuma-web`);

    const outcome = await rig.release('kuma-web', () => weights('kuma-web'));
    expect(outcome.status.phase).toBe('Succeeded');
    expect(outcome.seen).toEqual([
      'kuma-web-primary=100 kuma-web-canary=0',
      'kuma-web-primary=80 kuma-web-canary=20',
      'kuma-web-primary=60 kuma-web-canary=40',
      'kuma-web-primary=50 kuma-web-canary=50',
      'kuma-web-primary=100 kuma-web-canary=0',
    ]);
  }, 180_000);

  it('a failing check rolls the split back to the primary', async () => {
    await rig.initialise('kuma-bad', {
      provider: 'kuma',
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
    const outcome = await rig.release('kuma-bad', () => weights('kuma-bad'));
    expect(outcome.status.phase).toBe('Failed');
    expect(outcome.seen).toContain('kuma-bad-primary=80 kuma-bad-canary=20');
    expect(await weights('kuma-bad')).toBe('kuma-bad-primary=100 kuma-bad-canary=0');
  }, 180_000);

  it('a TrafficRoute another Canary created (the names are cluster-wide) ends in a terminal condition, untouched', async () => {
    const theirs = {
      apiVersion: 'kuma.io/v1alpha1',
      kind: 'TrafficRoute',
      mesh: 'default',
      metadata: {
        name: 'kuma-clash',
        annotations: { 'fledge.dev/canary-uid': 'another-uid', 'fledge.dev/canary': 'team-b/kuma-clash' },
      },
      spec: { conf: { split: [{ weight: 100, destination: { 'kuma.io/service': 'theirs' } }] } },
    };
    await apply(
      kubeconfigPath,
      theirs,
      deployment(rig.namespace, 'kuma-clash', 'example/web:1'),
      canary(rig.namespace, 'kuma-clash', {
        provider: 'kuma',
        analysis: { interval: '10s', threshold: 1, stepWeight: 20, maxWeight: 50 },
      }),
    );
    const { status } = await waitForCanary(
      kubeconfigPath,
      rig.namespace,
      'kuma-clash',
      (s) => readyOf(s)?.status === 'False' && readyOf(s)?.message?.includes('team-b/kuma-clash') === true,
      { what: 'kuma-clash refused', timeoutMs: 60_000 },
    );
    expect(readyOf(status)?.message).toContain('rename spec.service.name');
    expect((await route('kuma-clash'))?.spec).toEqual(theirs.spec);
  }, 90_000);

  it('on deletion: an adopted route is restored, a released one sends everything to the apex, the rest is deleted', async () => {
    const original = { conf: { split: [{ weight: 100, destination: { 'kuma.io/service': 'legacy' } }] } };
    await apply(kubeconfigPath, {
      apiVersion: 'kuma.io/v1alpha1',
      kind: 'TrafficRoute',
      mesh: 'default',
      metadata: { name: 'kuma-kept', annotations: { owner: 'team-a' } },
      spec: original,
    });
    for (const [name, revertOnDeletion] of [
      ['kuma-kept', true],
      ['kuma-made', true],
      ['kuma-gone', false],
    ] as const) {
      await rig.initialise(name, {
        provider: 'kuma',
        revertOnDeletion,
        analysis: { interval: '10s', threshold: 1, stepWeight: 20, maxWeight: 50 },
      });
    }
    expect((await route('kuma-kept'))?.metadata.annotations?.[ORIGINAL]).toBeDefined();
    expect(await weights('kuma-kept')).toBe('kuma-kept-primary=100 kuma-kept-canary=0');

    for (const name of ['kuma-kept', 'kuma-made', 'kuma-gone']) await rig.deleteCanary(name);
    const restored = await route('kuma-kept');
    expect(restored?.spec).toEqual(original);
    expect(
      Object.keys(restored?.metadata.annotations ?? {}).filter(
        (k) => !k.startsWith('kubectl.kubernetes.io/'),
      ),
    ).toEqual(['owner']);
    expect(await weights('kuma-made')).toBe('kuma-made=100');
    expect((await route('kuma-made'))?.metadata.annotations ?? {}).toEqual({});
    expect(await route('kuma-gone')).toBeUndefined();
  }, 180_000);
});
