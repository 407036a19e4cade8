import { describe, expect, it } from '@jest/globals';
import {
  apisixRouter,
  canaryRouteNotSynced,
  readCanaryRoute,
  renderCanaryRoute,
  type ApisixRoute,
} from '../../../src/routers/apisix.ts';
import { RouterConfigError } from '../../../src/routers/index.ts';
import { canary } from './fixtures.ts';

const apisixCanary = canary({ provider: 'apisix', service: { port: 9898 } });

function userRoute(http: ApisixRoute['spec']['http']): ApisixRoute {
  return {
    apiVersion: 'apisix.apache.org/v2',
    kind: 'ApisixRoute',
    metadata: {
      name: 'public',
      namespace: 'test',
      labels: { team: 'a' },
      annotations: { note: 'kept', 'kubectl.kubernetes.io/last-applied-configuration': '{}' },
    },
    spec: { ingressClassName: 'apisix', http },
  };
}

const apexHttp = {
  name: 'main',
  priority: 5,
  match: { hosts: ['app.example.com'], paths: ['/*'] },
  plugins: [{ name: 'cors', enable: true }],
  backends: [{ serviceName: 'podinfo', servicePort: 'http', resolveGranularity: 'service' }],
};
const other = {
  name: 'docs',
  match: { paths: ['/docs'] },
  backends: [{ serviceName: 'docs', servicePort: 80 }],
};

describe('APISIX canary route rendering', () => {
  it('copies the http route on the apex Service at a higher priority, split into primary and canary', () => {
    const copy = renderCanaryRoute(apisixCanary, userRoute([other, apexHttp]), 80, true);
    expect(copy.metadata.name).toBe('public-podinfo-canary');
    expect(copy.metadata.labels).toEqual({ team: 'a' });
    expect(copy.metadata.annotations).toEqual({
      note: 'kept',
      'kustomize.toolkit.fluxcd.io/reconcile': 'disabled',
      'helm.toolkit.fluxcd.io/driftDetection': 'disabled',
    });
    expect(copy.metadata.ownerReferences).toEqual([expect.objectContaining({ uid: 'canary-uid' })]);
    expect(copy.spec).toEqual({
      ingressClassName: 'apisix',
      http: [
        {
          name: 'main',
          priority: 10000,
          match: { hosts: ['app.example.com'], paths: ['/*'] },
          plugins: [{ name: 'cors', enable: true }],
          backends: [
            {
              serviceName: 'podinfo-primary',
              servicePort: 'http',
              resolveGranularity: 'service',
              weight: 80,
            },
            { serviceName: 'podinfo-canary', servicePort: 'http', resolveGranularity: 'service', weight: 20 },
          ],
        },
      ],
    });
  });

  it('refuses a route with no backend on the apex, or one splitting it with another backend', () => {
    expect(() => renderCanaryRoute(apisixCanary, userRoute([other]), 100, true)).toThrow(
      /has no http route with a backend on Service podinfo/,
    );
    const shared = {
      ...apexHttp,
      backends: [...apexHttp.backends, { serviceName: 'legacy', servicePort: 80 }],
    };
    expect(() => renderCanaryRoute(apisixCanary, userRoute([shared]), 100, true)).toThrow(RouterConfigError);
  });

  it("selects the copy's route in the builtin queries", () => {
    expect(apisixRouter.metrics?.requests.selector).toBe(
      'route=~"{{ namespace }}_{{ route }}-{{ target }}-canary_.+"',
    );
  });
});

describe('APISIX canary route read-back', () => {
  const copy = renderCanaryRoute(apisixCanary, userRoute([apexHttp]), 60, true);

  it('reads the weights as percentages; a backend without one weighs 100, as APISIX takes it', () => {
    expect(readCanaryRoute(copy, apisixCanary)).toEqual({
      ok: true,
      weights: { primaryWeight: 60, canaryWeight: 40, mirrored: false },
    });
    const unweighted = structuredClone(copy);
    for (const backend of unweighted.spec.http?.[0]?.backends ?? []) delete backend.weight;
    expect(readCanaryRoute(unweighted, apisixCanary)).toMatchObject({ weights: { canaryWeight: 50 } });
  });

  it('says which backend is missing', () => {
    expect(readCanaryRoute(userRoute([apexHttp]), apisixCanary)).toEqual({
      ok: false,
      reason: 'ApisixRoute test/public has no http route with a backend on Service podinfo-primary',
    });
  });

  it('reports a sync failure of the current generation only', () => {
    const failed = (observedGeneration: number): ApisixRoute => ({
      ...copy,
      metadata: { ...copy.metadata, generation: 3 },
      status: {
        conditions: [
          { type: 'ResourcesAvailable', status: 'False', reason: 'ResourceSyncAborted', observedGeneration },
        ],
      },
    });
    expect(canaryRouteNotSynced(copy)).toBeUndefined();
    expect(canaryRouteNotSynced(failed(2))).toBeUndefined();
    expect(canaryRouteNotSynced(failed(3))).toBe(
      'the APISIX ingress controller did not sync ApisixRoute test/public-podinfo-canary: ResourceSyncAborted',
    );
  });
});
