import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { V1ConfigMap } from '@kubernetes/client-node';
import { createTestNamespace, integrationEnv } from '../../harness/env.ts';
import { waitFor } from '../../harness/processes.ts';
import { apiserverPool } from '../../../src/kube/agent.ts';
import { createKubeClients, loadKubeConfig } from '../../../src/kube/client.ts';
import type { KubeConfig } from '../../../src/kube/config.ts';
import { PatchStrategy } from '../../../src/kube/patch.ts';
import { createInformer } from '../../../src/runtime/informer.ts';
import { FaultProxy } from './fault-proxy.ts';

const configMapRef = (namespace: string, name: string) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  namespace,
  name,
});

describe('pooled apiserver connections', () => {
  let namespace: string;
  let kubeConfig: KubeConfig;
  const cleanups: (() => unknown)[] = [];

  beforeAll(async () => {
    namespace = await createTestNamespace('rt-conns');
    kubeConfig = loadKubeConfig({ kubeconfigPath: integrationEnv().kubeconfigPath });
    await createKubeClients(kubeConfig).objects.create<V1ConfigMap>({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { namespace, name: 'pooled' },
      data: { n: '0' },
    });
  });

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  async function through(): Promise<{ proxy: FaultProxy; proxied: KubeConfig }> {
    const proxy = await FaultProxy.start(kubeConfig.getCurrentCluster()!.server);
    const proxied = proxy.kubeConfigThrough(kubeConfig);
    cleanups.push(() => proxy.close());
    cleanups.push(() => apiserverPool(proxied).close());
    return { proxy, proxied };
  }

  it('sends 50 sequential reconcile-shaped requests over at most two connections', async () => {
    const { proxy, proxied } = await through();
    const { objects } = createKubeClients(proxied);
    const ref = configMapRef(namespace, 'pooled');
    for (let i = 0; i < 25; i++) {
      await objects.get(ref);
      await objects.patch(ref, { data: { n: String(i) } }, PatchStrategy.MergePatch);
    }
    expect(proxy.accepted).toBeLessThanOrEqual(2);
    const counts = apiserverPool(proxied).counts();
    expect(counts.opened).toBe(proxy.accepted);
    // 50 requests plus one discovery lookup.
    expect(counts.requests.request).toBe(51);
  });

  it('a watch and requests share the kubeconfig pool', async () => {
    const { proxy, proxied } = await through();
    const clients = createKubeClients(proxied);
    const informer = createInformer<V1ConfigMap>(proxied, {
      resource: 'configmaps',
      path: `/api/v1/namespaces/${namespace}/configmaps`,
      list: () => clients.objects.list<V1ConfigMap>({ apiVersion: 'v1', kind: 'ConfigMap', namespace }),
      restartBackoff: { baseMs: 200, maxMs: 1_000 },
    });
    cleanups.push(() => informer.stop());
    informer.addHandler({ enqueue: () => {} });
    informer.start();
    await informer.whenSynced();
    const ref = configMapRef(namespace, 'pooled');
    for (let i = 0; i < 20; i++) {
      await clients.objects.get(ref);
      await clients.objects.patch(ref, { data: { n: `w${i}` } }, PatchStrategy.MergePatch);
    }
    await waitFor(
      'the watch delivers the last patch',
      async () => informer.get(namespace, 'pooled')?.data?.n === 'w19',
      10_000,
    );
    const counts = apiserverPool(proxied).counts();
    expect(counts.requests.watch).toBe(1);
    expect(counts.inFlight).toBeGreaterThanOrEqual(1); // the watch
    // HTTP/2: the watch and the requests are streams on the same connection or two.
    expect(proxy.accepted).toBeLessThanOrEqual(2);
    expect(counts.opened).toBe(proxy.accepted);
    expect(counts.connections).toBeLessThanOrEqual(2);
  });

  it('recovers on new connections after the proxy drops them', async () => {
    const { proxy, proxied } = await through();
    const { objects } = createKubeClients(proxied, { requestTimeoutMs: 3_000 });
    const ref = configMapRef(namespace, 'pooled');
    for (let i = 0; i < 5; i++) await objects.get(ref);
    const before = proxy.accepted;
    expect(before).toBeLessThanOrEqual(2);

    proxy.setMode('refuse');
    await expect(objects.get(ref)).rejects.toThrow();
    proxy.setMode('forward');
    // The dropped sockets are gone from the pool: the next requests connect anew and succeed.
    let recovered = false;
    for (let attempt = 0; attempt < 5 && !recovered; attempt++) {
      recovered = await objects.get(ref).then(
        () => true,
        () => false,
      );
    }
    expect(recovered).toBe(true);
    for (let i = 0; i < 10; i++) await objects.get(ref);
    expect(proxy.accepted).toBeGreaterThan(before);
    expect(proxy.accepted - before).toBeLessThanOrEqual(3);
  });

  it('drops a connection that stopped answering after a request times out', async () => {
    const { proxy, proxied } = await through();
    const { objects } = createKubeClients(proxied, { requestTimeoutMs: 1_000 });
    const ref = configMapRef(namespace, 'pooled');
    await objects.get(ref);
    // The connection stays open but passes nothing: only the request timeout notices.
    proxy.setMode('blackhole');
    await expect(objects.get(ref)).rejects.toThrow();
    proxy.setMode('forward');
    const before = proxy.accepted;
    await objects.get(ref);
    expect(proxy.accepted).toBe(before + 1);
    expect(apiserverPool(proxied).counts().resets).toBe(1);
  });

  it('a burst of first requests waits for the first connection and shares it', async () => {
    const { proxy, proxied } = await through();
    const { objects } = createKubeClients(proxied);
    const path = `/api/v1/namespaces/${namespace}`;
    await Promise.all(
      Array.from({ length: 10 }, () => objects.request('GET', path, undefined, undefined, {})),
    );
    expect(proxy.accepted).toBe(1);
  });
});
