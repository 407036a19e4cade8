import { describe, expect, it } from '@jest/globals';
import {
  kumaRouter,
  readTrafficRoute,
  renderHandoffTrafficRoute,
  renderTrafficRoute,
  trafficRouteOwnership,
} from '../../../src/routers/kuma.ts';
import { RouterConfigError } from '../../../src/routers/index.ts';
import { canary } from './fixtures.ts';

const kumaCanary = canary({ provider: 'kuma', service: { port: 9898, apex: { labels: { team: 'a' } } } });

describe('Kuma TrafficRoute rendering', () => {
  it("splits the apex's Kuma service between the primary and canary services, from any source", () => {
    const route = renderTrafficRoute(kumaCanary, 70, true);
    expect(route).toMatchObject({ apiVersion: 'kuma.io/v1alpha1', kind: 'TrafficRoute', mesh: 'default' });
    expect(route.metadata.name).toBe('podinfo');
    expect(route.metadata.namespace).toBeUndefined();
    expect(route.spec).toEqual({
      sources: [{ match: { 'kuma.io/service': '*' } }],
      destinations: [{ match: { 'kuma.io/service': 'podinfo_test_svc_9898' } }],
      conf: {
        split: [
          { weight: 70, destination: { 'kuma.io/service': 'podinfo-primary_test_svc_9898' } },
          { weight: 30, destination: { 'kuma.io/service': 'podinfo-canary_test_svc_9898' } },
        ],
      },
    });
  });

  it('names the Canary in annotations (a cluster-scoped object has no owner reference to it)', () => {
    const route = renderTrafficRoute(kumaCanary, 100, true);
    expect(route.metadata.ownerReferences).toBeUndefined();
    expect(route.metadata.labels).toEqual({ team: 'a' });
    expect(route.metadata.annotations).toMatchObject({
      'fledge.dev/canary-uid': 'canary-uid',
      'fledge.dev/canary': 'test/podinfo',
      'kustomize.toolkit.fluxcd.io/reconcile': 'disabled',
    });
    expect(
      renderTrafficRoute(kumaCanary, 100, false).metadata.annotations?.['fledge.dev/canary-uid'],
    ).toBeUndefined();
  });

  it("takes the mesh from the Canary's kuma.io/mesh annotation, and keeps an adopted route's", () => {
    const inMesh = {
      ...kumaCanary,
      metadata: { ...kumaCanary.metadata, annotations: { 'kuma.io/mesh': 'payments' } },
    };
    expect(renderTrafficRoute(inMesh, 100, true).mesh).toBe('payments');
    const live = { ...renderTrafficRoute(kumaCanary, 100, false), mesh: 'legacy' };
    expect(renderTrafficRoute(inMesh, 100, false, live).mesh).toBe('legacy');
  });

  it('hands back everything to the apex service, naming no Canary', () => {
    const handoff = renderHandoffTrafficRoute(kumaCanary, 'other');
    expect(handoff.mesh).toBe('other');
    expect(handoff.spec.conf).toEqual({
      split: [{ weight: 100, destination: { 'kuma.io/service': 'podinfo_test_svc_9898' } }],
    });
    expect(handoff.metadata.annotations).toBeUndefined();
  });

  it('refuses a TrafficRoute another Canary created: the names are cluster-wide', () => {
    const meta = { annotations: { 'fledge.dev/canary-uid': 'other', 'fledge.dev/canary': 'team-b/podinfo' } };
    expect(() => trafficRouteOwnership(meta, kumaCanary, 'TrafficRoute podinfo')).toThrow(RouterConfigError);
    expect(() => trafficRouteOwnership(meta, kumaCanary, 'TrafficRoute podinfo')).toThrow(
      /Canary team-b\/podinfo/,
    );
    expect(trafficRouteOwnership({}, kumaCanary, 'TrafficRoute podinfo')).toBe('adopted');
  });

  it("selects the canary's Kuma service in the builtin queries", () => {
    expect(kumaRouter.metrics?.requests.selector).toBe(
      'service=~"{{ target }}-canary_{{ namespace }}_svc_[0-9a-zA-Z-]+"',
    );
  });
});

describe('Kuma TrafficRoute read-back', () => {
  it('reads the split as percentages, a missing weight as 0', () => {
    expect(readTrafficRoute(renderTrafficRoute(kumaCanary, 60, true), kumaCanary)).toEqual({
      ok: true,
      weights: { primaryWeight: 60, canaryWeight: 40, mirrored: false },
    });
    const route = renderTrafficRoute(kumaCanary, 100, true);
    delete route.spec.conf?.split?.[1]?.weight;
    expect(readTrafficRoute(route, kumaCanary)).toMatchObject({ weights: { canaryWeight: 0 } });
  });

  it('says which service the split lacks', () => {
    expect(readTrafficRoute(renderHandoffTrafficRoute(kumaCanary, undefined), kumaCanary)).toEqual({
      ok: false,
      reason: 'TrafficRoute podinfo does not split to kuma.io/service podinfo-primary_test_svc_9898',
    });
  });
});
