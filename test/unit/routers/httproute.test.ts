import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { NormalizedSessionAffinity } from '../../../src/api/index.ts';
import {
  INITIAL_ROUTE_STATE,
  cookieMatch,
  escapeRegex,
  gatewayDuration,
  mergeMatches,
  nextSessionCookies,
  primaryCookieMaxAge,
  readRouteState,
  renderHTTPRoute,
  renderHandoffRoute,
  ignoredByGateways,
  routeAcceptance,
  serviceMatches,
  setCookieValue,
  type HTTPRoute,
  type HTTPRouteRule,
  type RouteState,
} from '../../../src/routers/httproute.ts';
import { NO_SESSION_COOKIES, RouterConfigError, type SessionCookies } from '../../../src/routers/index.ts';
import { canary, counterTokens } from './fixtures.ts';

const names = { apex: 'podinfo', primary: 'podinfo-primary', canary: 'podinfo-canary' };

function state(canaryWeight: number, extra: Partial<RouteState> = {}): RouteState {
  return {
    primaryWeight: 100 - canaryWeight,
    canaryWeight,
    mirror: false,
    cookies: NO_SESSION_COOKIES,
    ...extra,
  };
}

function backends(rule: HTTPRouteRule | undefined): string[] {
  return (rule?.backendRefs ?? []).map((ref) => `${ref.name}:${ref.weight ?? '-'}`);
}

/** The regex a Cookie header match carries, as a JavaScript RegExp (the pattern is RE2- and JS-compatible). */
function cookieRegex(cookie: string): RegExp {
  const value = cookieMatch(cookie).headers?.[0]?.value;
  if (value === undefined) throw new Error('cookie match has no header');
  return new RegExp(value);
}

