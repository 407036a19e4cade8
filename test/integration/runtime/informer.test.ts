import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { V1Deployment } from '@kubernetes/client-node';
import { createTestNamespace, integrationEnv } from '../../harness/env.ts';
import { waitFor } from '../../harness/processes.ts';
import { createKubeClients, loadKubeConfig, type KubeClients } from '../../../src/kube/client.ts';
import type { KubeConfig } from '../../../src/kube/config.ts';
import { PatchStrategy } from '../../../src/kube/patch.ts';
import { createInformer, type ChangeType, type SupervisedInformer } from '../../../src/runtime/informer.ts';
import { createMetrics, type FledgeMetrics } from '../../../src/telemetry/metrics.ts';
import { FaultProxy } from './fault-proxy.ts';

function deployment(namespace: string, name: string, replicas = 1): V1Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { namespace, name },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.10' }] },
      },
    },
  };
}

interface Seen {
  key: string;
  change: ChangeType;
}

function deploymentInformer(
  kubeConfig: KubeConfig,
  namespace: string,
  metrics: FledgeMetrics,
  tuning: { stallTimeoutMs?: number } = {},
): { informer: SupervisedInformer<V1Deployment>; seen: Seen[] } {
  // Short request timeout so requests stuck behind a frozen proxy fail fast.
  const clients = createKubeClients(kubeConfig, { requestTimeoutMs: 3_000 });
  const informer = createInformer<V1Deployment>(kubeConfig, {
    resource: 'deployments',
    path: `/apis/apps/v1/namespaces/${namespace}/deployments`,
    list: () => clients.objects.list<V1Deployment>({ apiVersion: 'apps/v1', kind: 'Deployment', namespace }),
    restartBackoff: { baseMs: 200, maxMs: 1_000 },
    stallTimeoutMs: tuning.stallTimeoutMs ?? 120_000,
    metrics: metrics.informer,
  });
  const seen: Seen[] = [];
  informer.addHandler({
    keysFor: (object, change) => {
      seen.push({ key: `${object.metadata?.namespace}/${object.metadata?.name}`, change });
      return [];
    },
    enqueue: () => {},
  });
  return { informer, seen };
}

async function counter(
  metrics: FledgeMetrics,
  name: string,
  labels: Record<string, string>,
): Promise<number> {
  const metric = metrics.registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  const { values } = await metric.get();
  const found = values.find((value) =>
    Object.entries(labels).every(([key, expected]) => value.labels[key] === expected),
  );
  return found?.value ?? 0;
}

const has = (seen: Seen[], key: string, change: ChangeType) => async () =>
  seen.some((entry) => entry.key === key && entry.change === change);

