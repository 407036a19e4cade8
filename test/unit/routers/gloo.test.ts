import { describe, expect, it } from '@jest/globals';
import { RouterConfigError } from '../../../src/routers/index.ts';
import {
  glooMatchers,
  glooRouter,
  readRouteTable,
  renderHandoffRouteTable,
  renderRouteTable,
  renderUpstream,
  routeTableRejection,
  upstreamNames,
  type RouteTable,
  type Upstream,
} from '../../../src/routers/gloo.ts';
import { canary } from './fixtures.ts';

const glooCanary = canary({ provider: 'gloo', service: { port: 9898, apex: { labels: { team: 'a' } } } });
const upstream = (name: string) => ({ name, namespace: 'test' });

describe('Gloo RouteTable rendering', () => {
  it('names the Upstreams as Flagger does, so its builtin queries find the canary', () => {
    expect(upstreamNames(glooCanary)).toEqual({
      primary: 'test-podinfo-primaryupstream-9898',
      canary: 'test-podinfo-canaryupstream-9898',
      apex: 'test-podinfo-apexupstream-9898',
    });
    expect(glooRouter.metrics?.requests.selector).toContain('{{ namespace }}-{{ target }}-canaryupstream-');
  });

  it('weighs the primary and canary Upstreams in one route inheriting the parent path', () => {
    const table = renderRouteTable(glooCanary, { primaryWeight: 70 }, true);
    expect(table).toMatchObject({ apiVersion: 'gateway.solo.io/v1', kind: 'RouteTable' });
    expect(table.metadata.name).toBe('podinfo');
    expect(table.metadata.labels).toEqual({ team: 'a' });
    expect(table.metadata.ownerReferences).toEqual([expect.objectContaining({ uid: 'canary-uid' })]);
    expect(table.spec).toEqual({
      routes: [
        {
          inheritablePathMatchers: true,
          routeAction: {
            multi: {
              destinations: [
                { destination: { upstream: upstream('test-podinfo-primaryupstream-9898') }, weight: 70 },
                { destination: { upstream: upstream('test-podinfo-canaryupstream-9898') }, weight: 30 },
              ],
            },
          },
        },
      ],
    });
    expect(
      renderRouteTable(glooCanary, { primaryWeight: 100 }, false).metadata.ownerReferences,
    ).toBeUndefined();
  });

  it('A/B: matching requests take the weighted route, every other one the primary', () => {
    const ab = canary({
      provider: 'gloo',
      analysis: {
        interval: '1m',
        iterations: 3,
        match: [
          { headers: { 'x-canary': { exact: 'insider' } } },
          {
            headers: { cookie: { regex: '^(.*?;)?(canary=always)(;.*)?$' } },
            queryParams: { v: { prefix: '2.' } },
          },
        ],
      },
    });
    const routes = renderRouteTable(ab, { primaryWeight: 0 }, true).spec.routes ?? [];
    expect(routes.map((r) => r.matchers)).toEqual([
      [
        { headers: [{ name: 'x-canary', value: 'insider' }] },
        {
          headers: [{ name: 'cookie', value: '^(.*?;)?(canary=always)(;.*)?$', regex: true }],
          queryParameters: [{ name: 'v', value: '2\\..*', regex: true }],
        },
      ],
      undefined,
    ]);
    expect(routes.map((r) => r.routeAction?.multi?.destinations?.map((d) => d.weight))).toEqual([
      [0, 100],
      [100, 0],
    ]);
  });

  it('refuses a source-workload match, which a Gloo route cannot express', () => {
    expect(() => glooMatchers([{ sourceLabels: { app: 'curl' } }])).toThrow(RouterConfigError);
    expect(() => glooMatchers([{ headers: { 'x-user': { suffix: '@example.com' } } }])).not.toThrow();
    expect(glooMatchers([{ headers: { 'x-user': { suffix: '.com' } } }])).toEqual([
      { headers: [{ name: 'x-user', value: '.*\\.com', regex: true }] },
    ]);
  });

  it('hands back a table sending everything to the apex Service, without the Flux marks', () => {
    const handoff = renderHandoffRouteTable(glooCanary, false);
    expect(handoff.spec.routes?.[0]?.routeAction?.multi?.destinations).toEqual([
      { destination: { upstream: upstream('test-podinfo-apexupstream-9898') }, weight: 100 },
    ]);
    expect(handoff.metadata.annotations).toBeUndefined();
    expect(handoff.metadata.ownerReferences).toBeUndefined();
  });
});