describe('renderHTTPRoute', () => {
  it('starts at 100% primary with parentRefs, hostnames, the default match and an owner reference', () => {
    const route = renderHTTPRoute(
      canary({ service: { hosts: ['app.example.com'] } }),
      INITIAL_ROUTE_STATE,
      true,
    );
    expect(route.apiVersion).toBe('gateway.networking.k8s.io/v1');
    expect(route.kind).toBe('HTTPRoute');
    expect(route.metadata).toMatchObject({ name: 'podinfo', namespace: 'test' });
    expect(route.metadata.ownerReferences?.[0]).toMatchObject({
      kind: 'Canary',
      uid: 'canary-uid',
      controller: true,
    });
    expect(route.spec.parentRefs).toEqual([{ name: 'public', namespace: 'gateways' }]);
    expect(route.spec.hostnames).toEqual(['app.example.com']);
    expect(route.spec.rules).toEqual([
      {
        matches: [{ path: { type: 'PathPrefix', value: '/' } }],
        backendRefs: [
          { group: '', kind: 'Service', name: 'podinfo-primary', port: 9898, weight: 100 },
          { group: '', kind: 'Service', name: 'podinfo-canary', port: 9898, weight: 0 },
        ],
      },
    ]);
  });

  it('leaves the owner reference off an adopted route and hostnames off when no hosts are set', () => {
    const route = renderHTTPRoute(canary(), INITIAL_ROUTE_STATE, false);
    expect(route.metadata.ownerReferences).toBeUndefined();
    expect(route.spec.hostnames).toBeUndefined();
  });

  it('writes the weights asked for', () => {
    const route = renderHTTPRoute(canary(), state(30), true);
    expect(backends(route.spec.rules?.[0])).toEqual(['podinfo-primary:70', 'podinfo-canary:30']);
  });

  it('round-trips any split, with or without mirroring, through readRouteState', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100 }), fc.boolean(), (weight, mirror) => {
        const route = renderHTTPRoute(canary(), state(weight, { mirror }), true);
        const read = readRouteState(route, names);
        expect(read).toEqual({
          ok: true,
          weights: { primaryWeight: 100 - weight, canaryWeight: weight, mirrored: mirror },
          cookies: NO_SESSION_COOKIES,
        });
      }),
    );
  });

  it('uses spec.service.match and the apex metadata', () => {
    const route = renderHTTPRoute(
      canary({
        service: {
          match: [{ uri: { prefix: '/api' }, method: { exact: 'GET' } }],
          apex: { labels: { team: 'web' }, annotations: { note: 'x' } },
        },
      }),
      INITIAL_ROUTE_STATE,
      true,
    );
    expect(route.spec.rules?.[0]?.matches).toEqual([
      { path: { type: 'PathPrefix', value: '/api' }, method: 'GET' },
    ]);
    expect(route.metadata.labels).toEqual({ team: 'web' });
    expect(route.metadata.annotations).toEqual({
      note: 'x',
      'kustomize.toolkit.fluxcd.io/reconcile': 'disabled',
      'helm.toolkit.fluxcd.io/driftDetection': 'disabled',
    });
  });

  it('adds header operations, URL rewrite, extra mirrors and timeouts to every rule', () => {
    const route = renderHTTPRoute(
      canary({
        service: {
          headers: {
            request: { set: { 'x-b': '2', 'x-a': '1' }, remove: ['x-debug'] },
            response: { add: { 'x-served-by': 'fledge' } },
          },
          rewrite: { uri: '/v2' },
          mirror: [{ backendRef: { name: 'shadow', port: 8080 } }],
          timeout: '90s',
          backendTimeout: '1.5s',
        },
        analysis: { interval: '1m', iterations: 5, match: [{ headers: { 'x-canary': { exact: 'yes' } } }] },
      }),
      INITIAL_ROUTE_STATE,
      true,
    );
    expect(route.spec.rules).toHaveLength(2);
    for (const rule of route.spec.rules ?? []) {
      expect(rule.filters).toEqual([
        {
          type: 'RequestHeaderModifier',
          requestHeaderModifier: {
            set: [
              { name: 'x-a', value: '1' },
              { name: 'x-b', value: '2' },
            ],
            remove: ['x-debug'],
          },
        },
        {
          type: 'ResponseHeaderModifier',
          responseHeaderModifier: { add: [{ name: 'x-served-by', value: 'fledge' }] },
        },
        {
          type: 'URLRewrite',
          urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/v2' } },
        },
        { type: 'RequestMirror', requestMirror: { backendRef: { name: 'shadow', port: 8080 } } },
      ]);
      expect(rule.timeouts).toEqual({ request: '1m30s', backendRequest: '1s500ms' });
    }
  });

  it('rewrites the full path and the host when asked', () => {
    const route = renderHTTPRoute(
      canary({
        service: { rewrite: { uri: '/', authority: 'internal.example.com', type: 'ReplaceFullPath' } },
      }),
      INITIAL_ROUTE_STATE,
      true,
    );
    expect(route.spec.rules?.[0]?.filters).toEqual([
      {
        type: 'URLRewrite',
        urlRewrite: {
          hostname: 'internal.example.com',
          path: { type: 'ReplaceFullPath', replaceFullPath: '/' },
        },
      },
    ]);
  });

  describe('A/B testing', () => {
    const ab = canary({
      service: { match: [{ uri: { prefix: '/api' } }] },
      analysis: {
        interval: '1m',
        iterations: 10,
        match: [
          { headers: { 'x-canary': { exact: 'insider' } } },
          {
            headers: { cookie: { regex: '^(.*?;)?(canary=always)(;.*)?$' } },
            queryParams: { beta: { prefix: 'y' } },
          },
        ],
      },
    });

    it('routes requests matching analysis.match by the weights and everything else to the primary', () => {
      const route = renderHTTPRoute(ab, state(100), true);
      const [matched, fallback] = route.spec.rules ?? [];
      expect(route.spec.rules).toHaveLength(2);
      expect(matched?.matches).toEqual([
        {
          path: { type: 'PathPrefix', value: '/api' },
          headers: [{ type: 'Exact', name: 'x-canary', value: 'insider' }],
        },
        {
          path: { type: 'PathPrefix', value: '/api' },
          headers: [{ type: 'RegularExpression', name: 'cookie', value: '^(.*?;)?(canary=always)(;.*)?$' }],
          queryParams: [{ type: 'RegularExpression', name: 'beta', value: '^y.*' }],
        },
      ]);
      expect(backends(matched)).toEqual(['podinfo-primary:0', 'podinfo-canary:100']);
      expect(fallback?.matches).toEqual([{ path: { type: 'PathPrefix', value: '/api' } }]);
      expect(backends(fallback)).toEqual(['podinfo-primary:-']);
    });

    it('reads the weights back from the matched rule', () => {
      const read = readRouteState(renderHTTPRoute(ab, state(100), true), names);
      expect(read.ok && read.weights).toEqual({ primaryWeight: 0, canaryWeight: 100, mirrored: false });
    });

    it('rejects Istio-only source labels', () => {
      const c = canary({
        analysis: { interval: '1m', iterations: 3, match: [{ sourceLabels: { app: 'client' } }] },
      });
      expect(() => renderHTTPRoute(c, INITIAL_ROUTE_STATE, true)).toThrow(
        /analysis.match\[0\].sourceLabels is Istio-only/,
      );
    });
  });

  describe('mirroring', () => {
    it('mirrors to the canary with mirrorWeight as percent', () => {
      const c = canary({ analysis: { interval: '1m', iterations: 5, mirror: true, mirrorWeight: 25 } });
      const route = renderHTTPRoute(c, state(0, { mirror: true }), true);
      expect(route.spec.rules?.[0]?.filters).toEqual([
        {
          type: 'RequestMirror',
          requestMirror: {
            backendRef: { group: '', kind: 'Service', name: 'podinfo-canary', port: 9898 },
            percent: 25,
          },
        },
      ]);
    });

    it('mirrors everything when mirrorWeight is not set', () => {
      const c = canary({ analysis: { interval: '1m', iterations: 5, mirror: true } });
      const mirror = renderHTTPRoute(c, state(0, { mirror: true }), true).spec.rules?.[0]?.filters?.[0];
      expect(mirror?.requestMirror).not.toHaveProperty('percent');
    });

    it('does not count an extra mirror to another backend as mirroring the canary', () => {
      const c = canary({ service: { mirror: [{ backendRef: { name: 'shadow', port: 80 } }] } });
      const read = readRouteState(renderHTTPRoute(c, state(0), true), names);
      expect(read.ok && read.weights.mirrored).toBe(false);
    });
  });

  describe('session affinity', () => {
    const affinity = {
      interval: '1m',
      stepWeight: 10,
      maxWeight: 50,
      sessionAffinity: { cookieName: 'fledge-canary', primaryCookieName: 'fledge-primary', maxAge: 600 },
    };
    const cookies: SessionCookies = {
      sessionAffinityCookie: 'fledge-canary=abc',
      primarySessionAffinityCookie: 'fledge-primary=def',
      previousSessionAffinityCookie: 'fledge-canary=old',
    };

    it('pins cookie holders, sets the cookies on the weighted backends and expires the previous one', () => {
      const route = renderHTTPRoute(canary({ analysis: affinity }), state(20, { cookies }), true);
      const rules = route.spec.rules ?? [];
      expect(rules.map(backends)).toEqual([
        ['podinfo-canary:-'],
        ['podinfo-primary:-'],
        ['podinfo-primary:-'],
        ['podinfo-primary:80', 'podinfo-canary:20'],
      ]);
      const [canarySticky, primarySticky, expire, weighted] = rules;
      expect(canarySticky?.matches?.[0]?.headers?.[0]).toMatchObject({
        type: 'RegularExpression',
        name: 'Cookie',
      });
      expect(canarySticky?.matches?.[0]?.path).toEqual({ type: 'PathPrefix', value: '/' });
      expect(
        new RegExp(canarySticky?.matches?.[0]?.headers?.[0]?.value ?? '$^').test('fledge-canary=abc'),
      ).toBe(true);
      expect(
        new RegExp(primarySticky?.matches?.[0]?.headers?.[0]?.value ?? '$^').test('fledge-primary=def'),
      ).toBe(true);
      expect(expire?.backendRefs?.[0]?.filters).toEqual([
        {
          type: 'ResponseHeaderModifier',
          responseHeaderModifier: {
            add: [{ name: 'Set-Cookie', value: 'fledge-canary=old; Max-Age=0; Path=/' }],
          },
        },
      ]);
      expect(weighted?.backendRefs?.[1]?.filters).toEqual([
        {
          type: 'ResponseHeaderModifier',
          responseHeaderModifier: {
            add: [{ name: 'Set-Cookie', value: 'fledge-canary=abc; Max-Age=600; Path=/' }],
          },
        },
      ]);
      // The primary cookie lives one analysis interval (1m), not maxAge.
      expect(weighted?.backendRefs?.[0]?.filters?.[0]?.responseHeaderModifier?.add?.[0]?.value).toBe(
        'fledge-primary=def; Max-Age=60; Path=/',
      );
    });

    it('gives the primary cookie the analysis interval in whole seconds', () => {
      const route = renderHTTPRoute(
        canary({ analysis: { ...affinity, interval: '1m30.9s' } }),
        state(20, { cookies }),
        true,
      );
      const weighted = route.spec.rules?.at(-1);
      const setCookie = (i: number) =>
        weighted?.backendRefs?.[i]?.filters?.[0]?.responseHeaderModifier?.add?.[0]?.value;
      expect(setCookie(0)).toBe('fledge-primary=def; Max-Age=90; Path=/');
      expect(setCookie(1)).toBe('fledge-canary=abc; Max-Age=600; Path=/');
      expect(primaryCookieMaxAge('10s')).toBe(10);
    });

    it('reads weights and all three cookies back', () => {
      const route = renderHTTPRoute(canary({ analysis: affinity }), state(20, { cookies }), true);
      expect(readRouteState(route, names)).toEqual({
        ok: true,
        weights: { primaryWeight: 80, canaryWeight: 20, mirrored: false },
        cookies,
      });
    });

    it('renders only the weighted rule when there are no cookies', () => {
      const route = renderHTTPRoute(canary({ analysis: affinity }), state(0), true);
      expect(route.spec.rules).toHaveLength(1);
      expect(route.spec.rules?.[0]?.backendRefs?.every((ref) => ref.filters === undefined)).toBe(true);
    });

    it('keeps the service match on the sticky rules', () => {
      const route = renderHTTPRoute(
        canary({ analysis: affinity, service: { match: [{ uri: { prefix: '/shop' } }] } }),
        state(20, { cookies }),
        true,
      );
      for (const rule of route.spec.rules ?? []) {
        expect(rule.matches?.every((m) => m.path?.value === '/shop')).toBe(true);
      }
    });
  });

  describe('settings Gateway API cannot express', () => {
    it.each([
      [{ retries: { attempts: 3 } }, /spec.service.retries: not supported by the gatewayapi provider/],
      [{ gateways: ['mesh'], corsPolicy: { allowMethods: ['GET'] } }, /spec.service.corsPolicy, gateways: /],
      [{ match: [{ authority: { exact: 'a' } }] }, /spec.service.match\[0\].authority: not expressible/],
      [{ match: [{ method: { prefix: 'G' } }] }, /method.exact/],
      [
        { timeout: '1s', backendTimeout: '2s' },
        /backendTimeout \(2s\) must not exceed spec.service.timeout \(1s\)/,
      ],
      [{ gatewayRefs: [] }, /needs spec.service.gatewayRefs/],
    ])('rejects %j', (service, message) => {
      expect(() => renderHTTPRoute(canary({ service }), INITIAL_ROUTE_STATE, true)).toThrow(
        RouterConfigError,
      );
      expect(() => renderHTTPRoute(canary({ service }), INITIAL_ROUTE_STATE, true)).toThrow(message);
    });
  });
});

