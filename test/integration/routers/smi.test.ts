import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createRouter } from '../../../src/routers/index.ts';
import { waitForCanary } from '../../harness/canary.ts';
import { integrationEnv } from '../../harness/env.ts';
import { apply, canary, deployment } from '../controller/fixtures.ts';
import { createCanary, objectClient, targetRef } from './helpers.ts';
import { FAILING_HOOK, readyOf, startReleaseRig, type ReleaseRig } from './releases.ts';
import { installSmiCrds } from './smi-crds.ts';

// The linkerd, smi:v1alphaN and osm routers through the operator, on the real apiserver
// with SMI CRDs installed (OSM's upstream ones, plus a v1alpha1 schema written from the SMI
// spec: see smi-crds.ts), so every TrafficSplit and HTTPRouteGroup Fledge writes is validated.
// No mesh runs here: a TrafficSplit has no status, so the weights it carries are the read-back.

const ROUTE_GROUPS = 'httproutegroups.specs.smi-spec.io';
const ORIGINAL = 'fledge.dev/original-configuration';

interface Split {
  metadata: { annotations?: Record<string, string>; ownerReferences?: { uid: string }[] };
  spec: { service: string; backends: { service: string; weight: number | string }[]; matches?: unknown[] };
}

describe('SMI TrafficSplit routers through the operator', () => {
  const { kubeconfigPath } = integrationEnv();
  let rig: ReleaseRig;

  const split = (name: string, version = 'v1alpha2') =>
    rig.get<Split>(`trafficsplits.${version}.split.smi-spec.io`, name);
  /** `<backend>=<weight>` as the apiserver has them, with `+ab` when the split matches a route group. */
  const weights = async (name: string, version?: string): Promise<string> => {
    const live = await split(name, version);
    if (live === undefined) throw new Error('no split yet');
    const text = live.spec.backends.map((b) => `${b.service}=${b.weight}`).join(' ');
    return (live.spec.matches?.length ?? 0) > 0 ? `${text} +ab` : text;
  };

  beforeAll(async () => {
    await installSmiCrds(kubeconfigPath);
    rig = await startReleaseRig('routers-smi');
  }, 120_000);
  afterAll(async () => rig?.stop());

  it('linkerd: steps a v1alpha1 split up to maxWeight, reading each step back, and promotes', async () => {
    await rig.initialise('linkerd', {
      provider: 'linkerd',
      analysis: { interval: '10s', threshold: 1, stepWeight: 20, maxWeight: 50 },
    });
    const initial = await split('linkerd', 'v1alpha1');
    // v1alpha1 weights are quantities: the apiserver keeps them as the strings Fledge wrote.
    expect(initial?.spec).toEqual({
      service: 'linkerd',
      backends: [
        { service: 'linkerd-primary', weight: '100' },
        { service: 'linkerd-canary', weight: '0' },
      ],
    });
    expect(initial?.metadata.annotations).toMatchObject({
      'kustomize.toolkit.fluxcd.io/reconcile': 'disabled',
    });

    const outcome = await rig.release('linkerd', () => weights('linkerd', 'v1alpha1'));
    expect(outcome.status.phase).toBe('Succeeded');
    expect(outcome.seen).toEqual([
      'linkerd-primary=100 linkerd-canary=0',
      'linkerd-primary=80 linkerd-canary=20',
      'linkerd-primary=60 linkerd-canary=40',
      'linkerd-primary=50 linkerd-canary=50',
      'linkerd-primary=100 linkerd-canary=0',
    ]);
    // Status followed the split read back from the TrafficSplit, never ahead of it.
    const progressing = outcome.path
      .filter((s) => s.startsWith('Progressing:'))
      .map((s) => Number(s.split(':')[1]));
    expect([...new Set(progressing)].filter((w) => w > 0)).toEqual([20, 40, 50]);
  }, 240_000);

  it('osm: a failing check rolls the v1alpha2 split back to 100% primary', async () => {
    await rig.initialise('osm', {
      provider: 'osm',
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
    const outcome = await rig.release('osm', () => weights('osm'));
    expect(outcome.status.phase).toBe('Failed');
    expect(await weights('osm')).toBe('osm-primary=100 osm-canary=0');
    expect(outcome.status.canaryWeight ?? 0).toBe(0);
  }, 240_000);

  it('smi:v1alpha3: the router writes the route group and a split matching it, and reads it back applied', async () => {
    const routed = await createCanary(rig.namespace, 'direct', {
      provider: 'smi:v1alpha3',
      targetRef: targetRef('direct'),
      service: { port: 9898 },
      analysis: {
        interval: '10s',
        threshold: 1,
        iterations: 2,
        match: [{ headers: { 'x-canary': { exact: '1' } } }],
      },
    });
    const router = createRouter('smi:v1alpha3', { client: objectClient() });
    await router.reconcile(routed);
    expect((await split('direct', 'v1alpha3'))?.spec.matches).toEqual([
      { kind: 'HTTPRouteGroup', name: 'direct' },
    ]);
    await router.setRoutes(routed, { primaryWeight: 0, canaryWeight: 100, mirror: false });
    expect(await router.getRoutes(routed)).toEqual({
      applied: true,
      primaryWeight: 0,
      canaryWeight: 100,
      mirrored: false,
      cookies: {
        sessionAffinityCookie: null,
        primarySessionAffinityCookie: null,
        previousSessionAffinityCookie: null,
      },
    });
  });

  it('smi:v1alpha3: A/B testing sends requests matching an HTTPRouteGroup to the canary, then promotes', async () => {
    await rig.initialise('ab', {
      provider: 'smi:v1alpha3',
      analysis: {
        interval: '10s',
        threshold: 1,
        iterations: 2,
        match: [
          { headers: { 'x-canary': { exact: 'insider' } } },
          { headers: { cookie: { regex: '^(.*?;)?(canary=always)(;.*)?$' } } },
        ],
      },
    });
    const group = await rig.get<{ spec: unknown }>(ROUTE_GROUPS, 'ab');
    expect(group?.spec).toEqual({
      matches: [
        { name: 'ab-0', headers: [{ 'x-canary': '^insider$' }] },
        { name: 'ab-1', headers: [{ cookie: '^(.*?;)?(canary=always)(;.*)?$' }] },
      ],
    });
    const outcome = await rig.release('ab', () => weights('ab', 'v1alpha3'));
    expect(outcome.status.phase).toBe('Succeeded');
    expect(outcome.seen[0]).toBe('ab-primary=100 ab-canary=0 +ab');
    expect(outcome.seen).toContain('ab-primary=0 ab-canary=100 +ab');
    expect(outcome.seen.at(-1)).toBe('ab-primary=100 ab-canary=0 +ab');
  }, 240_000);

  it('smi:v1alpha1 cannot match requests: A/B testing ends in CapabilityMissing and moves nothing', async () => {
    await apply(
      kubeconfigPath,
      deployment(rig.namespace, 'old-ab', 'example/web:1'),
      canary(rig.namespace, 'old-ab', {
        provider: 'smi:v1alpha1',
        analysis: {
          interval: '10s',
          threshold: 1,
          iterations: 2,
          match: [{ headers: { 'x-canary': { exact: '1' } } }],
        },
      }),
    );
    const { status } = await waitForCanary(
      kubeconfigPath,
      rig.namespace,
      'old-ab',
      (s) => readyOf(s)?.status === 'False' && readyOf(s)?.reason === 'CapabilityMissing',
      { what: 'old-ab refused', timeoutMs: 60_000 },
    );
    expect(readyOf(status)?.message).toContain(
      'spec.analysis.match: a TrafficSplit v1alpha1 cannot match requests',
    );
    expect(await split('old-ab')).toBeUndefined();
  }, 90_000);

  it('revertOnDeletion gives an adopted split back as it was, and releases one Fledge created pointing at the apex', async () => {
    const original = {
      service: 'kept',
      backends: [
        { service: 'kept-v1', weight: 70 },
        { service: 'kept-v2', weight: 30 },
      ],
    };
    await apply(kubeconfigPath, {
      apiVersion: 'split.smi-spec.io/v1alpha2',
      kind: 'TrafficSplit',
      metadata: { name: 'kept', namespace: rig.namespace, annotations: { owner: 'team-a' } },
      spec: original,
    });
    await rig.initialise('kept', {
      provider: 'osm',
      revertOnDeletion: true,
      analysis: { interval: '10s', threshold: 1, stepWeight: 20, maxWeight: 50 },
    });
    await rig.initialise('made', {
      provider: 'osm',
      revertOnDeletion: true,
      analysis: { interval: '10s', threshold: 1, stepWeight: 20, maxWeight: 50 },
    });
    const adopted = await split('kept');
    expect(adopted?.spec.backends.map((b) => b.service)).toEqual(['kept-primary', 'kept-canary']);
    expect(adopted?.metadata.annotations?.[ORIGINAL]).toBeDefined();
    expect(adopted?.metadata.ownerReferences ?? []).toEqual([]);

    for (const name of ['kept', 'made']) await rig.deleteCanary(name);
    const restored = await split('kept');
    expect(restored?.spec).toEqual(original);
    const annotations = Object.keys(restored?.metadata.annotations ?? {}).filter(
      (k) => !k.startsWith('kubectl.kubernetes.io/'),
    );
    expect(annotations).toEqual(['owner']);
    const released = await split('made');
    expect(released?.spec).toEqual({ service: 'made', backends: [{ service: 'made', weight: 100 }] });
    expect(released?.metadata.ownerReferences ?? []).toEqual([]);
    expect(released?.metadata.annotations ?? {}).toEqual({});
  }, 240_000);
});
