import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { CanarySpec } from '../../../src/api/index.ts';
import type { KubeObjectClient } from '../../../src/kube/client.ts';
import {
  GatewayApiRouter,
  ORIGINAL_CONFIGURATION_ANNOTATION,
  RouterConfigError,
  type HTTPRoute,
  type RoutableCanary,
} from '../../../src/routers/index.ts';
import { kubectl } from '../../harness/control-plane.ts';
import { createTestNamespace, integrationEnv } from '../../harness/env.ts';
import { waitFor } from '../../harness/processes.ts';
import {
  acceptRoutes,
  installGatewayApiCrds,
  startFakeGatewayController,
  type FakeGatewayController,
} from '../../harness/third-party.ts';
import { createCanary, getJson, objectClient, targetRef } from './helpers.ts';

// The gatewayapi router against a real apiserver with the upstream Gateway API
// CRDs installed, so every HTTPRoute Fledge writes passes the real schema and
// CEL rules. A fake controller stands in for a Gateway implementation.

const HTTPROUTES = 'httproutes.gateway.networking.k8s.io';
const gatewayRefs = [{ name: 'public', namespace: 'gateways' }];
const progressive = { interval: '1m', stepWeight: 10, maxWeight: 50 };
const RECONCILE = 'kustomize.toolkit.fluxcd.io/reconcile';
const DRIFT = 'helm.toolkit.fluxcd.io/driftDetection';
const FLUX_OPT_OUT = { [RECONCILE]: 'disabled', [DRIFT]: 'disabled' };

function weights(route: HTTPRoute): string[][] {
  return (route.spec.rules ?? []).map((rule) => (rule.backendRefs ?? []).map((b) => `${b.name}:${b.weight}`));
}

