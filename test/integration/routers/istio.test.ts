import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { istioRouter, type UpstreamCrds, type VirtualService } from '../../../src/routers/index.ts';
import type { IstioHTTPRoute } from '../../../src/routers/virtualservice.ts';
import { inPhase, waitForCanary } from '../../harness/canary.ts';
import { kubectl, waitEstablished } from '../../harness/control-plane.ts';
import { createTestNamespace, integrationEnv } from '../../harness/env.ts';
import { startOperatorProcess, type OperatorProcess } from '../../harness/operator.ts';
import { waitFor } from '../../harness/processes.ts';
import { upstreamCrdFiles } from '../../harness/third-party.ts';
import { apply, canary, deployment, setImage } from '../controller/fixtures.ts';
import { startHookServer, type HookServer } from '../controller/hook-server.ts';
import { sampleDistinct } from '../controller/sampling.ts';
import { getJson } from './helpers.ts';

// The istio router through the operator, on a real apiserver holding Istio's own CRDs
// (istio.io/api), so every VirtualService and DestinationRule Fledge writes passes
// Istio's schema. No istiod runs: nothing reports status, which the router reads as
// taken (istiod writes status only when its status reporting is on).

const VIRTUAL_SERVICES = 'virtualservices.networking.istio.io';
const DESTINATION_RULES = 'destinationrules.networking.istio.io';
const ORIGINAL_ANNOTATION = 'fledge.dev/original-configuration';

async function installIstioCrds(kubeconfigPath: string): Promise<void> {
  const files = await upstreamCrdFiles(istioRouter.crds as UpstreamCrds);
  const fileArgs = files.flatMap((file) => ['-f', file]);
  await kubectl(kubeconfigPath, ['apply', '--server-side', '--force-conflicts', ...fileArgs]);
  await waitEstablished(kubeconfigPath, [`crd/${VIRTUAL_SERVICES}`, `crd/${DESTINATION_RULES}`]);
  // Established is not enough: storage for a new kind answers 429 for a moment.
  await waitFor('Istio kinds to be served', async () => {
    await kubectl(kubeconfigPath, ['get', `${VIRTUAL_SERVICES},${DESTINATION_RULES}`, '--all-namespaces']);
    return true;
  });
}

