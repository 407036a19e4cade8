import { describe, expect, it } from '@jest/globals';
import type { CanaryAnalysis, CanaryService } from '../../../src/api/index.ts';
import {
  contourRouter,
  httpProxyAcceptance,
  readHTTPProxy,
  renderHTTPProxy,
  renderHandoffHTTPProxy,
  type HTTPProxy,
} from '../../../src/routers/contour.ts';
import { RouterConfigError, missingCapabilities } from '../../../src/routers/index.ts';
import { canary } from './fixtures.ts';

const names = { apex: 'podinfo', primary: 'podinfo-primary', canary: 'podinfo-canary' };
const l5d = (service: string) => ({
  set: [{ name: 'l5d-dst-override', value: `${service}.test.svc.cluster.local:9898` }],
});

function contourCanary(service: Partial<CanaryService> = {}, analysis?: CanaryAnalysis) {
  return canary({
    provider: 'contour',
    service: { gatewayRefs: undefined, ...service },
    ...(analysis === undefined ? {} : { analysis }),
  });
}

const split = (canaryWeight: number, mirror = false) => ({
  primaryWeight: 100 - canaryWeight,
  canaryWeight,
  mirror,
});

describe('the HTTPProxy', () => {
  it('weighs primary and canary on one route, with the Linkerd override header per backend', () => {
    const proxy = renderHTTPProxy(contourCanary(), split(30), true);
    expect(proxy).toMatchObject({
      apiVersion: 'projectcontour.io/v1',
      kind: 'HTTPProxy',
      metadata: {
        name: 'podinfo',
        namespace: 'test',
        ownerReferences: [{ kind: 'Canary', uid: 'canary-uid' }],
      },
    });
    expect(proxy.spec).toEqual({
      routes: [
        {
          conditions: [{ prefix: '/' }],
          services: [
            { name: 'podinfo-primary', port: 9898, weight: 70, requestHeadersPolicy: l5d('podinfo-primary') },
            { name: 'podinfo-canary', port: 9898, weight: 30, requestHeadersPolicy: l5d('podinfo-canary') },
          ],
        },
      ],
    });
    expect(readHTTPProxy(proxy, names)).toEqual({
      ok: true,
      weights: { primaryWeight: 70, canaryWeight: 30, mirrored: false },
    });
  });

  it('carries timeout, retries, headers, the path match and the ingress class from spec.service', () => {
    const proxy = renderHTTPProxy(
      contourCanary({
        timeout: '30s',
        retries: { attempts: 3, perTryTimeout: '5s', retryOn: 'gateway-error, connect-failure' },
        headers: {
          request: { set: { 'x-env': 'prod' }, remove: ['x-debug'] },
          response: { set: { 'x-served-by': 'fledge' } },
        },
        match: [{ uri: { prefix: '/api' }, headers: { 'x-tenant': { exact: 'a' } } }],
        apex: { annotations: { 'projectcontour.io/ingress.class': 'internal' } },
      }),
      split(0),
      true,
    );
    expect(proxy.spec.ingressClassName).toBe('internal');
    expect(proxy.metadata.annotations?.['projectcontour.io/ingress.class']).toBe('internal');
    const [route] = proxy.spec.routes ?? [];
    expect(route).toMatchObject({
      conditions: [{ prefix: '/api' }, { header: { name: 'x-tenant', exact: 'a' } }],
      timeoutPolicy: { response: '30s', idle: '5m' },
      retryPolicy: { count: 3, perTryTimeout: '5s', retryOn: ['gateway-error', 'connect-failure'] },
      requestHeadersPolicy: { set: [{ name: 'x-env', value: 'prod' }], remove: ['x-debug'] },
      responseHeadersPolicy: { set: [{ name: 'x-served-by', value: 'fledge' }] },
    });
  });

  it('gives each A/B entry its own route (Contour ANDs the conditions of one), before the default route', () => {
    const analysis: CanaryAnalysis = {
      interval: '1m',
      iterations: 5,
      match: [
        { headers: { 'x-canary': { prefix: 'insider' }, 'x-team': { exact: 'a' } } },
        { headers: { cookie: { regex: '^(.*?;)?(canary=always)(;.*)?$' } } },
        { queryParams: { beta: { exact: 'yes' } } },
      ],
    };
    const proxy = renderHTTPProxy(contourCanary({}, analysis), split(100), true);
    const routes = proxy.spec.routes ?? [];
    expect(routes.map((r) => r.conditions)).toEqual([
      [
        { prefix: '/' },
        { header: { name: 'x-canary', regex: '^insider.*' } },
        { header: { name: 'x-team', exact: 'a' } },
      ],
      [{ prefix: '/' }, { header: { name: 'cookie', regex: '^(.*?;)?(canary=always)(;.*)?$' } }],
      [{ prefix: '/' }, { queryParameter: { name: 'beta', exact: 'yes' } }],
      [{ prefix: '/' }],
    ]);
    expect(routes.map((r) => r.services.map((s) => s.weight))).toEqual([
      [0, 100],
      [0, 100],
      [0, 100],
      [100, 0],
    ]);
    // The matching requests' route decides, as Flagger reads it.
    expect(readHTTPProxy(proxy, names)).toMatchObject({ ok: true, weights: { canaryWeight: 100 } });
  });

  it('mirrors to the canary with mirrorWeight while the primary takes everything', () => {
    const analysis: CanaryAnalysis = { interval: '1m', iterations: 2, mirror: true, mirrorWeight: 40 };
    const proxy = renderHTTPProxy(contourCanary({}, analysis), split(0, true), true);
    expect(proxy.spec.routes?.[0]?.services).toEqual([
      { name: 'podinfo-primary', port: 9898, weight: 100, requestHeadersPolicy: l5d('podinfo-primary') },
      { name: 'podinfo-canary', port: 9898, mirror: true, weight: 40 },
    ]);
    expect(readHTTPProxy(proxy, names)).toEqual({
      ok: true,
      weights: { primaryWeight: 100, canaryWeight: 0, mirrored: true },
    });
    expect(() => renderHTTPProxy(contourCanary({}, analysis), split(20, true), true)).toThrow(
      RouterConfigError,
    );
  });

  it('hands everything to the apex Service on deletion, without the Flux marks', () => {
    const proxy = renderHandoffHTTPProxy(contourCanary({ timeout: '10s' }), false);
    expect(proxy.metadata.ownerReferences).toBeUndefined();
    expect(proxy.metadata.annotations).toBeUndefined();
    expect(proxy.spec.routes).toEqual([
      {
        conditions: [{ prefix: '/' }],
        timeoutPolicy: { response: '10s', idle: '5m' },
        services: [{ name: 'podinfo', port: 9898, weight: 100 }],
      },
    ]);
  });
});

