import { describe, expect, it } from '@jest/globals';
import type { CanaryAnalysis, CanaryService } from '../../../src/api/index.ts';
import { INITIAL_ROUTE_STATE, type RouteState } from '../../../src/routers/httproute.ts';
import {
  NO_SESSION_COOKIES,
  RouterConfigError,
  ignoredFields,
  istioRouter,
  missingCapabilities,
} from '../../../src/routers/index.ts';
import {
  istioDuration,
  readVirtualService,
  renderDestinationRule,
  renderHandoffVirtualService,
  renderVirtualService,
  virtualServiceAcceptance,
  type IstioHTTPRoute,
  type VirtualService,
} from '../../../src/routers/virtualservice.ts';
import { canary as baseCanary } from './fixtures.ts';

const names = { apex: 'podinfo', primary: 'podinfo-primary', canary: 'podinfo-canary' };
const progressive: CanaryAnalysis = { interval: '1m', stepWeight: 10, maxWeight: 50 };

function canary(service: Partial<CanaryService> = {}, analysis: CanaryAnalysis = progressive) {
  // gatewayRefs is the fixture's Gateway API default; Istio refuses it.
  return baseCanary({ provider: 'istio', service: { gatewayRefs: undefined, ...service }, analysis });
}

function state(canaryWeight: number, extra: Partial<RouteState> = {}): RouteState {
  return {
    primaryWeight: 100 - canaryWeight,
    canaryWeight,
    mirror: false,
    cookies: NO_SESSION_COOKIES,
    ...extra,
  };
}

function destinations(route: IstioHTTPRoute | undefined): string[] {
  return (route?.route ?? []).map((d) => `${d.destination.host}:${d.weight ?? '-'}`);
}

function http(vs: VirtualService): IstioHTTPRoute[] {
  return vs.spec.http ?? [];
}

