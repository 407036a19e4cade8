import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  ContourRouter,
  contourRouter,
  type ContourRoute,
  type HTTPProxy,
} from '../../../src/routers/contour.ts';
import type { UpstreamCrds } from '../../../src/routers/index.ts';
import { kubectl } from '../../harness/control-plane.ts';
import { integrationEnv } from '../../harness/env.ts';
import { installRouterCrds } from '../../harness/third-party.ts';
import { LiveSeries } from '../analysis/live-series.ts';
import { apply, canary, deployment } from '../controller/fixtures.ts';
import { sampleDistinct } from '../controller/sampling.ts';
import { createCanary, objectClient, targetRef } from './helpers.ts';
import { startReleaseRig, type ReleaseRig } from './releases.ts';

// The contour router through the operator, on a real apiserver holding Contour's own CRDs
// (github.com/projectcontour/contour), so every HTTPProxy Fledge writes passes Contour's
// schema. No Contour runs: nothing writes status, which the router reads as taken; the
// statuses Contour writes are set by hand in the last test. The builtin checks run against
// the real Prometheus on series shaped as Contour's Envoy reports them.

const HTTPPROXIES = 'httpproxies.projectcontour.io';
const ORIGINAL_ANNOTATION = 'fledge.dev/original-configuration';

describe('contour router through the operator', () => {
  const { kubeconfigPath, prometheusUrl } = integrationEnv();
  let rig: ReleaseRig;
  let series: LiveSeries;

  const proxy = (name: string) => rig.get<HTTPProxy>(HTTPPROXIES, name);
  /** `<service>=<weight>` (`~` for a mirror) of each route, routes separated by `|`. */
  const weights = async (name: string): Promise<string> => {
    const routes = (await proxy(name))?.spec.routes ?? [];
    return routes
      .map((route: ContourRoute) =>
        route.services.map((s) => `${s.name}${s.mirror === true ? '~' : '='}${s.weight ?? '-'}`).join(' '),
      )
      .join(' | ');
  };
  /** Envoy's request counters of the `<service>-canary` cluster, as Contour names it in statistics. */
  const envoyTraffic = async (service: string, ok: number, failed: number) => {
    const cluster = { envoy_cluster_name: `${rig.namespace}_${service}-canary_9898` };
    await series.count('envoy_cluster_upstream_rq', { ...cluster, envoy_response_code: '200' }, ok);
    await series.count('envoy_cluster_upstream_rq', { ...cluster, envoy_response_code: '503' }, failed);
    // Every request took 25-50 ms (Envoy's histogram is in milliseconds).
    for (const [le, perSecond] of [
      ['25', 0],
      ['50', ok + failed],
      ['100', ok + failed],
      ['+Inf', ok + failed],
    ] as const)
      await series.count('envoy_cluster_upstream_rq_time_bucket', { ...cluster, le }, perSecond);
  };
  const builtinChecks = [
    { name: 'request-success-rate', interval: '30s', thresholdRange: { min: 99 } },
    { name: 'request-duration', interval: '30s', thresholdRange: { max: 500 } },
  ];

  beforeAll(async () => {
    await installRouterCrds(kubeconfigPath, contourRouter.crds as UpstreamCrds, [HTTPPROXIES]);
    rig = await startReleaseRig('routers-contour');
    series = new LiveSeries(prometheusUrl);
  }, 180_000);
  afterAll(async () => {
    await series?.stop();
    await rig?.stop();
  });

  it('steps the weights up to maxWeight on healthy Envoy metrics, read back from the HTTPProxy, and promotes', async () => {
    await envoyTraffic('web-svc', 50, 0);
    await rig.initialise('web', {
      provider: 'contour',
      metricsServer: prometheusUrl,
      service: {
        name: 'web-svc',
        port: 9898,
        timeout: '30s',
        retries: { attempts: 2, perTryTimeout: '5s', retryOn: 'gateway-error,connect-failure' },
        headers: { response: { set: { 'x-served-by': 'fledge' } } },
        apex: { annotations: { 'projectcontour.io/ingress.class': 'internal' } },
      },
      analysis: { interval: '10s', threshold: 1, stepWeight: 20, maxWeight: 50, metrics: builtinChecks },
    });
    const created = await proxy('web-svc');
    expect(created?.spec.ingressClassName).toBe('internal');
    expect(created?.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'Canary', name: 'web' });
    expect(created?.spec.routes?.[0]).toMatchObject({
      conditions: [{ prefix: '/' }],
      timeoutPolicy: { response: '30s', idle: '5m' },
      retryPolicy: { count: 2, perTryTimeout: '5s', retryOn: ['gateway-error', 'connect-failure'] },
      responseHeadersPolicy: { set: [{ name: 'x-served-by', value: 'fledge' }] },
    });

    const outcome = await rig.release('web', () => weights('web-svc'));
    expect(outcome.status.phase).toBe('Succeeded');
    expect(outcome.seen).toEqual([
      'web-svc-primary=100 web-svc-canary=0',
      'web-svc-primary=80 web-svc-canary=20',
      'web-svc-primary=60 web-svc-canary=40',
      'web-svc-primary=50 web-svc-canary=50',
      'web-svc-primary=100 web-svc-canary=0',
    ]);
  }, 240_000);

  it('rolls back to 100% primary when Envoy reports 5xx for the canary', async () => {
    await envoyTraffic('failing', 10, 10);
    await rig.initialise('failing', {
      provider: 'contour',
      metricsServer: prometheusUrl,
      analysis: { interval: '10s', threshold: 1, stepWeight: 25, maxWeight: 50, metrics: builtinChecks },
    });
    const outcome = await rig.release('failing', () => weights('failing'));
    expect(outcome.status.phase).toBe('Failed');
    expect(outcome.seen.at(-1)).toBe('failing-primary=100 failing-canary=0');
    // The builtin query judged it: the Events name the check that failed.
    const events = JSON.parse(
      await kubectl(kubeconfigPath, [
        'get',
        'events',
        '-n',
        rig.namespace,
        '--field-selector',
        'involvedObject.name=failing',
        '-o',
        'json',
      ]),
    ) as { items: { message: string }[] };
    expect(events.items.map((e) => e.message).join('\n')).toMatch(
      /metric request-success-rate: [\d.]+ is below the minimum 99/,
    );
  }, 240_000);

  it('routes A/B matches to the canary on their own routes, and mirrors a blue/green run', async () => {
    await rig.initialise('ab', {
      provider: 'contour',
      analysis: {
        interval: '10s',
        threshold: 1,
        iterations: 2,
        match: [
          { headers: { 'x-canary': { exact: 'insider' }, 'x-team': { prefix: 'web' } } },
          { headers: { cookie: { regex: '^(.*?;)?(canary=always)(;.*)?$' } } },
        ],
      },
    });
    await rig.initialise('mirrored', {
      provider: 'contour',
      analysis: { interval: '10s', threshold: 1, iterations: 2, mirror: true, mirrorWeight: 40 },
    });
    const conditions = sampleDistinct(async () =>
      JSON.stringify((await proxy('ab'))?.spec.routes?.map((r) => r.conditions)),
    );
    const [ab, mirrored] = await Promise.all([
      rig.release('ab', () => weights('ab')),
      rig.release('mirrored', () => weights('mirrored')),
    ]);
    const abConditions = await conditions.stop();
    expect(ab.status.phase).toBe('Succeeded');
    expect(ab.seen).toContain(
      'ab-primary=0 ab-canary=100 | ab-primary=0 ab-canary=100 | ab-primary=100 ab-canary=0',
    );
    expect(ab.seen.at(-1)).toBe(
      'ab-primary=100 ab-canary=0 | ab-primary=100 ab-canary=0 | ab-primary=100 ab-canary=0',
    );
    expect(abConditions.map((text) => JSON.parse(text) as unknown)).toContainEqual([
      [
        { prefix: '/' },
        { header: { name: 'x-canary', exact: 'insider' } },
        { header: { name: 'x-team', regex: '^web.*' } },
      ],
      [{ prefix: '/' }, { header: { name: 'cookie', regex: '^(.*?;)?(canary=always)(;.*)?$' } }],
      [{ prefix: '/' }],
    ]);
    expect(mirrored.status.phase).toBe('Succeeded');
    expect(mirrored.seen).toContain('mirrored-primary=100 mirrored-canary~40');
    expect(mirrored.seen.at(-1)).toBe('mirrored-primary=100 mirrored-canary=0');
  }, 240_000);

  it('with revertOnDeletion gives an adopted HTTPProxy back as it was', async () => {
    const original = {
      routes: [{ conditions: [{ prefix: '/' }], services: [{ name: 'adopted', port: 9898 }] }],
    };
    await apply(kubeconfigPath, {
      apiVersion: 'projectcontour.io/v1',
      kind: 'HTTPProxy',
      metadata: { name: 'adopted', namespace: rig.namespace, labels: { team: 'web' } },
      spec: original,
    });
    await rig.initialise('adopted', {
      provider: 'contour',
      revertOnDeletion: true,
      analysis: { interval: '10s', threshold: 1, stepWeight: 25, maxWeight: 50 },
    });
    const taken = await proxy('adopted');
    expect(taken?.metadata.annotations?.[ORIGINAL_ANNOTATION]).toBeDefined();
    expect(taken?.metadata.ownerReferences ?? []).toEqual([]);
    expect(await weights('adopted')).toBe('adopted-primary=100 adopted-canary=0');

    await rig.deleteCanary('adopted');
    const restored = await proxy('adopted');
    expect(restored?.spec).toEqual(original);
    expect(restored?.metadata.labels).toEqual({ team: 'web' });
    expect(
      Object.keys(restored?.metadata.annotations ?? {}).filter((k) => !k.startsWith('kubectl.')),
    ).toEqual([]);
  }, 180_000);

  it('refuses, once and for good, what an HTTPProxy cannot express, and writes no HTTPProxy', async () => {
    const { namespace } = rig;
    await apply(
      kubeconfigPath,
      deployment(namespace, 'appends', 'example/appends:1'),
      canary(namespace, 'appends', {
        provider: 'contour',
        service: { port: 9898, headers: { request: { add: { 'x-trace': 'on' } } } },
        analysis: { interval: '10s', threshold: 1, stepWeight: 20, maxWeight: 50 },
      }),
      deployment(namespace, 'labels', 'example/labels:1'),
      canary(namespace, 'labels', {
        provider: 'contour',
        analysis: {
          interval: '10s',
          threshold: 1,
          iterations: 2,
          match: [{ sourceLabels: { app: 'frontend' } }],
        },
      }),
    );
    const refused = [
      ['appends', 'spec.service.headers.request.add'],
      ['labels', 'spec.analysis.match[0].sourceLabels'],
    ] as const;
    await rig.refused(refused);
    for (const [name] of refused) expect(await proxy(name)).toBeUndefined();
  }, 120_000);

  it('takes the routing as applied only once Contour reports the current generation valid', async () => {
    const { namespace } = rig;
    const routable = await createCanary(namespace, 'status', {
      provider: 'contour',
      targetRef: targetRef('status'),
      service: { port: 9898 },
      analysis: { interval: '10s', stepWeight: 10, maxWeight: 50 },
    });
    const router = new ContourRouter({ client: objectClient() });
    await router.reconcile(routable);
    // No Contour has looked at it (the CRD default status): taken as written.
    expect(await router.getRoutes(routable)).toMatchObject({ applied: true, canaryWeight: 0 });

    const writeStatus = async (status: HTTPProxy['status']) =>
      kubectl(kubeconfigPath, [
        'patch',
        HTTPPROXIES,
        'status',
        '-n',
        namespace,
        '--subresource=status',
        '--type=merge',
        '-p',
        JSON.stringify({ status }),
      ]);
    const generation = (await proxy('status'))?.metadata.generation ?? 0;
    const valid = (observedGeneration: number) => ({
      currentStatus: 'valid',
      description: 'Valid HTTPProxy',
      conditions: [
        {
          type: 'Valid',
          status: 'True',
          observedGeneration,
          reason: 'Valid',
          message: 'Valid HTTPProxy',
          lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
        },
      ],
    });
    await writeStatus({
      ...valid(generation),
      currentStatus: 'orphaned',
      description: 'this HTTPProxy is not part of a delegation chain from a root HTTPProxy',
    });
    expect(await router.getRoutes(routable)).toMatchObject({
      applied: false,
      reason: expect.stringContaining('include it from your root HTTPProxy'),
      written: { primaryWeight: 100, canaryWeight: 0 },
    });

    await writeStatus(valid(generation));
    await router.setRoutes(routable, { primaryWeight: 70, canaryWeight: 30, mirror: false });
    expect(await router.getRoutes(routable)).toMatchObject({
      applied: false,
      reason: expect.stringContaining(`Contour last reported on generation ${generation}`),
      written: { canaryWeight: 30 },
    });
    await writeStatus(valid(generation + 1));
    expect(await router.getRoutes(routable)).toMatchObject({
      applied: true,
      primaryWeight: 70,
      canaryWeight: 30,
    });
  }, 60_000);
});
