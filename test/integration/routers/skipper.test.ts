import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { BACKEND_WEIGHTS, SKIPPER_PREDICATE } from '../../../src/routers/skipper.ts';
import { integrationEnv } from '../../harness/env.ts';
import { waitFor } from '../../harness/processes.ts';
import { LiveSeries } from '../analysis/live-series.ts';
import { apply, canary, deployment, setImage } from '../controller/fixtures.ts';
import { startReleaseRig, type ReleaseRig } from './releases.ts';

// The skipper router through the operator on the real apiserver. Ingress is a core API, so
// the apiserver validates every copy Fledge writes without any CRD; no Skipper runs here,
// and the read-back is the copy's backend weights, which is what Skipper reads. The
// builtin checks run against the real Prometheus on series shaped as Skipper's route
// metrics, whose route ids replace every non-word character with `_`.

interface IngressObject {
  metadata: { name: string; generation: number; annotations?: Record<string, string> };
  spec: { rules?: { http?: { paths: { path: string; backend: { service?: { name: string } } }[] } }[] };
}

function userIngress(namespace: string, name: string, service: string): object {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name, namespace, annotations: { [SKIPPER_PREDICATE]: 'Method("GET")' } },
    spec: {
      ingressClassName: 'skipper',
      rules: [
        {
          host: `${service}.example.com`,
          http: {
            paths: [
              {
                path: '/',
                pathType: 'Prefix',
                backend: { service: { name: service, port: { number: 9898 } } },
              },
            ],
          },
        },
      ],
    },
  };
}

