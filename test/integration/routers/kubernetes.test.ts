import { beforeAll, describe, expect, it } from '@jest/globals';
import type { KubeObjectClient } from '../../../src/kube/client.ts';
import {
  KubernetesRouter,
  RouterConfigError,
  applyServices,
  type RoutableCanary,
  type ServiceObject,
} from '../../../src/routers/index.ts';
import { createTestNamespace } from '../../harness/env.ts';
import { createCanary, getJson, objectClient, targetRef } from './helpers.ts';

// The kubernetes router flips the apex Service's selector on a real apiserver
// and reads the split back from it.

describe('kubernetes router', () => {
  let namespace = '';
  let client: KubeObjectClient;
  let canary: RoutableCanary;
  let router: KubernetesRouter;
  const selectors = { primary: { app: 'bg-primary' }, canary: { app: 'bg' } };
  const apexSelector = async () => (await getJson<ServiceObject>(namespace, 'service', 'bg')).spec.selector;

  beforeAll(async () => {
    namespace = await createTestNamespace('routers-kube');
    client = objectClient();
    router = new KubernetesRouter({ client });
    canary = await createCanary(namespace, 'bg', {
      provider: 'kubernetes',
      targetRef: targetRef('bg'),
      service: { port: 9898 },
      analysis: { interval: '1m', iterations: 2 },
    });
  });

  it('reports not applied before the Services exist', async () => {
    const routes = await router.getRoutes(canary);
    expect(routes).toEqual({
      applied: false,
      reason: `Service bg, bg-primary, bg-canary not found in ${namespace}`,
    });
  });

  it('starts on the primary, switches to the canary and back, reading the selector back each time', async () => {
    await applyServices(client, { canary, selectors });
    await router.reconcile(canary);
    expect(await router.getRoutes(canary)).toMatchObject({
      applied: true,
      primaryWeight: 100,
      canaryWeight: 0,
    });

    await router.setRoutes(canary, { primaryWeight: 0, canaryWeight: 100, mirror: false });
    expect(await apexSelector()).toEqual({ app: 'bg' });
    expect(await router.getRoutes(canary)).toEqual({
      applied: true,
      primaryWeight: 0,
      canaryWeight: 100,
      mirrored: false,
      cookies: {
        sessionAffinityCookie: null,
        primarySessionAffinityCookie: null,
        previousSessionAffinityCookie: null,
      },
    });

    // Re-applying the Services must not undo the switch.
    await applyServices(client, { canary, selectors });
    expect(await apexSelector()).toEqual({ app: 'bg' });

    await router.setRoutes(canary, { primaryWeight: 100, canaryWeight: 0, mirror: false });
    expect(await apexSelector()).toEqual({ app: 'bg-primary' });
    expect(await router.getRoutes(canary)).toMatchObject({
      applied: true,
      primaryWeight: 100,
      canaryWeight: 0,
    });
  });

  it('refuses a partial split and leaves the selector alone', async () => {
    await expect(
      router.setRoutes(canary, { primaryWeight: 50, canaryWeight: 50, mirror: false }),
    ).rejects.toThrow(RouterConfigError);
    expect(await apexSelector()).toEqual({ app: 'bg-primary' });
  });

  it('reports a hand-edited selector as not applied', async () => {
    await client.patch(
      { apiVersion: 'v1', kind: 'Service', namespace, name: 'bg' },
      { spec: { selector: { app: 'something-else' } } },
      'application/merge-patch+json',
    );
    const routes = await router.getRoutes(canary);
    expect(routes.applied).toBe(false);
    expect(!routes.applied && routes.reason).toMatch(/matches neither bg-primary nor bg-canary/);
  });
});