describe('what Contour cannot express', () => {
  const refused = (service: Partial<CanaryService>, analysis?: CanaryAnalysis) => () =>
    contourRouter.checkExpressible?.(contourCanary(service, analysis).spec);

  it.each<[string, Partial<CanaryService>, RegExp]>([
    [
      'header add',
      { headers: { request: { add: { 'x-a': '1' } } } },
      /headers.request.add: .*use spec.service.headers.request.set/,
    ],
    [
      'unknown retryOn',
      { retries: { attempts: 1, retryOn: 'retriable-5xx' } },
      /retryOn: Contour does not retry on retriable-5xx/,
    ],
    ['a method match', { match: [{ method: { exact: 'GET' } }] }, /spec.service.match\[0\].method/],
    [
      'two service matches',
      { match: [{ uri: { prefix: '/a' } }, { uri: { prefix: '/b' } }] },
      /one match entry/,
    ],
  ])('refuses %s, naming the field', (_what, service, message) => {
    expect(refused(service)).toThrow(message);
  });

  it('refuses A/B by source labels', () => {
    const analysis: CanaryAnalysis = {
      interval: '1m',
      iterations: 2,
      match: [{ sourceLabels: { app: 'x' } }],
    };
    expect(refused({}, analysis)).toThrow(/match\[0\].sourceLabels/);
  });

  it('refuses session affinity and the Istio-only service fields', () => {
    const spec = contourCanary(
      { corsPolicy: { allowOrigins: [{ exact: 'https://a' }] } },
      { interval: '1m', stepWeight: 10, maxWeight: 50, sessionAffinity: { cookieName: 'c' } },
    ).spec;
    expect(missingCapabilities(spec, contourRouter).map((f) => f.field)).toEqual([
      'spec.analysis.sessionAffinity',
      'spec.service.corsPolicy',
    ]);
  });
});

describe('reading an HTTPProxy', () => {
  const proxy = (status?: HTTPProxy['status'], generation = 3): HTTPProxy => ({
    ...renderHTTPProxy(contourCanary(), split(10), true),
    metadata: { name: 'podinfo', namespace: 'test', generation },
    ...(status === undefined ? {} : { status }),
  });

  it('normalises relative weights to percentages and reports a missing primary', () => {
    const live = proxy();
    const services = live.spec.routes?.[0]?.services ?? [];
    services[0]!.weight = 1;
    services[1]!.weight = 3;
    expect(readHTTPProxy(live, names)).toMatchObject({ ok: true, weights: { canaryWeight: 75 } });
    expect(readHTTPProxy(live, { ...names, primary: 'other' })).toEqual({
      ok: false,
      reason: 'HTTPProxy test/podinfo does not weigh service other',
    });
  });

  it('takes an HTTPProxy no Contour looked at (no status, or the CRD default) and a valid current one', () => {
    expect(httpProxyAcceptance(proxy())).toEqual({ accepted: true });
    const waiting = { currentStatus: 'NotReconciled', description: 'Waiting for controller' };
    expect(httpProxyAcceptance(proxy(waiting))).toEqual({ accepted: true });
    const valid = {
      currentStatus: 'valid',
      conditions: [{ type: 'Valid', status: 'True', observedGeneration: 3 }],
    };
    expect(httpProxyAcceptance(proxy(valid))).toEqual({ accepted: true });
  });

  it('waits for Contour on a lagging generation, and says what to do about an orphaned or invalid one', () => {
    const lagging = { currentStatus: 'valid', conditions: [{ type: 'Valid', observedGeneration: 2 }] };
    expect(httpProxyAcceptance(proxy(lagging))).toEqual({
      accepted: false,
      reason: 'Contour last reported on generation 2 of HTTPProxy test/podinfo, which is at 3',
    });
    const orphaned = {
      currentStatus: 'orphaned',
      description: 'this HTTPProxy is not part of a delegation chain from a root HTTPProxy',
    };
    expect(httpProxyAcceptance(proxy(orphaned))).toMatchObject({
      accepted: false,
      reason: expect.stringContaining('include it from your root HTTPProxy (spec.includes)'),
    });
    expect(
      httpProxyAcceptance(proxy({ currentStatus: 'invalid', description: 'duplicate conditions' })),
    ).toEqual({
      accepted: false,
      reason: 'Contour reports HTTPProxy test/podinfo invalid: duplicate conditions',
    });
  });
});