describe('renderHandoffRoute', () => {
  it('does not let a setting the route never carried block a deletion', () => {
    const route = renderHandoffRoute(canary({ service: { retries: { attempts: 2 } } }), false);
    expect(route.spec.rules?.[0]?.backendRefs?.map((b) => b.name)).toEqual(['podinfo']);
    expect(() => renderHandoffRoute(canary({ service: { gatewayRefs: [] } }), false)).toThrow(
      /needs spec.service.gatewayRefs/,
    );
  });

  it("keeps the owner reference of a route that goes with the Canary, and drops Flux's marks either way", () => {
    const c = canary({ service: { apex: { annotations: { note: 'x' } } } });
    const released = renderHandoffRoute(c, false);
    const owned = renderHandoffRoute(c, true);
    expect(owned.metadata.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'Canary', uid: 'canary-uid', controller: true }),
    ]);
    for (const route of [released, owned]) expect(route.metadata.annotations).toEqual({ note: 'x' });
    expect(renderHandoffRoute(canary(), false).metadata.annotations).toBeUndefined();
  });

  it('sends everything to the apex Service and carries no owner reference', () => {
    const route = renderHandoffRoute(
      canary({
        service: { timeout: '5s' },
        analysis: { interval: '1m', iterations: 2, match: [{ headers: { a: { exact: 'b' } } }] },
      }),
      false,
    );
    expect(route.metadata.ownerReferences).toBeUndefined();
    expect(route.spec.rules).toEqual([
      {
        matches: [{ path: { type: 'PathPrefix', value: '/' } }],
        backendRefs: [{ group: '', kind: 'Service', name: 'podinfo', port: 9898 }],
        timeouts: { request: '5s' },
      },
    ]);
  });
});