describe('Gloo Upstreams', () => {
  const config: Upstream = {
    apiVersion: 'gloo.solo.io/v1',
    kind: 'Upstream',
    metadata: { name: 'tuned', namespace: 'gloo-system' },
    spec: {
      kube: { serviceName: 'elsewhere', serviceNamespace: 'x', servicePort: 80 },
      loadBalancerConfig: { roundRobin: {} },
      useHttp2: true,
      discoveryMetadata: { labels: { a: 'b' } },
    },
  };

  it('points at the Service on spec.service.port and copies the settings of spec.upstreamRef', () => {
    const object = renderUpstream(
      glooCanary,
      'test-podinfo-canaryupstream-9898',
      'podinfo-canary',
      config,
      true,
    );
    expect(object.spec).toEqual({
      loadBalancerConfig: { roundRobin: {} },
      useHttp2: true,
      kube: { serviceName: 'podinfo-canary', serviceNamespace: 'test', servicePort: 9898 },
    });
    expect(object.metadata.ownerReferences).toHaveLength(1);
    const plain = renderUpstream(glooCanary, 'u', 'podinfo-primary', undefined, false);
    expect(plain.spec).toEqual({
      kube: { serviceName: 'podinfo-primary', serviceNamespace: 'test', servicePort: 9898 },
    });
  });
});

describe('Gloo RouteTable read-back', () => {
  const live = (
    destinations: { name: string; weight?: number }[],
    status?: RouteTable['status'],
  ): RouteTable => ({
    apiVersion: 'gateway.solo.io/v1',
    kind: 'RouteTable',
    metadata: { name: 'podinfo', namespace: 'test' },
    spec: {
      routes: [
        {
          routeAction: {
            multi: {
              destinations: destinations.map(({ name, weight }) => ({
                destination: { upstream: upstream(name) },
                ...(weight === undefined ? {} : { weight }),
              })),
            },
          },
        },
      ],
    },
    ...(status === undefined ? {} : { status }),
  });

  it('reads the weights as percentages, an omitted weight (as Flagger writes 0) as 0', () => {
    expect(
      readRouteTable(
        live([
          { name: 'test-podinfo-primaryupstream-9898', weight: 100 },
          { name: 'test-podinfo-canaryupstream-9898' },
        ]),
        glooCanary,
      ),
    ).toEqual({ ok: true, weights: { primaryWeight: 100, canaryWeight: 0, mirrored: false } });
    expect(
      readRouteTable(
        live([
          { name: 'test-podinfo-primaryupstream-9898', weight: 3 },
          { name: 'test-podinfo-canaryupstream-9898', weight: 1 },
        ]),
        glooCanary,
      ),
    ).toEqual({ ok: true, weights: { primaryWeight: 75, canaryWeight: 25, mirrored: false } });
  });

  it('says which Upstream a table does not route to', () => {
    const read = readRouteTable(live([{ name: 'other', weight: 100 }]), glooCanary);
    expect(read).toEqual({
      ok: false,
      reason:
        'RouteTable test/podinfo does not route to Upstream test-podinfo-primaryupstream-9898 in its first route',
    });
  });

  it('reports a rejection by any of Gloo reporters, by name or enum number', () => {
    expect(routeTableRejection(live([]))).toBeUndefined();
    expect(
      routeTableRejection(live([], { statuses: { 'gloo-system': { state: 'Accepted' } } })),
    ).toBeUndefined();
    expect(
      routeTableRejection(
        live([], {
          namespacedStatuses: { statuses: { 'gloo-system': { state: 2, reason: 'bad upstream' } } },
        }),
      ),
    ).toBe('Gloo (gloo-system) rejected RouteTable test/podinfo: bad upstream');
  });
});
