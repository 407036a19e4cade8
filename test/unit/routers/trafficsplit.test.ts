import { describe, expect, it } from '@jest/globals';
import type { CanaryAnalysis } from '../../../src/api/index.ts';
import { RouterConfigError, routableCanary, type RoutableCanary } from '../../../src/routers/index.ts';
import {
  checkSplitExpressible,
  parseSplitWeight,
  readSplitWeights,
  renderHandoffSplit,
  renderRouteGroup,
  renderTrafficSplit,
  routeGroupMatches,
  type TrafficSplit,
} from '../../../src/routers/trafficsplit.ts';

function smiCanary(
  provider: string,
  analysis: CanaryAnalysis = { interval: '1m', stepWeight: 10, maxWeight: 50 },
) {
  return routableCanary({
    apiVersion: 'fledge.dev/v1beta1',
    kind: 'Canary',
    metadata: { name: 'podinfo', namespace: 'test', uid: 'canary-uid' },
    spec: {
      provider,
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
      service: { port: 9898, apex: { labels: { team: 'a' } } },
      analysis,
    },
  });
}

const abAnalysis: CanaryAnalysis = {
  interval: '1m',
  iterations: 3,
  threshold: 1,
  match: [
    { headers: { 'x-canary': { exact: 'insider' } } },
    { headers: { 'user-agent': { regex: '.*Firefox.*' } } },
  ],
};

const backends = (split: TrafficSplit) =>
  split.spec.backends.map((b) => `${b.service}=${JSON.stringify(b.weight)}`);

describe('TrafficSplit rendering', () => {
  it('writes v1alpha1 weights as quantity strings and later versions as integers', () => {
    const weights = { primaryWeight: 90, canaryWeight: 10 };
    const v1 = renderTrafficSplit(smiCanary('linkerd'), 'v1alpha1', weights, true);
    expect(v1.apiVersion).toBe('split.smi-spec.io/v1alpha1');
    expect(backends(v1)).toEqual(['podinfo-primary="90"', 'podinfo-canary="10"']);
    const v2 = renderTrafficSplit(smiCanary('osm'), 'v1alpha2', weights, true);
    expect(v2.apiVersion).toBe('split.smi-spec.io/v1alpha2');
    expect(backends(v2)).toEqual(['podinfo-primary=90', 'podinfo-canary=10']);
    expect(v2.spec.service).toBe('podinfo');
    expect(v2.spec.matches).toBeUndefined();
  });

  it('carries the apex labels, the Flux marks and an owner reference only when owned', () => {
    const owned = renderTrafficSplit(
      smiCanary('osm'),
      'v1alpha2',
      { primaryWeight: 100, canaryWeight: 0 },
      true,
    );
    expect(owned.metadata.labels).toEqual({ team: 'a' });
    expect(owned.metadata.annotations).toEqual({
      'kustomize.toolkit.fluxcd.io/reconcile': 'disabled',
      'helm.toolkit.fluxcd.io/driftDetection': 'disabled',
    });
    expect(owned.metadata.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'Canary', uid: 'canary-uid' }),
    ]);
    const adopted = renderTrafficSplit(
      smiCanary('osm'),
      'v1alpha2',
      { primaryWeight: 100, canaryWeight: 0 },
      false,
    );
    expect(adopted.metadata.ownerReferences).toBeUndefined();
  });

  it('hands back a split sending everything to the apex, without the Flux marks', () => {
    const handoff = renderHandoffSplit(smiCanary('linkerd'), 'v1alpha1', false);
    expect(backends(handoff)).toEqual(['podinfo="100"']);
    expect(handoff.metadata.annotations).toBeUndefined();
    expect(handoff.metadata.ownerReferences).toBeUndefined();
  });

  it('matches an HTTPRouteGroup for A/B testing in v1alpha3', () => {
    const canary = smiCanary('smi:v1alpha3', abAnalysis);
    const split = renderTrafficSplit(canary, 'v1alpha3', { primaryWeight: 0, canaryWeight: 100 }, true);
    expect(split.spec.matches).toEqual([{ kind: 'HTTPRouteGroup', name: 'podinfo' }]);
    const group = renderRouteGroup(canary, abAnalysis.match ?? []);
    expect(group.apiVersion).toBe('specs.smi-spec.io/v1alpha3');
    expect(group.spec.matches).toEqual([
      { name: 'ab-0', headers: [{ 'x-canary': '^insider$' }] },
      { name: 'ab-1', headers: [{ 'user-agent': '.*Firefox.*' }] },
    ]);
  });

  it('turns prefix and suffix into anchored expressions, escaping the literal', () => {
    expect(
      routeGroupMatches([{ headers: { a: { prefix: 'v1.' }, b: { suffix: '+beta' } } }])[0]?.headers,
    ).toEqual([{ a: '^v1\\.' }, { b: '\\+beta$' }]);
  });

  it('refuses A/B testing before v1alpha3, and what a route group cannot match', () => {
    const refusal = (
      provider: string,
      version: 'v1alpha1' | 'v1alpha2' | 'v1alpha3',
      analysis: CanaryAnalysis,
    ) => {
      try {
        checkSplitExpressible(smiCanary(provider, analysis).spec, version);
      } catch (error) {
        return error;
      }
      return undefined;
    };
    const old = refusal('smi:v1alpha2', 'v1alpha2', abAnalysis);
    expect(old).toBeInstanceOf(RouterConfigError);
    expect((old as Error).message).toMatch(
      /^spec\.analysis\.match: a TrafficSplit v1alpha2 cannot match requests.*smi:v1alpha3/,
    );
    expect(refusal('smi:v1alpha3', 'v1alpha3', abAnalysis)).toBeUndefined();
    const query = refusal('smi:v1alpha3', 'v1alpha3', {
      ...abAnalysis,
      match: [{ queryParams: { beta: { exact: '1' } } }],
    });
    expect((query as Error).message).toMatch(
      /spec\.analysis\.match\[0\]: an SMI HTTPRouteGroup matches headers only/,
    );
    expect(() =>
      renderTrafficSplit(
        smiCanary('smi:v1alpha1', abAnalysis),
        'v1alpha1',
        { primaryWeight: 0, canaryWeight: 100 },
        true,
      ),
    ).toThrow(RouterConfigError);
  });
});