describe('matches', () => {
  it('turns header prefix and suffix into anchored regular expressions', () => {
    const [match] = serviceMatches([
      { headers: { 'user-agent': { suffix: '(iPhone)' }, host: { prefix: 'api.' } } },
    ]);
    expect(match?.headers).toEqual([
      { type: 'RegularExpression', name: 'host', value: '^api\\..*' },
      { type: 'RegularExpression', name: 'user-agent', value: '^.*\\(iPhone\\)$' },
    ]);
    expect(new RegExp(match?.headers?.[1]?.value ?? '').test('Mozilla (iPhone)')).toBe(true);
  });

  it('maps uri exact, prefix and regex to path matches', () => {
    expect(serviceMatches([{ uri: { exact: '/a' } }, { uri: { regex: '/b.*' } }])).toEqual([
      { path: { type: 'Exact', value: '/a' } },
      { path: { type: 'RegularExpression', value: '/b.*' } },
    ]);
  });

  it('lets an extra condition on the same header replace the base one, case-insensitively', () => {
    const merged = mergeMatches(
      [{ headers: [{ type: 'Exact', name: 'X-User', value: 'beta' }] }],
      [
        {
          path: { type: 'PathPrefix', value: '/' },
          headers: [{ type: 'Exact', name: 'x-user', value: 'any' }],
        },
        { method: 'POST' },
      ],
    );
    expect(merged).toEqual([
      {
        path: { type: 'PathPrefix', value: '/' },
        headers: [{ type: 'Exact', name: 'X-User', value: 'beta' }],
      },
      { method: 'POST', headers: [{ type: 'Exact', name: 'X-User', value: 'beta' }] },
    ]);
  });

  it('escapes every RE2 metacharacter', () => {
    const text = 'a.b*c+d?e(f)g[h]i{j}k|l^m$n\\o';
    expect(new RegExp(`^${escapeRegex(text)}$`).test(text)).toBe(true);
    expect(new RegExp(`^${escapeRegex('a.b')}$`).test('axb')).toBe(false);
  });
});

