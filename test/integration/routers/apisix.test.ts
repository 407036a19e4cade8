import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { apisixRouter, type ApisixRoute } from '../../../src/routers/apisix.ts';
import type { UpstreamCrds } from '../../../src/routers/index.ts';
import { waitForCanary } from '../../harness/canary.ts';
import { integrationEnv } from '../../harness/env.ts';
import { installCrdFiles, upstreamCrdFiles } from '../../harness/third-party.ts';
import { apply, canary, deployment } from '../controller/fixtures.ts';
import { FAILING_HOOK, readyOf, startReleaseRig, type ReleaseRig } from './releases.ts';

// The apisix router through the operator on the real apiserver, with the ApisixRoute CRD of
// APISIX's ingress controller (its Go module, v1.7.0: the newest the module proxy serves
// here), so every copy Fledge writes passes APISIX's schema. No APISIX runs: the read-back
// is the copy's backend weights, which the ingress controller hands to APISIX.

const ROUTES = 'apisixroutes.apisix.apache.org';
const ORIGINAL = 'fledge.dev/original-configuration';

function userRoute(namespace: string, name: string, service: string, extraBackends: object[] = []): object {
  return {
    apiVersion: 'apisix.apache.org/v2',
    kind: 'ApisixRoute',
    metadata: { name, namespace, labels: { team: 'a' } },
    spec: {
      http: [
        {
          name: 'main',
          match: { hosts: [`${service}.example.com`], paths: ['/*'] },
          backends: [{ serviceName: service, servicePort: 9898 }, ...extraBackends],
        },
      ],
    },
  };
}

