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
import type { CanarySpec } from '../../../src/api/index.ts';
import { createCanary, getJson, objectClient, targetRef } from './helpers.ts';

// Services against the real apiserver: what it stores is what Fledge meant,
// re-applying writes nothing, and an adopted Service is handed back intact.

const blueGreen = { interval: '1m', iterations: 3 };
const RECONCILE = 'kustomize.toolkit.fluxcd.io/reconcile';
const DRIFT = 'helm.toolkit.fluxcd.io/driftDetection';
const FLUX_OPT_OUT = { [RECONCILE]: 'disabled', [DRIFT]: 'disabled' };
const selectorsFor = (app: string) => ({ primary: { app: `${app}-primary` }, canary: { app } });

describe('Services', () => {
  let namespace = '';
  let client: KubeObjectClient;
  const service = (name: string) => getJson<ServiceObject>(namespace, 'service', name);
  const blueGreenCanary = (name: string, spec: CanarySpec['service']) =>
    createCanary(namespace, name, {
      provider: 'kubernetes',
      targetRef: targetRef(name),
      service: spec,
      analysis: blueGreen,
    });

  beforeAll(async () => {
    namespace = await createTestNamespace('routers-svc');
    client = objectClient();
  });

  it('creates apex, primary and canary Services owned by the Canary and kept off by Flux, and re-applying changes nothing', async () => {
    const canary = await blueGreenCanary('web', {
      port: 80,
      targetPort: 8080,
      appProtocol: 'http',
      apex: { labels: { tier: 'edge' }, annotations: { 'example.com/owner': 'web-team' } },
      canary: { labels: { track: 'canary' } },
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
    expect(apex?.metadata.annotations).toEqual({ 'example.com/owner': 'web-team', ...FLUX_OPT_OUT });
    expect(primary?.metadata.annotations).toEqual(FLUX_OPT_OUT);
    expect(canaryService?.metadata.annotations).toEqual(FLUX_OPT_OUT);
    expect(canaryService?.metadata.labels).toEqual({ track: 'canary' });

    const versions = [apex, primary, canaryService].map((s) => s?.metadata.resourceVersion);
    await applyServices(client, { canary, selectors: selectorsFor('web') });
    const again = await Promise.all(['web', 'web-primary', 'web-canary'].map(service));
    expect(again.map((s) => s.metadata.resourceVersion)).toEqual(versions);
  });

  it('exposes discovered container ports and makes primary and canary headless', async () => {
    const canary = await blueGreenCanary('disc', { port: 9898, portDiscovery: true });
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

    const headless = await blueGreenCanary('hl', { port: 80, headless: true });
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

    const canary = await blueGreenCanary('sw', { port: 80 });
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
    // The owner keeps kustomize-controller off already, and has nothing to say to helm-controller.
    const original = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name: 'shop',
        namespace,
        labels: { team: 'shop' },
        annotations: { [RECONCILE]: 'disabled' },
      },
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
    const canary = await blueGreenCanary('shop', {
      port: 80,
      targetPort: 8080,
      apex: {
        labels: { managed: 'fledge', team: 'payments' },
        annotations: { 'example.com/owner': 'fledge' },
      },
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
    expect(adopted.metadata.annotations).toMatchObject({ 'example.com/owner': 'fledge', ...FLUX_OPT_OUT });
    expect(JSON.parse(adopted.metadata.annotations?.[ORIGINAL_CONFIGURATION_ANNOTATION] ?? '{}')).toEqual({
      selector: { app: 'shop' },
      ports: before.spec.ports,
      labels: { managed: null, team: 'shop' },
      annotations: { 'example.com/owner': null, [RECONCILE]: 'disabled', [DRIFT]: null },
    });

    // Once adopted, re-applying leaves it alone (the target's selector is now a real switch, not the original).
    await applyServices(client, { canary, selectors: selectorsFor('shop') });
    expect((await service('shop')).metadata.resourceVersion).toBe(adopted.metadata.resourceVersion);

    // Handed back the same way whether or not the Canary keeps what it created.
    await finalizeServices(client, canary, { app: 'shop' }, { release: false });
    const restored = await service('shop');
    expect(restored.spec.selector).toEqual({ app: 'shop' });
    expect(restored.spec.ports).toEqual(before.spec.ports);
    // Labels and annotations as the owner had them: changed ones restored, added ones removed,
    // the owner's own Flux mark kept.
    expect(restored.metadata.labels).toEqual({ team: 'shop' });
    expect(restored.metadata.annotations).toEqual({ [RECONCILE]: 'disabled' });
  });

  it('saves the Flux marks of a Service an older Fledge adopted, and takes them off on finalize', async () => {
    const { kubeconfigPath } = integrationEnv();
    const ports = [{ name: 'http', port: 80, targetPort: 80, protocol: 'TCP' }];
    // As an older Fledge left it: adopted, pointed at the primary, no Flux marks and none saved.
    const older = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name: 'old',
        namespace,
        annotations: {
          [ORIGINAL_CONFIGURATION_ANNOTATION]: JSON.stringify({ selector: { app: 'old' }, ports }),
          [DRIFT]: 'enabled',
        },
      },
      spec: { selector: { app: 'old-primary' }, ports },
    };
    await kubectl(kubeconfigPath, ['create', '-f', '-'], JSON.stringify(older));
    const canary = await blueGreenCanary('old', { port: 80 });
    await applyServices(client, { canary, selectors: selectorsFor('old') });
    const updated = await service('old');
    expect(updated.metadata.annotations).toMatchObject(FLUX_OPT_OUT);
    expect(JSON.parse(updated.metadata.annotations?.[ORIGINAL_CONFIGURATION_ANNOTATION] ?? '{}')).toEqual({
      selector: { app: 'old' },
      ports,
      annotations: { [RECONCILE]: null, [DRIFT]: 'enabled' },
    });

    await finalizeServices(client, canary, { app: 'old' }, { release: true });
    const restored = await service('old');
    expect(restored.spec.selector).toEqual({ app: 'old' });
    expect(restored.metadata.annotations).toEqual({ [DRIFT]: 'enabled' });
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
    const canary = await blueGreenCanary('bare', { port: 80, apex: { labels: { team: 'payments' } } });
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

    await finalizeServices(client, canary, { app: 'bare' }, { release: true });
    const restored = await service('bare');
    expect(restored.metadata.labels).toEqual({ team: 'bare' });
    expect(restored.spec.selector).toEqual({ app: 'bare' });
  });

  it('points an apex it created at the target pods, without the Flux marks, and releases it when asked', async () => {
    // The spec's own value for one of the keys is what stays once Fledge lets go.
    const spec = { port: 80, apex: { annotations: { [DRIFT]: 'enabled' } } };
    const released = await blueGreenCanary('rel', spec);
    const owned = await blueGreenCanary('own', spec);
    for (const canary of [released, owned]) {
      const app = canary.metadata.name;
      await applyServices(client, { canary, selectors: selectorsFor(app) });
      expect((await service(app)).metadata.annotations).toEqual(FLUX_OPT_OUT);
      await finalizeServices(client, canary, { app }, { release: canary === released });
      const apex = await service(app);
      expect(apex.spec.selector).toEqual({ app });
      expect(apex.metadata.annotations).toEqual({ [DRIFT]: 'enabled' });
    }
    expect((await service('rel')).metadata.ownerReferences ?? []).toEqual([]);
    // Not released: it goes with its Canary, like the primary and canary Services.
    for (const name of ['own', 'rel-canary']) {
      expect((await service(name)).metadata.ownerReferences).toHaveLength(1);
    }
  });

  it('leaves an apex it created alone when the target is gone', async () => {
    const canary = await blueGreenCanary('gone', { port: 80 });
    await applyServices(client, { canary, selectors: selectorsFor('gone') });
    const before = await service('gone');
    await finalizeServices(client, canary, undefined, { release: false });
    expect((await service('gone')).metadata.resourceVersion).toBe(before.metadata.resourceVersion);
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