describe('gatewayapi router', () => {
  let namespace = '';
  let client: KubeObjectClient;
  let router: GatewayApiRouter;
  let kubeconfigPath = '';
  const route = (name: string) => getJson<HTTPRoute>(namespace, HTTPROUTES, name);
  const canaryFor = (name: string, spec: Partial<CanarySpec> = {}) =>
    createCanary(namespace, name, {
      provider: 'gatewayapi:v1',
      targetRef: targetRef(name),
      service: { port: 9898, gatewayRefs },
      analysis: progressive,
      ...spec,
    });

  beforeAll(async () => {
    kubeconfigPath = integrationEnv().kubeconfigPath;
    await installGatewayApiCrds(kubeconfigPath);
    namespace = await createTestNamespace('routers-gw');
    client = objectClient();
    let token = 0;
    router = new GatewayApiRouter({ client, randomToken: () => `t${++token}` });
  });

  describe('weights and acceptance', () => {
    let canary: RoutableCanary;
    beforeAll(async () => {
      canary = await canaryFor('web', {
        service: {
          port: 9898,
          gatewayRefs,
          hosts: ['web.example.com'],
          timeout: '30s',
          backendTimeout: '10s',
        },
      });
    });

    it('creates the HTTPRoute at 100% primary and reports it not applied until its parent accepts it', async () => {
      await router.reconcile(canary);
      const created = await route('web');
      expect(created.spec.hostnames).toEqual(['web.example.com']);
      expect(created.spec.parentRefs).toEqual([
        expect.objectContaining({ name: 'public', namespace: 'gateways' }),
      ]);
      expect(weights(created)).toEqual([['web-primary:100', 'web-canary:0']]);
      expect(created.spec.rules?.[0]?.timeouts).toEqual({ request: '30s', backendRequest: '10s' });
      expect(created.metadata.ownerReferences).toEqual([
        expect.objectContaining({ kind: 'Canary', uid: canary.metadata.uid, controller: true }),
      ]);
      expect(created.metadata.annotations).toEqual(FLUX_OPT_OUT);

      expect(await router.getRoutes(canary)).toEqual({
        applied: false,
        reason:
          'Gateway gateways/public has not reported on the HTTPRoute yet (is its Gateway controller running?)',
        written: { primaryWeight: 100, canaryWeight: 0, mirrored: false },
      });
      await acceptRoutes(kubeconfigPath, namespace, 'web');
      expect(await router.getRoutes(canary)).toMatchObject({
        applied: true,
        primaryWeight: 100,
        canaryWeight: 0,
      });
    });

    it('steps the weights; each new generation is not applied until accepted again', async () => {
      for (const canaryWeight of [10, 20, 50]) {
        await router.setRoutes(canary, { primaryWeight: 100 - canaryWeight, canaryWeight, mirror: false });
        const written = await route('web');
        expect(weights(written)).toEqual([
          [`web-primary:${100 - canaryWeight}`, `web-canary:${canaryWeight}`],
        ]);
        const pending = await router.getRoutes(canary);
        expect(pending).toMatchObject({
          applied: false,
          written: { primaryWeight: 100 - canaryWeight, canaryWeight, mirrored: false },
        });
        expect(!pending.applied && pending.reason).toMatch(
          new RegExp(
            `last reported on generation ${written.metadata.generation! - 1}, the HTTPRoute is at ${written.metadata.generation}`,
          ),
        );
        await acceptRoutes(kubeconfigPath, namespace, 'web');
        expect(await router.getRoutes(canary)).toMatchObject({ applied: true, canaryWeight });
      }
    });

    it('keeps the weights on reconcile and writes nothing when nothing changed', async () => {
      const before = await route('web');
      await router.reconcile(canary);
      const after = await route('web');
      expect(weights(after)).toEqual([['web-primary:50', 'web-canary:50']]);
      expect(after.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
    });

    it('reports a parent that rejects the route', async () => {
      await acceptRoutes(kubeconfigPath, namespace, 'web', {
        accepted: false,
        reason: 'NotAllowedByListeners',
      });
      const rejected = await router.getRoutes(canary);
      expect(!rejected.applied && rejected.reason).toMatch(
        /did not accept the HTTPRoute: NotAllowedByListeners/,
      );
    });

    it('hands the route to the apex Service on finalize and releases it from the Canary', async () => {
      await router.finalize(canary, { release: true });
      const handedOff = await route('web');
      expect(handedOff.metadata.ownerReferences ?? []).toEqual([]);
      expect(handedOff.metadata.annotations ?? {}).toEqual({});
      expect(handedOff.spec.rules?.map((r) => r.backendRefs?.map((b) => b.name))).toEqual([['web']]);
      expect(handedOff.spec.hostnames).toEqual(['web.example.com']);
    });
  });

  it('routes A/B matches by the weights and the rest to the primary', async () => {
    const canary = await canaryFor('ab', {
      service: { port: 80, gatewayRefs, match: [{ uri: { prefix: '/api' } }] },
      analysis: {
        interval: '1m',
        iterations: 5,
        match: [
          { headers: { 'x-canary': { exact: 'insider' } } },
          { headers: { 'user-agent': { suffix: 'Firefox' } }, queryParams: { beta: { exact: 'on' } } },
        ],
      },
    });
    await router.reconcile(canary);
    await router.setRoutes(canary, { primaryWeight: 0, canaryWeight: 100, mirror: false });
    const written = await route('ab');
    expect(weights(written)).toEqual([['ab-primary:0', 'ab-canary:100'], ['ab-primary:1']]);
    expect(written.spec.rules?.[0]?.matches).toEqual([
      {
        path: { type: 'PathPrefix', value: '/api' },
        headers: [{ type: 'Exact', name: 'x-canary', value: 'insider' }],
      },
      {
        path: { type: 'PathPrefix', value: '/api' },
        headers: [{ type: 'RegularExpression', name: 'user-agent', value: '^.*Firefox$' }],
        queryParams: [{ type: 'Exact', name: 'beta', value: 'on' }],
      },
    ]);
    await acceptRoutes(kubeconfigPath, namespace, 'ab');
    expect(await router.getRoutes(canary)).toMatchObject({
      applied: true,
      primaryWeight: 0,
      canaryWeight: 100,
    });
  });

  it('mirrors to the canary with mirrorWeight as percent', async () => {
    const canary = await canaryFor('mirror', {
      analysis: { interval: '1m', iterations: 5, mirror: true, mirrorWeight: 30 },
    });
    await router.setRoutes(canary, { primaryWeight: 100, canaryWeight: 0, mirror: true });
    const written = await route('mirror');
    expect(written.spec.rules?.[0]?.filters).toEqual([
      {
        type: 'RequestMirror',
        requestMirror: {
          backendRef: { group: '', kind: 'Service', name: 'mirror-canary', port: 9898 },
          percent: 30,
        },
      },
    ]);
    await acceptRoutes(kubeconfigPath, namespace, 'mirror');
    expect(await router.getRoutes(canary)).toMatchObject({ applied: true, mirrored: true, canaryWeight: 0 });
    await router.setRoutes(canary, { primaryWeight: 100, canaryWeight: 0, mirror: false });
    expect((await route('mirror')).spec.rules?.[0]?.filters).toBeUndefined();
  });

  describe('session affinity', () => {
    let canary: RoutableCanary;
    let controller: FakeGatewayController;
    beforeAll(async () => {
      canary = await canaryFor('sticky', {
        analysis: {
          ...progressive,
          sessionAffinity: { cookieName: 'fledge-canary', primaryCookieName: 'fledge-primary', maxAge: 600 },
        },
      });
      controller = startFakeGatewayController(kubeconfigPath, namespace);
    });
    afterAll(async () => {
      await controller.stop();
    });

    const applied = async () => {
      let readback = await router.getRoutes(canary);
      await waitFor('the fake Gateway controller to accept the route', async () => {
        readback = await router.getRoutes(canary);
        return readback.applied;
      });
      return readback;
    };

    it('mints cookies, pins their holders, and keeps them (read from the route) when status lost them', async () => {
      await router.reconcile(canary);
      const first = await router.setRoutes(canary, { primaryWeight: 90, canaryWeight: 10, mirror: false });
      expect(first.cookies.sessionAffinityCookie).toMatch(/^fledge-canary=t\d+$/);
      expect(first.cookies.primarySessionAffinityCookie).toMatch(/^fledge-primary=t\d+$/);
      expect(weights(await route('sticky'))).toEqual([
        ['sticky-canary:1'],
        ['sticky-primary:1'],
        ['sticky-primary:90', 'sticky-canary:10'],
      ]);
      expect(await applied()).toMatchObject({ applied: true, canaryWeight: 10, cookies: first.cookies });

      // canary.status never recorded the cookies (as after a crash): the route still has them.
      const second = await router.setRoutes(canary, { primaryWeight: 80, canaryWeight: 20, mirror: false });
      expect(second.cookies).toEqual(first.cookies);
      const setCookie = (await route('sticky')).spec.rules?.[2]?.backendRefs?.[1]?.filters?.[0];
      expect(setCookie?.responseHeaderModifier?.add).toEqual([
        { name: 'Set-Cookie', value: `${first.cookies.sessionAffinityCookie}; Max-Age=600; Path=/` },
      ]);
    });

    it('expires the canary cookie once the canary is back to weight 0', async () => {
      const before = await applied();
      const canaryCookie = before.applied ? before.cookies.sessionAffinityCookie : 'not applied';
      expect(canaryCookie).toMatch(/^fledge-canary=/);
      const done = await router.setRoutes(canary, { primaryWeight: 100, canaryWeight: 0, mirror: false });
      expect(done.cookies).toEqual({
        sessionAffinityCookie: null,
        primarySessionAffinityCookie: null,
        previousSessionAffinityCookie: canaryCookie,
      });
      const rules = (await route('sticky')).spec.rules ?? [];
      expect(rules).toHaveLength(2);
      expect(rules[0]?.backendRefs?.[0]?.filters?.[0]?.responseHeaderModifier?.add?.[0]?.value).toBe(
        `${canaryCookie}; Max-Age=0; Path=/`,
      );
      expect(await applied()).toMatchObject({ applied: true, canaryWeight: 0, cookies: done.cookies });
    });
  });

  it('writes every supported spec.service setting in a form the Gateway API schema accepts', async () => {
    const canary = await canaryFor('full', {
      service: {
        port: 8080,
        gatewayRefs: [
          { name: 'public', namespace: 'gateways', sectionName: 'https' },
          { name: 'internal', group: 'gateway.networking.k8s.io', kind: 'Gateway', port: 443 },
        ],
        hosts: ['full.example.com', '*.full.example.com'],
        match: [
          { uri: { prefix: '/' }, headers: { host: { prefix: 'full.' } } },
          { uri: { exact: '/healthz' }, method: { exact: 'GET' } },
        ],
        headers: {
          request: { set: { 'x-route': 'canary' }, add: { 'x-trace': '1' }, remove: ['x-debug'] },
          response: { set: { 'cache-control': 'no-store' } },
        },
        rewrite: { authority: 'backend.internal' },
        mirror: [{ backendRef: { name: 'shadow', port: 8080 } }],
        timeout: '1m30s',
        backendTimeout: '2.5s',
        apex: { labels: { team: 'full' }, annotations: { 'example.com/route': 'yes' } },
      },
      analysis: {
        ...progressive,
        mirror: true,
        mirrorWeight: 10,
        sessionAffinity: {
          cookieName: 'c.1',
          primaryCookieName: 'p-1',
          domain: 'full.example.com',
          path: '/',
          httpOnly: true,
          secure: true,
          sameSite: 'None',
          partitioned: true,
        },
      },
    });
    await router.setRoutes(canary, { primaryWeight: 70, canaryWeight: 30, mirror: true });
    const written = await route('full');
    expect(written.metadata.labels).toMatchObject({ team: 'full' });
    expect(written.spec.rules).toHaveLength(3);
    await acceptRoutes(kubeconfigPath, namespace, 'full');
    expect(await router.getRoutes(canary)).toMatchObject({ applied: true, canaryWeight: 30, mirrored: true });
  });

  it('hands a route it created to the apex Service on finalize and leaves it to the Canary when not releasing', async () => {
    const canary = await canaryFor('gc');
    await router.setRoutes(canary, { primaryWeight: 70, canaryWeight: 30, mirror: false });
    await router.finalize(canary, { release: false });
    const handedOff = await route('gc');
    expect(handedOff.spec.rules?.map((r) => r.backendRefs?.map((b) => b.name))).toEqual([['gc']]);
    expect(handedOff.metadata.annotations ?? {}).toEqual({});
    expect(handedOff.metadata.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'Canary', uid: canary.metadata.uid, controller: true }),
    ]);
  });

  it('adopts an existing HTTPRoute and restores it on finalize', async () => {
    // The owner keeps helm-controller's drift detection off already.
    const original = {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'shop', namespace, annotations: { [DRIFT]: 'disabled' } },
      spec: {
        parentRefs: [{ name: 'public', namespace: 'gateways' }],
        hostnames: ['shop.example.com'],
        rules: [{ backendRefs: [{ name: 'shop', port: 80 }] }],
      },
    };
    await kubectl(kubeconfigPath, ['create', '-f', '-'], JSON.stringify(original));
    const before = await route('shop');
    const canary = await canaryFor('shop', { service: { port: 80, gatewayRefs } });

    await router.reconcile(canary);
    const adopted = await route('shop');
    expect(adopted.metadata.ownerReferences).toBeUndefined();
    expect(JSON.parse(adopted.metadata.annotations?.[ORIGINAL_CONFIGURATION_ANNOTATION] ?? '{}')).toEqual({
      spec: before.spec,
      annotations: { [RECONCILE]: null, [DRIFT]: 'disabled' },
    });
    expect(adopted.metadata.annotations).toMatchObject(FLUX_OPT_OUT);
    expect(weights(adopted)).toEqual([['shop-primary:100', 'shop-canary:0']]);
    expect(adopted.spec.hostnames).toBeUndefined();

    await router.setRoutes(canary, { primaryWeight: 60, canaryWeight: 40, mirror: false });
    await router.finalize(canary, { release: true });
    const restored = await route('shop');
    expect(restored.spec).toEqual(before.spec);
    expect(restored.metadata.annotations).toEqual({ [DRIFT]: 'disabled' });
  });

  it('rejects a spec Gateway API cannot express without touching the route', async () => {
    const canary = await canaryFor('bad', {
      service: {
        port: 80,
        gatewayRefs,
        match: [{ uri: { prefix: '/' }, withoutHeaders: { a: { exact: 'b' } } }],
      },
    });
    await expect(router.reconcile(canary)).rejects.toThrow(RouterConfigError);
    await expect(route('bad')).rejects.toThrow(/NotFound|not found/);
  });
});