describe('apisix router through the operator', () => {
  const { kubeconfigPath } = integrationEnv();
  let rig: ReleaseRig;

  const route = (name: string) => rig.get<ApisixRoute>(ROUTES, name);
  /** `<service>=<weight>` of the copy's backends, `none` while there is no copy. */
  const weights = async (name: string): Promise<string> => {
    const copy = await route(`public-${name}-canary`);
    if (copy === undefined) return 'none';
    return (copy.spec.http?.[0]?.backends ?? []).map((b) => `${b.serviceName}=${b.weight}`).join(' ');
  };

  beforeAll(async () => {
    const files = await upstreamCrdFiles(apisixRouter.crds as UpstreamCrds);
    await installCrdFiles(kubeconfigPath, files, [ROUTES]);
    rig = await startReleaseRig('routers-apisix');
  }, 120_000);
  afterAll(async () => rig?.stop());

  it('writes the copy of the route above it, steps the weights and promotes', async () => {
    await rig.initialise(
      'web',
      {
        provider: 'apisix',
        routeRef: { apiVersion: 'apisix.apache.org/v2', kind: 'ApisixRoute', name: 'public' },
        analysis: { interval: '10s', threshold: 1, stepWeight: 20, maxWeight: 50 },
      },
      userRoute(rig.namespace, 'public', 'web'),
    );
    const copy = await route('public-web-canary');
    expect(copy?.spec.http?.[0]).toMatchObject({
      name: 'main',
      priority: 10000,
      match: { hosts: ['web.example.com'], paths: ['/*'] },
    });
    expect(copy?.metadata.labels).toEqual({ team: 'a' });

    const outcome = await rig.release('web', () => weights('web'));
    expect(outcome.status.phase).toBe('Succeeded');
    expect(outcome.seen).toEqual([
      'web-primary=100 web-canary=0',
      'web-primary=80 web-canary=20',
      'web-primary=60 web-canary=40',
      'web-primary=50 web-canary=50',
      'web-primary=100 web-canary=0',
    ]);
    // The user's route is only read.
    expect((await route('public'))?.spec.http?.[0]?.backends).toEqual([
      { serviceName: 'web', servicePort: 9898 },
    ]);
  }, 180_000);

  it('a failing check rolls the weights back to the primary', async () => {
    await rig.initialise(
      'bad',
      {
        provider: 'apisix',
        routeRef: { apiVersion: 'apisix.apache.org/v2', kind: 'ApisixRoute', name: 'public-bad' },
        analysis: {
          interval: '10s',
          threshold: 1,
          stepWeight: 20,
          maxWeight: 60,
          webhooks: [
            { name: 'smoke', type: 'rollout', url: `${rig.hooks.base}${FAILING_HOOK}`, timeout: '5s' },
          ],
        },
      },
      userRoute(rig.namespace, 'public-bad', 'bad'),
    );
    const read = async () => {
      const copy = await route('public-bad-bad-canary');
      return (copy?.spec.http?.[0]?.backends ?? []).map((b) => `${b.serviceName}=${b.weight}`).join(' ');
    };
    const outcome = await rig.release('bad', read);
    expect(outcome.status.phase).toBe('Failed');
    expect(outcome.seen).toContain('bad-primary=80 bad-canary=20');
    expect(await read()).toBe('bad-primary=100 bad-canary=0');
  }, 180_000);

  it('a route splitting the apex with another backend ends in a terminal condition and gets no copy', async () => {
    await apply(
      kubeconfigPath,
      userRoute(rig.namespace, 'shared', 'split', [{ serviceName: 'legacy', servicePort: 80 }]),
      deployment(rig.namespace, 'split', 'example/web:1'),
      canary(rig.namespace, 'split', {
        provider: 'apisix',
        routeRef: { apiVersion: 'apisix.apache.org/v2', kind: 'ApisixRoute', name: 'shared' },
        analysis: { interval: '10s', threshold: 1, stepWeight: 20, maxWeight: 50 },
      }),
    );
    const { status } = await waitForCanary(
      kubeconfigPath,
      rig.namespace,
      'split',
      (s) => readyOf(s)?.status === 'False' && readyOf(s)?.reason === 'CapabilityMissing',
      { what: 'split refused', timeoutMs: 60_000 },
    );
    expect(readyOf(status)?.message).toContain('http route "main" has 2 backends');
    expect(await route('shared-split-canary')).toBeUndefined();
  }, 90_000);

  it('deleting the Canary restores an adopted copy and deletes one Fledge created', async () => {
    const adoptedSpec = {
      http: [
        { name: 'old', match: { paths: ['/old'] }, backends: [{ serviceName: 'kept', servicePort: 9898 }] },
      ],
    };
    await apply(kubeconfigPath, {
      apiVersion: 'apisix.apache.org/v2',
      kind: 'ApisixRoute',
      metadata: { name: 'public-kept-canary', namespace: rig.namespace, annotations: { owner: 'team-a' } },
      spec: adoptedSpec,
    });
    for (const name of ['kept', 'made']) {
      await rig.initialise(
        name,
        {
          provider: 'apisix',
          revertOnDeletion: true,
          routeRef: { apiVersion: 'apisix.apache.org/v2', kind: 'ApisixRoute', name: 'public' },
          analysis: { interval: '10s', threshold: 1, stepWeight: 20, maxWeight: 50 },
        },
        {
          ...userRoute(rig.namespace, 'public', name),
          metadata: { name: 'public', namespace: rig.namespace },
          spec: {
            http: ['web', 'kept', 'made'].map((service) => ({
              name: service,
              match: { hosts: [`${service}.example.com`], paths: ['/*'] },
              backends: [{ serviceName: service, servicePort: 9898 }],
            })),
          },
        },
      );
    }
    const adopted = await route('public-kept-canary');
    expect(adopted?.metadata.annotations?.[ORIGINAL]).toBeDefined();
    expect(await weights('kept')).toBe('kept-primary=100 kept-canary=0');
    expect(await weights('made')).toBe('made-primary=100 made-canary=0');

    for (const name of ['kept', 'made']) await rig.deleteCanary(name);
    const restored = await route('public-kept-canary');
    expect(restored?.spec).toEqual(adoptedSpec);
    expect(
      Object.keys(restored?.metadata.annotations ?? {}).filter(
        (k) => !k.startsWith('kubectl.kubernetes.io/'),
      ),
    ).toEqual(['owner']);
    expect(await route('public-made-canary')).toBeUndefined();
  }, 180_000);
});