describe('renderVirtualService', () => {
  it('starts at 100% primary on the mesh gateway, with the apex host added and an owner reference', () => {
    const vs = renderVirtualService(canary({ hosts: ['app.example.com'] }), INITIAL_ROUTE_STATE, true);
    expect(vs.apiVersion).toBe('networking.istio.io/v1');
    expect(vs.kind).toBe('VirtualService');
    expect(vs.metadata).toMatchObject({ name: 'podinfo', namespace: 'test' });
    expect(vs.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'Canary', uid: 'canary-uid' });
    expect(vs.metadata.annotations).toMatchObject({ 'kustomize.toolkit.fluxcd.io/reconcile': 'disabled' });
    expect(vs.spec.hosts).toEqual(['app.example.com', 'podinfo']);
    expect(vs.spec.gateways).toEqual(['mesh']);
    expect(http(vs).map(destinations)).toEqual([['podinfo-primary:100', 'podinfo-canary:0']]);
    expect(vs.spec.tcp).toBeUndefined();
  });

  it('keeps the listed gateways without adding mesh, and a wildcard host covers the apex', () => {
    const vs = renderVirtualService(
      canary({ hosts: ['*'], gateways: ['istio-system/public'] }),
      INITIAL_ROUTE_STATE,
      true,
    );
    expect(vs.spec.gateways).toEqual(['istio-system/public']);
    expect(vs.spec.hosts).toEqual(['*']);
  });

  it('carries match, rewrite, timeout, retries, CORS and headers on the route, durations in seconds', () => {
    const vs = renderVirtualService(
      canary({
        match: [{ uri: { prefix: '/api' }, headers: { 'X-Tenant': { suffix: '.eu' } }, name: 'api' }],
        rewrite: { uri: '/', authority: 'backend' },
        timeout: '1m30s',
        retries: { attempts: 3, perTryTimeout: '500ms', retryOn: 'gateway-error' },
        corsPolicy: { allowOrigin: ['https://a.example'], allowMethods: ['GET'], maxAge: '24h' },
        headers: { request: { set: { 'x-canary': 'yes' } }, response: { remove: ['server'] } },
      }),
      state(20),
      true,
    );
    const [route] = http(vs);
    expect(route).toMatchObject({
      name: 'fledge-weighted',
      match: [{ name: 'api', uri: { prefix: '/api' }, headers: { 'x-tenant': { regex: '.*\\.eu' } } }],
      rewrite: { uri: '/', authority: 'backend' },
      timeout: '90s',
      retries: { attempts: 3, perTryTimeout: '0.5s', retryOn: 'gateway-error' },
      corsPolicy: { allowOrigins: [{ exact: 'https://a.example' }], allowMethods: ['GET'], maxAge: '86400s' },
      headers: { request: { set: { 'x-canary': 'yes' } }, response: { remove: ['server'] } },
    });
    expect(destinations(route)).toEqual(['podinfo-primary:80', 'podinfo-canary:20']);
  });

  it('routes A/B matches (headers, cookies, query, source labels) to the canary and the rest to the primary', () => {
    const vs = renderVirtualService(
      canary(
        { match: [{ uri: { prefix: '/api' }, method: { exact: 'GET' } }] },
        {
          interval: '1m',
          iterations: 5,
          match: [
            { headers: { 'X-Canary': { exact: 'insider' } } },
            { headers: { cookie: { regex: '^(.*?;)?(canary=always)(;.*)?$' } } },
            { queryParams: { beta: { exact: 'on' } } },
            { sourceLabels: { app: 'frontend' } },
          ],
        },
      ),
      state(100),
      true,
    );
    const [ab, fallback] = http(vs);
    expect(ab?.match).toEqual([
      { uri: { prefix: '/api' }, method: { exact: 'GET' }, headers: { 'x-canary': { exact: 'insider' } } },
      {
        uri: { prefix: '/api' },
        method: { exact: 'GET' },
        headers: { cookie: { regex: '^(.*?;)?(canary=always)(;.*)?$' } },
      },
      { uri: { prefix: '/api' }, method: { exact: 'GET' }, queryParams: { beta: { exact: 'on' } } },
      { uri: { prefix: '/api' }, method: { exact: 'GET' }, sourceLabels: { app: 'frontend' } },
    ]);
    expect(destinations(ab)).toEqual(['podinfo-primary:0', 'podinfo-canary:100']);
    expect(fallback?.match).toEqual([{ uri: { prefix: '/api' }, method: { exact: 'GET' } }]);
    expect(destinations(fallback)).toEqual(['podinfo-primary:100']);
    expect(readVirtualService(vs, names, false)).toMatchObject({ ok: true, weights: { canaryWeight: 100 } });
  });

  it('mirrors to the canary with mirrorWeight as mirrorPercentage', () => {
    const analysis = { interval: '1m', iterations: 5, mirror: true, mirrorWeight: 30 };
    const vs = renderVirtualService(canary({}, analysis), state(0, { mirror: true }), true);
    expect(http(vs)[0]).toMatchObject({
      mirror: { host: 'podinfo-canary' },
      mirrorPercentage: { value: 30 },
    });
    expect(readVirtualService(vs, names, false)).toMatchObject({ ok: true, weights: { mirrored: true } });
  });

  it('pins sessions by cookie: sticky routes first, Set-Cookie on the destinations, and expires old cookies', () => {
    const analysis = {
      ...progressive,
      sessionAffinity: { cookieName: 'flagger-cookie', primaryCookieName: 'primary-cookie', maxAge: 600 },
    };
    const cookies = {
      sessionAffinityCookie: 'flagger-cookie=abc',
      primarySessionAffinityCookie: 'primary-cookie=def',
      previousSessionAffinityCookie: 'flagger-cookie=old',
    };
    const vs = renderVirtualService(canary({}, analysis), state(10, { cookies }), true);
    const routes = http(vs);
    expect(routes.map((r) => r.name)).toEqual([
      'fledge-sticky-canary',
      'fledge-sticky-primary',
      'fledge-expire-cookie',
      'fledge-weighted',
    ]);
    const pattern = routes[0]?.match?.[0]?.headers?.cookie?.regex ?? '';
    expect(new RegExp(pattern).test('a=1; flagger-cookie=abc; b=2')).toBe(true);
    expect(new RegExp(pattern).test('flagger-cookie=abcd')).toBe(false);
    expect(destinations(routes[0])).toEqual(['podinfo-canary:-']);
    expect(routes[2]?.route?.[0]?.headers?.response?.add?.['Set-Cookie']).toBe(
      'flagger-cookie=old; Max-Age=0; Path=/',
    );
    const weighted = routes[3]?.route ?? [];
    expect(weighted[1]?.headers?.response?.add?.['Set-Cookie']).toBe(
      'flagger-cookie=abc; Max-Age=600; Path=/',
    );
    expect(weighted[0]?.headers?.response?.add?.['Set-Cookie']).toBe(
      'primary-cookie=def; Max-Age=60; Path=/',
    );
    expect(readVirtualService(vs, names, false)).toEqual({
      ok: true,
      weights: { primaryWeight: 90, canaryWeight: 10, mirrored: false },
      cookies,
    });
  });

  it('routes TCP when appProtocol is tcp, matching on the service match ports only', () => {
    const c = canary({ appProtocol: 'TCP', match: [{ port: 5432 }] });
    const vs = renderVirtualService(c, state(30), true);
    expect(vs.spec.http).toBeUndefined();
    expect(vs.spec.tcp).toEqual([
      {
        match: [{ port: 5432 }],
        route: [
          { destination: { host: 'podinfo-primary' }, weight: 70 },
          { destination: { host: 'podinfo-canary' }, weight: 30 },
        ],
      },
    ]);
    expect(readVirtualService(vs, names, true)).toMatchObject({ ok: true, weights: { canaryWeight: 30 } });
  });

  it('writes a delegate without hosts or gateways, naming the port when the Services expose several', () => {
    const vs = renderVirtualService(canary({ delegation: true, portDiscovery: true }), state(0), true);
    expect(vs.spec.hosts).toBeUndefined();
    expect(vs.spec.gateways).toBeUndefined();
    expect(http(vs)[0]?.route?.[0]?.destination).toEqual({ host: 'podinfo-primary', port: { number: 9898 } });
  });

  it("keeps an adopted VirtualService's own routes, in place of the first route to the apex", () => {
    const live: VirtualService = {
      apiVersion: 'networking.istio.io/v1',
      kind: 'VirtualService',
      metadata: { name: 'podinfo', namespace: 'test' },
      spec: {
        hosts: ['podinfo'],
        http: [
          { name: 'docs', match: [{ uri: { prefix: '/docs' } }], route: [{ destination: { host: 'docs' } }] },
          { name: 'main', route: [{ destination: { host: 'podinfo.test.svc.cluster.local' } }] },
          { name: 'after', route: [{ destination: { host: 'other' } }] },
        ],
      },
    };
    const adopted = renderVirtualService(canary(), state(0), false, live);
    expect(adopted.metadata.ownerReferences).toBeUndefined();
    expect(http(adopted).map((r) => r.name)).toEqual(['docs', 'fledge-weighted', 'after']);
    // Rendering again from what was written keeps the layout.
    const again = renderVirtualService(canary(), state(40), false, adopted);
    expect(http(again).map((r) => r.name)).toEqual(['docs', 'fledge-weighted', 'after']);
    expect(destinations(http(again)[1])).toEqual(['podinfo-primary:60', 'podinfo-canary:40']);
  });

  it('refuses what a VirtualService cannot carry, naming the field', () => {
    const refused =
      (service: Partial<CanaryService>, analysis: CanaryAnalysis = progressive) =>
      () =>
        renderVirtualService(canary(service, analysis), INITIAL_ROUTE_STATE, true);
    expect(refused({ delegation: true, hosts: ['a.example'] })).toThrow(/spec\.service\.delegation/);
    expect(refused({ rewrite: { uri: '/', type: 'ReplaceFullPath' } })).toThrow(
      /rewrite\.type ReplaceFullPath/,
    );
    expect(refused({ appProtocol: 'tcp', timeout: '10s' })).toThrow(/spec\.service\.timeout: .*tcp/);
    expect(refused({ appProtocol: 'tcp', match: [{ uri: { prefix: '/' } }] })).toThrow(/match\[0\]\.uri/);
    expect(refused({ appProtocol: 'tcp' }, { interval: '1m', iterations: 3, mirror: true })).toThrow(
      /spec\.analysis\.mirror/,
    );
    expect(refused({ timeout: '500us' })).toThrow(RouterConfigError);
  });
});

