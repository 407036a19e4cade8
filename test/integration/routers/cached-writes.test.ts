import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';
import { CachedObjectClient } from '../../../src/kube/cached-client.ts';
import { loadKubeConfig } from '../../../src/kube/client.ts';
import { GatewayApiRouter, applyServices, type RoutableCanary } from '../../../src/routers/index.ts';
import { createInformer, type SupervisedInformer } from '../../../src/runtime/informer.ts';
import { createTestNamespace, integrationEnv } from '../../harness/env.ts';
import { waitFor } from '../../harness/processes.ts';
import { installGatewayApiCrds } from '../../harness/third-party.ts';
import { createCanary, targetRef } from './helpers.ts';

// What a reconcile that finds the world as it wants it costs the real apiserver: Services read
// from an informer's cache and not re-applied, an HTTPRoute read once and not re-applied.

describe('applies only what the cache shows differs', () => {
  let namespace = '';
  let services: SupervisedInformer<KubernetesObject>;
  let client: CachedObjectClient;
  const sent: string[] = [];
  const writes = () => sent.filter((request) => !request.startsWith('GET'));
  const reads = () => sent.filter((request) => request.startsWith('GET'));

  beforeAll(async () => {
    const { kubeconfigPath } = integrationEnv();
    await installGatewayApiCrds(kubeconfigPath);
    namespace = await createTestNamespace('routers-cached');
    const kubeConfig = loadKubeConfig({ kubeconfigPath });
    const path = `/api/v1/namespaces/${namespace}/services`;
    client = new CachedObjectClient(kubeConfig, (ref) =>
      ref.kind === 'Service' && ref.namespace === namespace ? services : undefined,
    );
    services = createInformer<KubernetesObject>(kubeConfig, {
      resource: 'services',
      path,
      list: () =>
        client.request<KubernetesListObject<KubernetesObject>>('GET', path, undefined, undefined, {}),
    });
    services.start();
    await services.whenSynced();
    // Counts every request the client sends from here on (discovery included).
    const request = client.request.bind(client);
    client.request = (async (method: string, target: string, ...rest: unknown[]) => {
      sent.push(`${method} ${target}`);
      return (request as (...args: unknown[]) => Promise<unknown>)(method, target, ...rest);
    }) as typeof client.request;
  });
  afterAll(() => services.stop());

  it('writes the three Services once, then neither reads nor writes them while nothing changed', async () => {
    const canary = await createCanary(namespace, 'web', {
      provider: 'kubernetes',
      targetRef: targetRef('web'),
      service: { port: 80, targetPort: 8080, apex: { labels: { tier: 'edge' } } },
      analysis: { interval: '1m', iterations: 3 },
    });
    const inputs = { canary, selectors: { primary: { app: 'web-primary' }, canary: { app: 'web' } } };
    await applyServices(client, inputs);
    expect(writes()).toHaveLength(3);
    await waitFor('the informer to see the Services', async () => services.list(namespace).length === 3);
    // The cache keeps no managedFields: a Service has no spec.replicas whose owners are asked about.
    expect(services.list(namespace).map((service) => service.metadata?.managedFields)).toEqual([
      undefined,
      undefined,
      undefined,
    ]);

    sent.length = 0;
    for (let i = 0; i < 3; i++) await applyServices(client, inputs);
    expect(sent).toEqual([]);

    // A changed spec is written, and only the Service it changes.
    const relabelled: RoutableCanary = {
      ...canary,
      spec: { ...canary.spec, service: { ...canary.spec.service!, apex: { labels: { tier: 'web' } } } },
    };
    await applyServices(client, { ...inputs, canary: relabelled });
    expect(writes()).toEqual([`PATCH /api/v1/namespaces/${namespace}/services/web`]);
    expect(reads()).toEqual([]);
  });

  it('writes the HTTPRoute once, then only reads it while nothing changed', async () => {
    const canary = await createCanary(namespace, 'api', {
      provider: 'gatewayapi:v1',
      targetRef: targetRef('api'),
      service: { port: 9898, gatewayRefs: [{ name: 'public', namespace: 'gateways' }] },
      analysis: { interval: '1m', stepWeight: 10, maxWeight: 50 },
    });
    const router = new GatewayApiRouter({ client, randomToken: () => 't' });
    const routes = { primaryWeight: 70, canaryWeight: 30, mirror: false };
    await router.setRoutes(canary, routes);
    sent.length = 0;
    await router.setRoutes(canary, routes);
    await router.reconcile(canary);
    expect(writes()).toEqual([]);
    expect(reads()).toHaveLength(2);

    await router.setRoutes(canary, { primaryWeight: 50, canaryWeight: 50, mirror: false });
    expect(writes()).toHaveLength(1);
  });
});