describe('cookies', () => {
  const affinity: NormalizedSessionAffinity = { cookieName: 'fledge-canary', maxAge: 86_400 };

  it('matches a Cookie header carrying exactly that cookie', () => {
    const regex = cookieRegex('fledge.c=v1');
    expect(regex.test('fledge.c=v1')).toBe(true);
    expect(regex.test('a=1; fledge.c=v1; b=2')).toBe(true);
    expect(regex.test('a=1;fledge.c=v1')).toBe(true);
    expect(regex.test('fledge.c=v12')).toBe(false);
    expect(regex.test('xfledge.c=v1')).toBe(false);
    expect(regex.test('fledgexc=v1')).toBe(false);
  });

  it('renders every Set-Cookie attribute that is set', () => {
    expect(setCookieValue('c=1', affinity, 86_400)).toBe('c=1; Max-Age=86400; Path=/');
    expect(
      setCookieValue(
        'c=1',
        {
          ...affinity,
          path: '/app',
          domain: 'example.com',
          httpOnly: true,
          secure: true,
          sameSite: 'None',
          partitioned: true,
        },
        60,
      ),
    ).toBe('c=1; Max-Age=60; Path=/app; Domain=example.com; HttpOnly; Secure; SameSite=None; Partitioned');
  });

  describe('nextSessionCookies', () => {
    it('clears everything without session affinity', () => {
      const known = { ...NO_SESSION_COOKIES, sessionAffinityCookie: 'x=1' };
      expect(nextSessionCookies(undefined, 30, known, counterTokens())).toEqual(NO_SESSION_COOKIES);
    });

    it('mints a canary cookie when the canary first gets traffic and keeps it afterwards', () => {
      const tokens = counterTokens();
      const first = nextSessionCookies(affinity, 10, NO_SESSION_COOKIES, tokens);
      expect(first).toEqual({ ...NO_SESSION_COOKIES, sessionAffinityCookie: 'fledge-canary=token1' });
      expect(nextSessionCookies(affinity, 20, first, tokens)).toEqual(first);
    });

    it('mints a primary cookie only when primaryCookieName is set', () => {
      const cookies = nextSessionCookies(
        { ...affinity, primaryCookieName: 'fledge-primary' },
        10,
        NO_SESSION_COOKIES,
        counterTokens(),
      );
      expect(cookies.primarySessionAffinityCookie).toBe('fledge-primary=token2');
    });

    it('replaces a cookie whose name no longer matches the spec', () => {
      const known = { ...NO_SESSION_COOKIES, sessionAffinityCookie: 'renamed=abc' };
      expect(nextSessionCookies(affinity, 10, known, counterTokens()).sessionAffinityCookie).toBe(
        'fledge-canary=token1',
      );
    });

    it('turns the canary cookie into the previous one when the canary weight returns to 0', () => {
      const known = {
        sessionAffinityCookie: 'fledge-canary=run2',
        primarySessionAffinityCookie: 'fledge-primary=p',
        previousSessionAffinityCookie: 'fledge-canary=run1',
      };
      const done = nextSessionCookies(affinity, 0, known, counterTokens());
      expect(done).toEqual({ ...NO_SESSION_COOKIES, previousSessionAffinityCookie: 'fledge-canary=run2' });
      expect(nextSessionCookies(affinity, 0, done, counterTokens())).toEqual(done);
    });
  });
});

