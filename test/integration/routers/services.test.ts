import { beforeAll, describe, expect, it } from '@jest/globals';
import type { KubeObjectClient } from '../../../src/kube/client.ts';
import {
  ORIGINAL_CONFIGURATION_ANNOTATION,
  RouterConfigError,
  applyServices,
  finalizeServices,
  type ServiceObject,
} from '../../../src/routers/index.ts';
import { kubectl } from '../../harness/control-plane.ts';
import { createTestNamespace, integrationEnv } from '../../harness/env.ts';
import type { RoutableCanary } from '../../../src/routers/router.ts';
import { createCanary, getJson, objectClient, targetRef } from './helpers.ts';

// Services against the real apiserver: what it stores is what Fledge meant,
// re-applying writes nothing, and an adopted Service is handed back intact.

const blueGreen = { interval: '1m', iterations: 3 };
const selectorsFor = (app: string) => ({ primary: { app: `${app}-primary` }, canary: { app } });

describe('Services', () => {
  let namespace = '';
  let client: KubeObjectClient;
  const service = (name: string) => getJson<ServiceObject>(namespace, 'service', name);

  beforeAll(async () => {
    namespace = await createTestNamespace('routers-svc');
    client = objectClient();
  });

  it('creates apex, primary and canary Services owned by the Canary, and re-applying changes nothing', async () => {
    const canary = await createCanary(namespace, 'web', {
      provider: 'kubernetes',
      targetRef: targetRef('web'),
      service: {
        port: 80,
        targetPort: 8080,
        appProtocol: 'http',
        apex: { labels: { tier: 'edge' }, annotations: { 'example.com/owner': 'web-team' } },
        canary: { labels: { track: 'canary' } },
      },
      analysis: blueGreen,
    });
    await applyServices(client, { canary, selectors: selectorsFor('web') });

    const [apex, primary, canaryService] = await Promise.all(
      ['web', 'web-primary', 'web-canary'].map(service),
    );
    expect(apex?.spec.selector).toEqual({ app: 'web-primary' });
    expect(primary?.spec.selector).toEqual({ app: 'web-primary' });
    expect(canaryService?.spec.selector).toEqual({ app: 'web' });
    for (const s of [apex, primary, canaryService]) {
      expect(s?.spec.type).toBe('ClusterIP');
      expect(s?.spec.ports).toEqual([
        { name: 'http', port: 80, targetPort: 8080, protocol: 'TCP', appProtocol: 'http' },
      ]);
      expect(s?.metadata.ownerReferences).toEqual([
        expect.objectContaining({ kind: 'Canary', name: 'web', uid: canary.metadata.uid, controller: true }),
      ]);
    }
    expect(apex?.metadata.labels).toEqual({ tier: 'edge' });
    expect(apex?.metadata.annotations).toMatchObject({ 'example.com/owner': 'web-team' });
    expect(canaryService?.metadata.labels).toEqual({ track: 'canary' });

    const versions = [apex, primary, canaryService].map((s) => s?.metadata.resourceVersion);
    await applyServices(client, { canary, selectors: selectorsFor('web') });
    const again = await Promise.all(['web', 'web-primary', 'web-canary'].map(service));
    expect(again.map((s) => s.metadata.resourceVersion)).toEqual(versions);
  });

  it('exposes discovered container ports and makes primary and canary headless', async () => {
    const canary = await createCanary(namespace, 'disc', {
      provider: 'kubernetes',
      targetRef: targetRef('disc'),
      service: { port: 9898, portDiscovery: true },
      analysis: blueGreen,
    });
    const podTemplate = {
      spec: {
        containers: [
          {
            name: 'app',
            ports: [
              { name: 'http', containerPort: 9898 },
              { name: 'metrics', containerPort: 9797 },
            ],
          },
          { name: 'istio-proxy', ports: [{ containerPort: 15090 }] },
        ],
      },
    };
    await applyServices(client, { canary, selectors: selectorsFor('disc'), podTemplate });
    const canaryService = await service('disc-canary');
    expect(canaryService.spec.ports?.map((p) => `${p.name}:${p.port}->${p.targetPort}`)).toEqual([
      'http:9898->9898',
      'metrics:9797->9797',
    ]);

    const headless = await createCanary(namespace, 'hl', {
      provider: 'kubernetes',
      targetRef: targetRef('hl'),
      service: { port: 80, headless: true },
      analysis: blueGreen,
    });
    await applyServices(client, { canary: headless, selectors: selectorsFor('hl') });
    expect((await service('hl-primary')).spec.clusterIP).toBe('None');
    expect((await service('hl-canary')).spec.clusterIP).toBe('None');
    expect((await service('hl')).spec.clusterIP).not.toBe('None');
  });

  it('recreates its primary and canary Services when headless is switched, both ways', async () => {
    const clusterIPs = async () =>
      Promise.all(
        ['sw', 'sw-primary', 'sw-canary'].map(async (name) => (await service(name)).spec.clusterIP),
      );
    const uidOf = async (name: string) => (await service(name)).metadata.uid;

    const canary = await createCanary(namespace, 'sw', {
      provider: 'kubernetes',
      targetRef: targetRef('sw'),
      service: { port: 80 },
      analysis: blueGreen,
    });
    await applyServices(client, { canary, selectors: selectorsFor('sw') });
    const [apexIP] = await clusterIPs();
    const firstPrimary = await uidOf('sw-primary');

    const headless = {
      ...canary,
      spec: { ...canary.spec, service: { ...canary.spec.service, headless: true } },
    } as RoutableCanary;
    await applyServices(client, { canary: headless, selectors: selectorsFor('sw') });
    expect(await clusterIPs()).toEqual([apexIP, 'None', 'None']);
    expect(await uidOf('sw-primary')).not.toBe(firstPrimary);

    await applyServices(client, { canary, selectors: selectorsFor('sw') });
    const [apexAfter, primaryIP, canaryIP] = await clusterIPs();
    expect(apexAfter).toBe(apexIP);
    expect(primaryIP).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(canaryIP).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect((await service('sw-primary')).metadata.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'Canary', uid: canary.metadata.uid, controller: true }),
    ]);
  });

  it('adopts an existing apex Service and restores it on finalize', async () => {
    const { kubeconfigPath } = integrationEnv();
    const original = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'shop', namespace, labels: { team: 'shop' } },
      spec: {
        type: 'NodePort',
        selector: { app: 'shop' },
        ports: [
          { name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' },
          { name: 'admin', port: 9000, targetPort: 9000, protocol: 'TCP' },
        ],
      },
    };
    await kubectl(kubeconfigPath, ['create', '-f', '-'], JSON.stringify(original));
    const before = await service('shop');
    const canary = await createCanary(namespace, 'shop', {
      provider: 'kubernetes',
      targetRef: targetRef('shop'),
      service: {
        port: 80,
        targetPort: 8080,
        apex: {
          labels: { managed: 'fledge', team: 'payments' },
          annotations: { 'example.com/owner': 'fledge' },
        },
      },
      analysis: blueGreen,
    });

    await applyServices(client, { canary, selectors: selectorsFor('shop') });
    const adopted = await service('shop');
    expect(adopted.spec.selector).toEqual({ app: 'shop-primary' });
    expect(adopted.spec.type).toBe('NodePort');
    expect(adopted.spec.ports).toEqual([
      expect.objectContaining({
        name: 'http',
        port: 80,
        targetPort: 8080,
        nodePort: before.spec.ports?.[0]?.nodePort,
      }),
    ]);
    expect(adopted.metadata.ownerReferences).toBeUndefined();
    expect(adopted.metadata.labels).toEqual({ team: 'payments', managed: 'fledge' });
    expect(adopted.metadata.annotations?.['example.com/owner']).toBe('fledge');
    expect(JSON.parse(adopted.metadata.annotations?.[ORIGINAL_CONFIGURATION_ANNOTATION] ?? '{}')).toEqual({
      selector: { app: 'shop' },
      ports: before.spec.ports,
      labels: { managed: null, team: 'shop' },
      annotations: { 'example.com/owner': null },
    });

    // Once adopted, re-applying leaves it alone (the target's selector is now a real switch, not the original).
    await applyServices(client, { canary, selectors: selectorsFor('shop') });
    expect((await service('shop')).metadata.resourceVersion).toBe(adopted.metadata.resourceVersion);

    await finalizeServices(client, canary, { app: 'shop' });
    const restored = await service('shop');
    expect(restored.spec.selector).toEqual({ app: 'shop' });
    expect(restored.spec.ports).toEqual(before.spec.ports);
    expect(restored.metadata.annotations?.[ORIGINAL_CONFIGURATION_ANNOTATION]).toBeUndefined();
    // Labels and annotations as the owner had them: changed ones restored, added ones removed.
    expect(restored.metadata.labels).toEqual({ team: 'shop' });
    expect(restored.metadata.annotations ?? {}).toEqual({});
  });

  it('restores the owner labels on finalize even when all labels were removed since adoption', async () => {
    const { kubeconfigPath } = integrationEnv();
    const original = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'bare', namespace, labels: { team: 'bare' } },
      spec: { selector: { app: 'bare' }, ports: [{ name: 'http', port: 80, protocol: 'TCP' }] },
    };
    await kubectl(kubeconfigPath, ['create', '-f', '-'], JSON.stringify(original));
    const canary = await createCanary(namespace, 'bare', {
      provider: 'kubernetes',
      targetRef: targetRef('bare'),
      service: { port: 80, apex: { labels: { team: 'payments' } } },
      analysis: blueGreen,
    });
    await applyServices(client, { canary, selectors: selectorsFor('bare') });
    expect((await service('bare')).metadata.labels).toEqual({ team: 'payments' });
    await kubectl(kubeconfigPath, [
      'patch',
      'service',
      'bare',
      '-n',
      namespace,
      '--type=json',
      '-p',
      '[{"op":"remove","path":"/metadata/labels"}]',
    ]);

    await finalizeServices(client, canary, { app: 'bare' });
    const restored = await service('bare');
    expect(restored.metadata.labels).toEqual({ team: 'bare' });
    expect(restored.spec.selector).toEqual({ app: 'bare' });
  });

  it('points an apex it created at the target pods and releases it on finalize', async () => {
    const canary = await createCanary(namespace, 'rel', {
      provider: 'kubernetes',
      targetRef: targetRef('rel'),
      service: { port: 80 },
      analysis: blueGreen,
    });
    await applyServices(client, { canary, selectors: selectorsFor('rel') });
    await finalizeServices(client, canary, { app: 'rel' });
    const apex = await service('rel');
    expect(apex.spec.selector).toEqual({ app: 'rel' });
    expect(apex.metadata.ownerReferences ?? []).toEqual([]);
    // The primary and canary Services stay owned, for garbage collection.
    expect((await service('rel-canary')).metadata.ownerReferences).toHaveLength(1);
  });

  it('refuses an apex Service another Canary controls', async () => {
    const first = await createCanary(namespace, 'dup-a', {
      provider: 'kubernetes',
      targetRef: targetRef('dup'),
      service: { port: 80, name: 'dup' },
      analysis: blueGreen,
    });
    const second = await createCanary(namespace, 'dup-b', {
      provider: 'kubernetes',
      targetRef: targetRef('dup'),
      service: { port: 80, name: 'dup' },
      analysis: blueGreen,
    });
    await applyServices(client, { canary: first, selectors: selectorsFor('dup') });
    const attempt = applyServices(client, { canary: second, selectors: selectorsFor('dup') });
    await expect(attempt).rejects.toThrow(RouterConfigError);
    await expect(applyServices(client, { canary: second, selectors: selectorsFor('dup') })).rejects.toThrow(
      /Service .*\/dup is controlled by Canary fledge.dev\/v1beta1 "dup-a"/,
    );
  });
});