describe('SupervisedInformer against the real apiserver', () => {
  let namespace: string;
  let kubeConfig: KubeConfig;
  let clients: KubeClients;
  const cleanups: (() => unknown)[] = [];

  beforeAll(async () => {
    namespace = await createTestNamespace('rt-informer');
    kubeConfig = loadKubeConfig({ kubeconfigPath: integrationEnv().kubeconfigPath });
    clients = createKubeClients(kubeConfig);
  });

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('lists existing Deployments, then sees creates, updates and deletes', async () => {
    await clients.objects.create(deployment(namespace, 'before'));
    const metrics = createMetrics({ version: 't', meshProvider: 'kubernetes', processMetrics: false });
    const { informer, seen } = deploymentInformer(kubeConfig, namespace, metrics);
    cleanups.push(() => informer.stop());
    informer.start();
    await informer.whenSynced();
    expect(seen).toContainEqual({ key: `${namespace}/before`, change: 'add' });
    expect(informer.get(namespace, 'before')?.spec?.replicas).toBe(1);

    await clients.objects.create(deployment(namespace, 'web'));
    await waitFor('add of web', has(seen, `${namespace}/web`, 'add'), 10_000);

    // A merge patch, not read-then-replace: the deployment controller writes status in between.
    await clients.objects.patch(
      { apiVersion: 'apps/v1', kind: 'Deployment', namespace, name: 'web' },
      { spec: { replicas: 3 } },
      PatchStrategy.MergePatch,
    );
    await waitFor(
      'web scaled to 3 in the cache',
      async () => informer.get(namespace, 'web')?.spec?.replicas === 3,
      10_000,
    );
    expect(seen).toContainEqual({ key: `${namespace}/web`, change: 'update' });

    await clients.objects.delete({ apiVersion: 'apps/v1', kind: 'Deployment', namespace, name: 'web' });
    await waitFor('delete of web', has(seen, `${namespace}/web`, 'delete'), 10_000);
    expect(informer.get(namespace, 'web')).toBeUndefined();
    expect(informer.list().map((object) => object.metadata?.name)).toEqual(['before']);
  }, 60_000);

  it('restarts after the connection fails and catches up on what it missed', async () => {
    const proxy = await FaultProxy.start(kubeConfig.getCurrentCluster()?.server as string);
    cleanups.push(() => proxy.close());
    const metrics = createMetrics({ version: 't', meshProvider: 'kubernetes', processMetrics: false });
    await clients.objects.create(deployment(namespace, 'doomed'));
    const { informer, seen } = deploymentInformer(proxy.kubeConfigThrough(kubeConfig), namespace, metrics);
    cleanups.push(() => informer.stop());
    informer.start();
    await informer.whenSynced();
    await waitFor('doomed in the cache', async () => informer.get(namespace, 'doomed') !== undefined, 10_000);

    proxy.setMode('refuse');
    await clients.objects.delete({ apiVersion: 'apps/v1', kind: 'Deployment', namespace, name: 'doomed' });
    await clients.objects.create(deployment(namespace, 'newcomer'));
    await waitFor(
      'a restart after the error',
      async () => (await counter(metrics, 'fledge_informer_restarts_total', { reason: 'error' })) >= 1,
      10_000,
    );
    // While the apiserver is unreachable the last cache keeps answering.
    expect(informer.get(namespace, 'doomed')).toBeDefined();

    proxy.setMode('forward');
    await waitFor('the missed delete', has(seen, `${namespace}/doomed`, 'delete'), 15_000);
    await waitFor('the missed create', has(seen, `${namespace}/newcomer`, 'add'), 15_000);
    expect(informer.get(namespace, 'doomed')).toBeUndefined();

    await clients.objects.delete({ apiVersion: 'apps/v1', kind: 'Deployment', namespace, name: 'newcomer' });
    await waitFor('events after recovery', has(seen, `${namespace}/newcomer`, 'delete'), 10_000);
    expect(informer.health()).toMatchObject({ started: true, synced: true, stalled: false });
  }, 60_000);

  it('restarts a watch that went silent', async () => {
    const proxy = await FaultProxy.start(kubeConfig.getCurrentCluster()?.server as string);
    cleanups.push(() => proxy.close());
    const metrics = createMetrics({ version: 't', meshProvider: 'kubernetes', processMetrics: false });
    const { informer, seen } = deploymentInformer(proxy.kubeConfigThrough(kubeConfig), namespace, metrics, {
      stallTimeoutMs: 2_000,
    });
    cleanups.push(() => informer.stop());
    informer.start();
    await informer.whenSynced();

    // The watch stays connected but nothing flows: only the watchdog can notice.
    proxy.setMode('blackhole');
    await waitFor(
      'a stall restart',
      async () => (await counter(metrics, 'fledge_informer_restarts_total', { reason: 'stall' })) >= 1,
      10_000,
    );
    proxy.setMode('forward');
    await clients.objects.create(deployment(namespace, 'after-stall'));
    await waitFor('events after the stall', has(seen, `${namespace}/after-stall`, 'add'), 20_000);
  }, 60_000);
});