describe('gatewayDuration', () => {
  it.each([
    ['30s', '30s'],
    ['90s', '1m30s'],
    ['1h0m0s', '1h'],
    ['1.5s', '1s500ms'],
    ['250ms', '250ms'],
    ['0s', '0s'],
    ['25h1m1s1ms', '25h1m1s1ms'],
  ])('%s -> %s', (input, expected) => {
    expect(gatewayDuration(input, 'spec.service.timeout')).toBe(expected);
  });

  it('refuses sub-millisecond precision', () => {
    expect(gatewayDuration('2000us', 'spec.service.timeout')).toBe('2ms');
    expect(gatewayDuration('1.005s', 'spec.service.timeout')).toBe('1s5ms');
    expect(() => gatewayDuration('1500us', 'spec.service.timeout')).toThrow(/millisecond precision/);
    expect(() => gatewayDuration('1us', 'spec.service.timeout')).toThrow(/millisecond precision/);
  });
});

describe('readRouteState', () => {
  function route(rules: HTTPRouteRule[]): HTTPRoute {
    return {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'podinfo', namespace: 'test' },
      spec: { rules },
    };
  }

  it('reports a route without a rule naming both Services', () => {
    const read = readRouteState(route([{ backendRefs: [{ name: 'podinfo', port: 80 }] }]), names);
    expect(read).toEqual({
      ok: false,
      reason:
        'HTTPRoute test/podinfo has 0 rules sending traffic to both podinfo-primary and podinfo-canary; expected exactly 1',
    });
  });

  it('converts relative weights (default 1) into percentages', () => {
    const read = readRouteState(
      route([{ backendRefs: [{ name: 'podinfo-primary', weight: 3 }, { name: 'podinfo-canary' }] }]),
      names,
    );
    expect(read.ok && read.weights).toEqual({ primaryWeight: 75, canaryWeight: 25, mirrored: false });
  });

  it('does not take a backend in another namespace for the canary', () => {
    const read = readRouteState(
      route([{ backendRefs: [{ name: 'podinfo-primary' }, { name: 'podinfo-canary', namespace: 'other' }] }]),
      names,
    );
    expect(read.ok).toBe(false);
  });
});