describe('skipper router through the operator', () => {
  const { kubeconfigPath, prometheusUrl } = integrationEnv();
  let rig: ReleaseRig;
  let series: LiveSeries;

  const ingress = (name: string) => rig.get<IngressObject>('ingress', name);
  /** The copy's backend weights, or `none` while there is no copy. */
  const weights = async (name: string): Promise<string> =>
    (await ingress(`${name}-canary`))?.metadata.annotations?.[BACKEND_WEIGHTS] ?? 'none';
  /**
   * Skipper's route metrics for the canary backend of the copy `<ingress>-canary`: route ids are
   * `kube_<namespace>__<ingress>__<host>__<path>__<service>`, non-word characters as `_`.
   */
  const skipperTraffic = async (ingressName: string, service: string, ok: number, failed: number) => {
    const word = (text: string) => text.replace(/\W/g, '_');
    const route = `kube_${word(rig.namespace)}__${word(`${ingressName}-canary`)}__${word(`${service}.example.com`)}__${word('/')}__${word(`${service}-canary`)}`;
    for (const [code, perSecond] of [
      ['200', ok],
      ['503', failed],
    ] as const)
      await series.count('skipper_response_duration_seconds_bucket', { route, code, le: '+Inf' }, perSecond);
    // 40 ms per request.
    await series.count(
      'skipper_serve_route_duration_seconds_sum',
      { route, code: '200' },
      (ok + failed) * 0.04,
    );
    await series.count('skipper_serve_route_duration_seconds_count', { route, code: '200' }, ok + failed);
  };
  const builtinChecks = [
    { name: 'request-success-rate', interval: '30s', thresholdRange: { min: 99 } },
    { name: 'request-duration', interval: '30s', thresholdRange: { max: 500 } },
  ];
  const skipperSpec = (
    name: string,
    analysis: Record<string, unknown>,
    extra: Record<string, unknown> = {},
  ) => ({
    provider: 'skipper',
    metricsServer: prometheusUrl,
    ingressRef: { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', name: `${name}-public` },
    analysis,
    ...extra,
  });
  const initialise = (name: string, analysis: Record<string, unknown>, extra?: Record<string, unknown>) =>
    rig.initialise(
      name,
      skipperSpec(name, analysis, extra),
      userIngress(rig.namespace, `${name}-public`, name),
    );

  beforeAll(async () => {
    rig = await startReleaseRig('routers-skipper');
    series = new LiveSeries(prometheusUrl);
  }, 120_000);
  afterAll(async () => {
    await series?.stop();
    await rig?.stop();
  });

  it('steps the backend weights of a copy up to maxWeight on healthy Skipper metrics, then promotes and removes it', async () => {
    await skipperTraffic('web-public', 'web', 50, 0);
    await initialise('web', {
      interval: '10s',
      threshold: 1,
      stepWeight: 20,
      maxWeight: 50,
      metrics: builtinChecks,
    });
    const before = await ingress('web-public');
    const copies: IngressObject[] = [];
    const outcome = await rig.release('web', async () => {
      const copy = await ingress('web-public-canary');
      if (copy !== undefined && copies.length === 0) copies.push(copy);
      return copy?.metadata.annotations?.[BACKEND_WEIGHTS] ?? 'none';
    });
    expect(outcome.status.phase).toBe('Succeeded');
    expect(outcome.seen).toEqual([
      'none',
      '{"web-primary":80,"web-canary":20}',
      '{"web-primary":60,"web-canary":40}',
      '{"web-primary":50,"web-canary":50}',
      'none',
    ]);
    // The copy splits the user's path between primary and canary, ahead of the user's routes.
    const [copy] = copies;
    expect(copy?.metadata.annotations?.[SKIPPER_PREDICATE]).toBe('Weight(100) && Method("GET")');
    expect(copy?.spec.rules?.[0]?.http?.paths.map((p) => `${p.path}:${p.backend.service?.name}`)).toEqual([
      '/:web-primary',
      '/:web-canary',
    ]);
    // The user's Ingress was only read.
    const after = await ingress('web-public');
    expect(after?.metadata.generation).toBe(before?.metadata.generation);
    expect(after?.metadata.annotations).toEqual(before?.metadata.annotations);
  }, 240_000);

  it('rolls back when Skipper reports 5xx for the canary route: the copy is removed', async () => {
    await skipperTraffic('failing-public', 'failing', 10, 10);
    await initialise('failing', {
      interval: '10s',
      threshold: 1,
      stepWeight: 25,
      maxWeight: 50,
      metrics: builtinChecks,
    });
    const outcome = await rig.release('failing', () => weights('failing-public'));
    expect(outcome.status.phase).toBe('Failed');
    expect(outcome.seen).toContain('{"web-primary":75,"web-canary":25}'.replaceAll('web', 'failing'));
    expect(outcome.seen.at(-1)).toBe('none');
    expect(await ingress('failing-public-canary')).toBeUndefined();
  }, 240_000);

  it('deleting a Canary mid-release removes the copy and leaves the user Ingress as it was', async () => {
    await initialise(
      'gone',
      { interval: '10s', threshold: 1, stepWeight: 10, maxWeight: 50 },
      { revertOnDeletion: true },
    );
    const before = await ingress('gone-public');
    await setImage(kubeconfigPath, rig.namespace, 'gone', 'example/web:2');
    await waitFor(
      'the canary Ingress',
      async () => (await ingress('gone-public-canary')) !== undefined,
      120_000,
    );
    await rig.deleteCanary('gone');
    expect(await ingress('gone-public-canary')).toBeUndefined();
    const after = await ingress('gone-public');
    expect(after?.metadata.generation).toBe(before?.metadata.generation);
    expect(after?.metadata.annotations).toEqual(before?.metadata.annotations);
  }, 180_000);

  it('refuses, once and for good, an Ingress with no path to the apex and a routing field Skipper has no form for', async () => {
    const { namespace } = rig;
    await apply(
      kubeconfigPath,
      userIngress(namespace, 'elsewhere-public', 'some-other-service'),
      deployment(namespace, 'elsewhere', 'example/web:1'),
      canary(
        namespace,
        'elsewhere',
        skipperSpec('elsewhere', { interval: '10s', threshold: 1, stepWeight: 20, maxWeight: 50 }),
      ),
      userIngress(namespace, 'timed-public', 'timed'),
      deployment(namespace, 'timed', 'example/web:1'),
      canary(namespace, 'timed', {
        ...skipperSpec('timed', { interval: '10s', threshold: 1, stepWeight: 20, maxWeight: 50 }),
        service: { port: 9898, timeout: '10s' },
      }),
    );
    const refused = [
      ['elsewhere', 'spec.ingressRef: Ingress'],
      ['timed', 'spec.service.timeout is not applied by provider skipper'],
    ] as const;
    await rig.refused(refused);
    for (const [name] of refused) expect(await ingress(`${name}-public-canary`)).toBeUndefined();
    // A/B testing Skipper cannot route is refused at admission already.
    const ab = canary(
      namespace,
      'ab',
      skipperSpec('ab', {
        interval: '10s',
        iterations: 2,
        match: [{ headers: { 'x-canary': { exact: '1' } } }],
      }),
    );
    await expect(apply(kubeconfigPath, ab)).rejects.toThrow(
      /spec.analysis.match \(A\/B testing\) needs a provider/,
    );
  }, 120_000);
});