describe('the istio declaration', () => {
  it('refuses Gateway API and App Mesh fields, and reads match names rather than ignoring them', () => {
    const spec = canary({
      gatewayRefs: [{ name: 'public' }],
      backendTimeout: '5s',
      mirror: [{ backendRef: { name: 'shadow', port: 80 } }],
      match: [{ name: 'api', uri: { prefix: '/' } }],
    }).spec;
    expect(missingCapabilities(spec, istioRouter).map((f) => f.field)).toEqual([
      'spec.service.backendTimeout',
      'spec.service.mirror',
      'spec.service.gatewayRefs',
    ]);
    expect(ignoredFields(spec, istioRouter)).toEqual([]);
  });

  it('checks expressibility by rendering, so a TCP Canary asking for A/B testing is refused before any write', () => {
    const spec = canary(
      { appProtocol: 'tcp' },
      { interval: '1m', iterations: 3, match: [{ headers: { x: { exact: 'y' } } }] },
    ).spec;
    expect(() => istioRouter.checkExpressible?.(spec)).toThrow(/spec\.analysis\.match/);
  });
});

describe('readVirtualService and virtualServiceAcceptance', () => {
  const written = renderVirtualService(canary(), state(25), true);

  it('reports a VirtualService without exactly one weighted route as not applied', () => {
    const broken = structuredClone(written);
    broken.spec.http = [{ route: [{ destination: { host: 'podinfo' } }] }];
    expect(readVirtualService(broken, names, false)).toMatchObject({
      ok: false,
      reason: expect.stringContaining('has 0 http routes'),
    });
  });

  it('accepts an object istiod has not reported on, and waits for a lagging or failing report', () => {
    expect(
      virtualServiceAcceptance({ ...written, metadata: { ...written.metadata, generation: 2 } }),
    ).toEqual({
      accepted: true,
    });
    const lagging = {
      ...written,
      metadata: { ...written.metadata, generation: 3 },
      status: { observedGeneration: '2' },
    };
    expect(virtualServiceAcceptance(lagging)).toMatchObject({
      accepted: false,
      reason: expect.stringContaining('generation 2'),
    });
    const failing = {
      ...lagging,
      status: {
        observedGeneration: 3,
        validationMessages: [{ level: 'ERROR', type: { code: 'IST0101' }, description: 'x' }],
      },
    };
    expect(virtualServiceAcceptance(failing)).toMatchObject({
      accepted: false,
      reason: expect.stringContaining('IST0101'),
    });
  });
});

describe('DestinationRules and the handoff', () => {
  it('copies trafficPolicy into each DestinationRule', () => {
    const trafficPolicy = { tls: { mode: 'ISTIO_MUTUAL' } };
    const rule = renderDestinationRule(canary({ trafficPolicy }), 'podinfo-canary', true);
    expect(rule).toMatchObject({
      kind: 'DestinationRule',
      metadata: { name: 'podinfo-canary' },
      spec: { host: 'podinfo-canary', trafficPolicy },
    });
  });

  it('hands everything to the apex without the Flux marks', () => {
    const vs = renderHandoffVirtualService(canary(), false);
    expect(vs.metadata.ownerReferences).toBeUndefined();
    expect(vs.metadata.annotations).toBeUndefined();
    expect(http(vs).map(destinations)).toEqual([['podinfo:-']]);
  });

  it('writes durations as protobuf seconds', () => {
    expect(istioDuration('1h', 'f')).toBe('3600s');
    expect(istioDuration('1.5s', 'f')).toBe('1.5s');
    expect(istioDuration('250ms', 'f')).toBe('0.25s');
  });
});