describe('routeAcceptance', () => {
  const accepted = (generation: number, status: 'True' | 'False' = 'True') => ({
    type: 'Accepted',
    status,
    reason: status === 'True' ? 'Accepted' : 'NotAllowedByListeners',
    message: status === 'True' ? '' : 'no listener allows this route',
    observedGeneration: generation,
    lastTransitionTime: '2026-01-01T00:00:00Z',
  });

  function route(generation: number, parents: HTTPRoute['status']): HTTPRoute {
    return {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'podinfo', namespace: 'test', generation },
      spec: {
        parentRefs: [
          { name: 'public', namespace: 'gateways' },
          { name: 'internal', sectionName: 'http' },
        ],
      },
      status: parents,
    };
  }

  const both = (generation: number) => ({
    parents: [
      {
        parentRef: {
          group: 'gateway.networking.k8s.io',
          kind: 'Gateway',
          name: 'public',
          namespace: 'gateways',
        },
        controllerName: 'example.com/gateway',
        conditions: [accepted(generation)],
      },
      {
        parentRef: { name: 'internal', namespace: 'test', sectionName: 'http' },
        controllerName: 'example.com/gateway',
        conditions: [accepted(generation)],
      },
    ],
  });

  it('is accepted when every parent accepted the current generation', () => {
    expect(routeAcceptance(route(3, both(3)))).toEqual({ accepted: true });
  });

  it('is not accepted before any parent reported', () => {
    expect(routeAcceptance(route(1, undefined))).toEqual({
      accepted: false,
      reason:
        'Gateway gateways/public has not reported on the HTTPRoute yet (is its Gateway controller running?)',
    });
  });

  it('is not accepted while a parent reports an older generation', () => {
    const status = both(3);
    const second = status.parents[1];
    if (second) second.conditions = [accepted(2)];
    expect(routeAcceptance(route(3, status))).toEqual({
      accepted: false,
      reason:
        'Gateway test/internal/http (example.com/gateway) last reported on generation 2, the HTTPRoute is at 3',
    });
  });

  it('is not accepted when a parent rejects the route', () => {
    const status = both(3);
    const first = status.parents[0];
    if (first) first.conditions = [accepted(3, 'False')];
    const result = routeAcceptance(route(3, status));
    expect(result.accepted).toBe(false);
    expect(!result.accepted && result.reason).toBe(
      'Gateway gateways/public did not accept the HTTPRoute: NotAllowedByListeners: no listener allows this route',
    );
  });

  it('is not accepted when backends cannot be resolved at the current generation', () => {
    const status = both(3);
    status.parents[0]?.conditions.push({
      ...accepted(3, 'False'),
      type: 'ResolvedRefs',
      reason: 'BackendNotFound',
      message: 'podinfo-canary not found',
    });
    const result = routeAcceptance(route(3, status));
    expect(!result.accepted && result.reason).toMatch(
      /cannot resolve the HTTPRoute's backends: BackendNotFound/,
    );
  });

  it('is not accepted when only one of two parents reported', () => {
    const status = both(3);
    status.parents.pop();
    expect(routeAcceptance(route(3, status)).accepted).toBe(false);
  });
});

describe('ignoredByGateways', () => {
  const affinity = { cookieName: 'flagger-cookie', maxAge: 86400 } as unknown as NormalizedSessionAffinity;
  const reportedBy = (...controllers: string[]) =>
    ({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'web', namespace: 'shop', generation: 1 },
      spec: {},
      status: {
        parents: controllers.map((controllerName, i) => ({
          parentRef: { name: `gw-${i}` },
          controllerName,
          conditions: [],
        })),
      },
    }) as unknown as HTTPRoute;

  it("names session affinity when Traefik's Gateway provider took the route, once per controller", () => {
    const found = ignoredByGateways(
      reportedBy('traefik.io/gateway-controller', 'traefik.io/gateway-controller'),
      affinity,
    );
    expect(found).toEqual([
      {
        field: 'spec.analysis.sessionAffinity',
        message: expect.stringContaining(
          "ignored by Traefik's Gateway API provider (traefik.io/gateway-controller)",
        ),
      },
    ]);
  });

  it('says nothing without session affinity, or for a Gateway that applies backend filters', () => {
    expect(ignoredByGateways(reportedBy('traefik.io/gateway-controller'), undefined)).toEqual([]);
    expect(ignoredByGateways(reportedBy('gateway.envoyproxy.io/gatewayclass-controller'), affinity)).toEqual(
      [],
    );
  });
});