describe('TrafficSplit read-back', () => {
  const split = (weights: (number | string)[], matches?: TrafficSplit['spec']['matches']): TrafficSplit => ({
    apiVersion: 'split.smi-spec.io/v1alpha2',
    kind: 'TrafficSplit',
    metadata: { name: 'podinfo', namespace: 'test' },
    spec: {
      service: 'podinfo',
      backends: [
        { service: 'podinfo-primary', weight: weights[0] ?? 0 },
        { service: 'podinfo-canary', weight: weights[1] ?? 0 },
      ],
      ...(matches === undefined ? {} : { matches }),
    },
  });
  const canary: RoutableCanary = smiCanary('osm');

  it('reads integers and quantities, as percentages', () => {
    expect(readSplitWeights(split([60, 40]), canary)).toEqual({
      ok: true,
      weights: { primaryWeight: 60, canaryWeight: 40, mirrored: false },
    });
    expect(readSplitWeights(split(['900m', '100m']), canary)).toEqual({
      ok: true,
      weights: { primaryWeight: 90, canaryWeight: 10, mirrored: false },
    });
    expect(readSplitWeights(split([3, 1]), canary)).toMatchObject({ weights: { canaryWeight: 25 } });
  });

  it('reports a split it cannot read, and one missing the A/B match', () => {
    expect(readSplitWeights(split([0, 0]), canary)).toEqual({
      ok: false,
      reason: 'TrafficSplit test/podinfo gives both podinfo-primary and podinfo-canary weight 0',
    });
    expect(readSplitWeights(split(['lots', 1]), canary)).toEqual({
      ok: false,
      reason: 'TrafficSplit test/podinfo has no readable weight for backend podinfo-primary',
    });
    const ab = smiCanary('smi:v1alpha3', abAnalysis);
    expect(readSplitWeights(split([0, 100]), ab)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/HTTPRouteGroup podinfo/),
    });
    expect(
      readSplitWeights(split([0, 100], [{ kind: 'HTTPRouteGroup', name: 'podinfo' }]), ab),
    ).toMatchObject({ ok: true });
  });

  it.each([
    [90, 90],
    ['90', 90],
    ['1500m', 1.5],
    ['-1', undefined],
    ['1Ki', undefined],
    [null, undefined],
  ])('parses weight %j as %j', (value, expected) => {
    expect(parseSplitWeight(value)).toBe(expected);
  });
});