describe('istio router through the operator', () => {
  const { kubeconfigPath } = integrationEnv();
  let namespace = '';
  let operator: OperatorProcess;
  let hooks: HookServer;
  const virtualService = (name: string) => getJson<VirtualService>(namespace, VIRTUAL_SERVICES, name);
  /** `<host>=<weight>` of every destination of every http and tcp route, as the apiserver has it. */
  const weights = async (name: string) => {
    const vs = await virtualService(name);
    return [...(vs.spec.http ?? []), ...(vs.spec.tcp ?? [])]
      .flatMap((r) => (r.route ?? []).map((d) => `${d.destination.host}=${d.weight ?? '-'}`))
      .join(' ');
  };

  beforeAll(async () => {
    await installIstioCrds(kubeconfigPath);
    namespace = await createTestNamespace('istio');
    hooks = await startHookServer();
    hooks.answerWith((call) =>
      call.url.startsWith('/fail') ? { status: 500, body: 'no' } : { status: 200 },
    );
    operator = await startOperatorProcess({ kubeconfigPath, namespace });
  }, 120_000);
  afterAll(async () => {
    await operator?.stop();
    await hooks?.close();
  });

  it('steps the weights up to maxWeight, read back from the VirtualService, and promotes', async () => {
    await apply(
      kubeconfigPath,
      deployment(namespace, 'web', 'example/web:1'),
      canary(namespace, 'web', {
        provider: 'istio',
        service: {
          port: 9898,
          hosts: ['web.example.com'],
          gateways: ['istio-system/public', 'mesh'],
          match: [{ uri: { prefix: '/' } }],
          timeout: '30s',
          retries: { attempts: 2, perTryTimeout: '10s', retryOn: 'gateway-error' },
          headers: { response: { set: { 'x-served-by': 'fledge' } } },
          corsPolicy: { allowOrigins: [{ exact: 'https://web.example.com' }], maxAge: '1h' },
          trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } },
        },
        analysis: { interval: '10s', threshold: 1, maxWeight: 50, stepWeight: 20 },
      }),
    );
    await waitForCanary(kubeconfigPath, namespace, 'web', inPhase('Initialized'), { what: 'initialisation' });
    const created = await virtualService('web');
    expect(created.spec.hosts).toEqual(['web.example.com', 'web']);
    expect(created.spec.gateways).toEqual(['istio-system/public', 'mesh']);
    expect(created.spec.http?.[0]).toMatchObject({ timeout: '30s', corsPolicy: { maxAge: '3600s' } });
    expect(created.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'Canary', name: 'web' });
    for (const host of ['web-primary', 'web-canary']) {
      const rule = await getJson<{ spec: unknown }>(namespace, DESTINATION_RULES, host);
      expect(rule.spec).toEqual({ host, trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } } });
    }
    expect(await weights('web')).toBe('web-primary=100 web-canary=0');

    const route = sampleDistinct(() => weights('web'));
    await setImage(kubeconfigPath, namespace, 'web', 'example/web:2');
    let outcome: Awaited<ReturnType<typeof waitForCanary>>;
    let routePath: string[];
    try {
      outcome = await waitForCanary(kubeconfigPath, namespace, 'web', inPhase('Succeeded', 'Failed'));
    } finally {
      routePath = await route.stop();
    }
    // The sampler may stop between the last write and its next read: read once more.
    const final = await weights('web');
    if (routePath.at(-1) !== final) routePath.push(final);
    expect(outcome.status.phase).toBe('Succeeded');
    expect(routePath).toEqual([
      'web-primary=100 web-canary=0',
      'web-primary=80 web-canary=20',
      'web-primary=60 web-canary=40',
      'web-primary=50 web-canary=50',
      'web-primary=100 web-canary=0',
    ]);
    const progressing = outcome.path
      .filter((step) => step.startsWith('Progressing:'))
      .map((step) => Number(step.split(':')[1]));
    expect([...new Set(progressing)].filter((w) => w > 0)).toEqual([20, 40, 50]);
  }, 180_000);

  it('rolls a failing check back to 100% primary', async () => {
    await apply(
      kubeconfigPath,
      deployment(namespace, 'failing', 'example/failing:1'),
      canary(namespace, 'failing', {
        provider: 'istio',
        service: { port: 9898 },
        analysis: {
          interval: '10s',
          threshold: 1,
          maxWeight: 50,
          stepWeight: 25,
          webhooks: [{ name: 'smoke', type: 'rollout', url: `${hooks.base}/fail` }],
        },
      }),
    );
    await waitForCanary(kubeconfigPath, namespace, 'failing', inPhase('Initialized'), {
      what: 'initialisation',
    });
    await setImage(kubeconfigPath, namespace, 'failing', 'example/failing:2');
    const { status } = await waitForCanary(
      kubeconfigPath,
      namespace,
      'failing',
      inPhase('Succeeded', 'Failed'),
    );
    expect(status.phase).toBe('Failed');
    expect(await weights('failing')).toBe('failing-primary=100 failing-canary=0');
  }, 180_000);

  it('routes A/B matches to the canary, and mirrors a blue/green run', async () => {
    await apply(
      kubeconfigPath,
      deployment(namespace, 'ab', 'example/ab:1'),
      canary(namespace, 'ab', {
        provider: 'istio',
        service: { port: 9898 },
        analysis: {
          interval: '10s',
          threshold: 1,
          iterations: 2,
          match: [
            { headers: { 'x-canary': { exact: 'insider' } } },
            { headers: { cookie: { regex: '^(.*?;)?(canary=always)(;.*)?$' } } },
            { sourceLabels: { app: 'frontend' } },
          ],
        },
      }),
      deployment(namespace, 'mirrored', 'example/mirrored:1'),
      canary(namespace, 'mirrored', {
        provider: 'istio',
        service: { port: 9898 },
        analysis: { interval: '10s', threshold: 1, iterations: 2, mirror: true, mirrorWeight: 40 },
      }),
    );
    for (const name of ['ab', 'mirrored'])
      await waitForCanary(kubeconfigPath, namespace, name, inPhase('Initialized'), {
        what: `${name} initialised`,
      });
    const seen = (name: string) =>
      sampleDistinct(async () => JSON.stringify((await virtualService(name)).spec.http));
    const abSpecs = seen('ab');
    const mirrorSpecs = seen('mirrored');
    await setImage(kubeconfigPath, namespace, 'ab', 'example/ab:2');
    await setImage(kubeconfigPath, namespace, 'mirrored', 'example/mirrored:2');
    const ab = await waitForCanary(kubeconfigPath, namespace, 'ab', inPhase('Succeeded', 'Failed'));
    const mirrored = await waitForCanary(
      kubeconfigPath,
      namespace,
      'mirrored',
      inPhase('Succeeded', 'Failed'),
    );
    const abPath = (await abSpecs.stop()).map((text) => JSON.parse(text) as VirtualService['spec']['http']);
    const mirrorPath = (await mirrorSpecs.stop()).map(
      (text) => JSON.parse(text) as VirtualService['spec']['http'],
    );
    expect(ab.status.phase).toBe('Succeeded');
    expect(mirrored.status.phase).toBe('Succeeded');

    const during = abPath.find((http) =>
      http?.[0]?.route?.some((d) => d.destination.host === 'ab-canary' && d.weight === 100),
    );
    expect(during?.[0]?.match).toEqual([
      { headers: { 'x-canary': { exact: 'insider' } } },
      { headers: { cookie: { regex: '^(.*?;)?(canary=always)(;.*)?$' } } },
      { sourceLabels: { app: 'frontend' } },
    ]);
    expect(during?.[1]?.route).toEqual([{ destination: { host: 'ab-primary' }, weight: 100 }]);
    expect(
      mirrorPath.some(
        (http) => http?.[0]?.mirror?.host === 'mirrored-canary' && http[0].mirrorPercentage?.value === 40,
      ),
    ).toBe(true);
    expect((await virtualService('mirrored')).spec.http?.[0]?.mirror).toBeUndefined();
  }, 240_000);

  it('pins sessions by cookie during the run, and expires the cookie once the release is over', async () => {
    await apply(
      kubeconfigPath,
      deployment(namespace, 'sticky', 'example/sticky:1'),
      canary(namespace, 'sticky', {
        provider: 'istio',
        service: { port: 9898 },
        analysis: {
          interval: '10s',
          threshold: 1,
          maxWeight: 50,
          stepWeight: 50,
          sessionAffinity: { cookieName: 'fledge-session', maxAge: 3600 },
        },
      }),
    );
    await waitForCanary(kubeconfigPath, namespace, 'sticky', inPhase('Initialized'), {
      what: 'initialisation',
    });
    const specs = sampleDistinct(async () => JSON.stringify((await virtualService('sticky')).spec.http));
    await setImage(kubeconfigPath, namespace, 'sticky', 'example/sticky:2');
    const { status } = await waitForCanary(
      kubeconfigPath,
      namespace,
      'sticky',
      inPhase('Succeeded', 'Failed'),
    );
    const path = (await specs.stop()).map((text) => JSON.parse(text) as IstioHTTPRoute[]);
    expect(status.phase).toBe('Succeeded');

    const during = path.find((http) => http[0]?.name === 'fledge-sticky-canary');
    const setCookie = during?.[1]?.route?.[1]?.headers?.response?.add?.['Set-Cookie'] ?? '';
    const cookie = setCookie.split(';')[0] ?? '';
    expect(cookie).toMatch(/^fledge-session=\w+$/);
    expect(setCookie).toContain('Max-Age=3600');
    const sticky = new RegExp(during?.[0]?.match?.[0]?.headers?.cookie?.regex ?? '^$');
    expect(sticky.test(`other=1; ${cookie}`)).toBe(true);
    expect(during?.[0]?.route).toEqual([{ destination: { host: 'sticky-canary' } }]);

    // Promoted: the cookie of this run is now the previous one, expired on a route to the primary.
    const after = (await virtualService('sticky')).spec.http ?? [];
    expect(after.map((r) => r.name)).toEqual(['fledge-expire-cookie', 'fledge-weighted']);
    expect(after[0]?.route?.[0]?.headers?.response?.add?.['Set-Cookie']).toBe(`${cookie}; Max-Age=0; Path=/`);
    expect(status.previousSessionAffinityCookie).toBe(cookie);
  }, 180_000);

  it("with revertOnDeletion gives an adopted VirtualService and DestinationRule back as they were, keeping the VirtualService's own routes meanwhile", async () => {
    const original = {
      hosts: ['adopted', 'adopted.example.com'],
      gateways: ['mesh'],
      http: [
        { name: 'docs', match: [{ uri: { prefix: '/docs' } }], route: [{ destination: { host: 'docs' } }] },
        { name: 'main', route: [{ destination: { host: 'adopted' } }] },
      ],
    };
    const originalRule = { host: 'adopted-primary', trafficPolicy: { tls: { mode: 'DISABLE' } } };
    await apply(
      kubeconfigPath,
      {
        apiVersion: 'networking.istio.io/v1',
        kind: 'VirtualService',
        metadata: { name: 'adopted', namespace, labels: { team: 'web' } },
        spec: original,
      },
      {
        apiVersion: 'networking.istio.io/v1',
        kind: 'DestinationRule',
        metadata: { name: 'adopted-primary', namespace },
        spec: originalRule,
      },
    );
    await apply(
      kubeconfigPath,
      deployment(namespace, 'adopted', 'example/adopted:1'),
      canary(namespace, 'adopted', {
        provider: 'istio',
        revertOnDeletion: true,
        service: { port: 9898 },
        analysis: { interval: '10s', threshold: 1, maxWeight: 50, stepWeight: 25 },
      }),
    );
    await waitForCanary(kubeconfigPath, namespace, 'adopted', inPhase('Initialized'), {
      what: 'initialisation',
    });
    const taken = await virtualService('adopted');
    expect(taken.metadata.annotations?.[ORIGINAL_ANNOTATION]).toBeDefined();
    expect(taken.metadata.ownerReferences ?? []).toEqual([]);
    expect(taken.spec.http?.map((r) => r.name)).toEqual(['docs', 'fledge-weighted']);
    // The DestinationRule is Fledge's too (no trafficPolicy in the spec), its original saved.
    const rule = await getJson<{ metadata: { annotations?: Record<string, string> }; spec: unknown }>(
      namespace,
      DESTINATION_RULES,
      'adopted-primary',
    );
    expect(rule.spec).toEqual({ host: 'adopted-primary' });
    expect(rule.metadata.annotations?.[ORIGINAL_ANNOTATION]).toBeDefined();

    await kubectl(kubeconfigPath, ['-n', namespace, 'delete', 'canary', 'adopted', '--wait=false']);
    await waitFor(
      'the Canary to be gone',
      async () =>
        (
          await kubectl(kubeconfigPath, [
            '-n',
            namespace,
            'get',
            'canary',
            'adopted',
            '--ignore-not-found',
            '-o',
            'name',
          ])
        ).trim() === '',
      90_000,
    );
    const restored = await virtualService('adopted');
    expect(restored.spec).toEqual(original);
    expect(restored.metadata.labels).toEqual({ team: 'web' });
    const restoredRule = await getJson<{ metadata: { annotations?: Record<string, string> }; spec: unknown }>(
      namespace,
      DESTINATION_RULES,
      'adopted-primary',
    );
    expect(restoredRule.spec).toEqual(originalRule);
    expect(restoredRule.metadata.annotations?.[ORIGINAL_ANNOTATION]).toBeUndefined();
    expect(Object.keys(restored.metadata.annotations ?? {}).filter((k) => !k.startsWith('kubectl.'))).toEqual(
      [],
    );
  }, 180_000);

  it('refuses a spec a VirtualService cannot express, with a terminal condition and no traffic moved', async () => {
    await apply(
      kubeconfigPath,
      deployment(namespace, 'tcp', 'example/tcp:1'),
      canary(namespace, 'tcp', {
        provider: 'istio',
        service: { port: 9898, appProtocol: 'tcp' },
        analysis: { interval: '10s', iterations: 2, match: [{ headers: { 'x-canary': { exact: 'yes' } } }] },
      }),
    );
    const { status } = await waitForCanary(
      kubeconfigPath,
      namespace,
      'tcp',
      (s) => s.conditions?.find((c) => c.type === 'Ready')?.reason === 'CapabilityMissing',
      { what: 'tcp refused', timeoutMs: 60_000 },
    );
    const ready = status.conditions?.find((c) => c.type === 'Ready');
    expect(ready?.status).toBe('False');
    expect(ready?.message).toContain('spec.analysis.match');
    const found = await kubectl(kubeconfigPath, [
      '-n',
      namespace,
      'get',
      VIRTUAL_SERVICES,
      '--ignore-not-found',
      '-o',
      'name',
    ]);
    expect(found).not.toContain('/tcp');
  }, 120_000);
});
