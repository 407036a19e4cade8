import { describe, expect, it } from '@jest/globals';
import type { CanaryAnalysis } from '../../../src/api/index.ts';
import { RouterConfigError, missingCapabilities, routableCanary } from '../../../src/routers/index.ts';
import type { Ingress } from '../../../src/routers/ingress.ts';
import {
  BACKEND_WEIGHTS,
  SKIPPER_PREDICATE,
  preferCopy,
  readSkipperWeight,
  renderSkipperIngress,
  skipperRouter,
} from '../../../src/routers/skipper.ts';

function skipperCanary(analysis: CanaryAnalysis = { interval: '1m', stepWeight: 10, maxWeight: 50 }) {
  return routableCanary({
    apiVersion: 'fledge.dev/v1beta1',
    kind: 'Canary',
    metadata: { name: 'web', namespace: 'test', uid: 'canary-uid' },
    spec: {
      provider: 'skipper',
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
      ingressRef: { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', name: 'public' },
      service: { port: 80 },
      analysis,
    },
  });
}

const backend = (name: string) => ({ service: { name, port: { number: 80 } } });

const user: Ingress = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'Ingress',
  metadata: {
    name: 'public',
    namespace: 'test',
    labels: { app: 'web' },
    annotations: {
      [SKIPPER_PREDICATE]: 'Method("GET") && Weight(100)',
      [BACKEND_WEIGHTS]: '{"web":1}',
      'zalando.org/skipper-filter': 'compress()',
    },
  },
  spec: {
    ingressClassName: 'skipper',
    rules: [
      {
        host: 'web.example.com',
        http: {
          paths: [
            { path: '/', pathType: 'Prefix', backend: backend('web') },
            { path: '/static', pathType: 'Prefix', backend: backend('cdn') },
          ],
        },
      },
    ],
  },
};

describe('the Skipper canary Ingress', () => {
  it('splits every path to the apex between primary and canary by backend weights, ahead of the user Ingress', () => {
    const copy = renderSkipperIngress(skipperCanary(), user, 30, true);
    expect(copy.metadata).toMatchObject({
      name: 'public-canary',
      namespace: 'test',
      labels: { app: 'web' },
      ownerReferences: [{ kind: 'Canary', uid: 'canary-uid' }],
    });
    expect(copy.metadata.annotations).toEqual({
      [BACKEND_WEIGHTS]: '{"web-primary":70,"web-canary":30}',
      [SKIPPER_PREDICATE]: 'Weight(100) && Method("GET")',
      'zalando.org/skipper-filter': 'compress()',
      'kustomize.toolkit.fluxcd.io/reconcile': 'disabled',
      'helm.toolkit.fluxcd.io/driftDetection': 'disabled',
    });
    expect(copy.spec.rules?.[0]?.http?.paths).toEqual([
      { path: '/', pathType: 'Prefix', backend: backend('web-primary') },
      { path: '/', pathType: 'Prefix', backend: backend('web-canary') },
      { path: '/static', pathType: 'Prefix', backend: backend('cdn') },
    ]);
    // The user's Ingress is not changed by rendering.
    expect(user.spec.rules?.[0]?.http?.paths[0]?.backend.service?.name).toBe('web');
    expect(readSkipperWeight(copy, skipperCanary())).toEqual({ ok: true, canaryWeight: 30 });
  });

  it('refuses an Ingress with no path to the apex Service', () => {
    const elsewhere: Ingress = {
      ...user,
      spec: { rules: [{ http: { paths: [{ path: '/', pathType: 'Prefix', backend: backend('cdn') }] } }] },
    };
    expect(() => renderSkipperIngress(skipperCanary(), elsewhere, 10, true)).toThrow(RouterConfigError);
    expect(() => renderSkipperIngress(skipperCanary(), elsewhere, 10, true)).toThrow(
      /has no backend on Service web/,
    );
  });

  it('puts Weight(100) first once, and drops a False() left by Flagger', () => {
    expect(preferCopy(undefined)).toBe('Weight(100)');
    expect(preferCopy('False() && Weight(100) && Path("/a")')).toBe('Weight(100) && Path("/a")');
  });
});

describe('reading the Skipper copy', () => {
  const copy = (weights: string | undefined): Ingress => ({
    ...user,
    metadata: {
      name: 'public-canary',
      namespace: 'test',
      annotations: weights === undefined ? {} : { [BACKEND_WEIGHTS]: weights },
    },
  });

  it('reads no copy as everything on the primary, and relative weights as percentages', () => {
    expect(readSkipperWeight(undefined, skipperCanary())).toEqual({ ok: true, canaryWeight: 0 });
    expect(readSkipperWeight(copy('{"web-primary":1,"web-canary":1}'), skipperCanary())).toEqual({
      ok: true,
      canaryWeight: 50,
    });
  });

  it('reports unreadable or incomplete weights', () => {
    expect(readSkipperWeight(copy('half'), skipperCanary())).toEqual({
      ok: false,
      reason: `Ingress test/public-canary has an unreadable ${BACKEND_WEIGHTS} (not JSON)`,
    });
    expect(readSkipperWeight(copy('{"web-primary":100}'), skipperCanary())).toMatchObject({ ok: false });
    expect(readSkipperWeight(copy(undefined), skipperCanary())).toMatchObject({ ok: false });
    expect(readSkipperWeight(copy('{"web-primary":0,"web-canary":0}'), skipperCanary())).toMatchObject({
      ok: false,
    });
  });
});

describe('what Skipper cannot do', () => {
  it('refuses A/B testing (Flagger never routed Skipper by request)', () => {
    const spec = skipperCanary({
      interval: '1m',
      iterations: 2,
      match: [{ headers: { 'x-canary': { exact: '1' } } }],
    }).spec;
    expect(missingCapabilities(spec, skipperRouter).map((f) => f.field)).toEqual(['spec.analysis.match']);
  });
});
