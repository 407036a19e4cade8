import { beforeAll, describe, expect, it } from '@jest/globals';
import type { ClusterClient, ClusterObject, ClusterRequestOptions } from '../../../src/analysis/cluster.ts';
import { createJobProvider } from '../../../src/analysis/stores/job.ts';
import { createKeptnProvider } from '../../../src/analysis/stores/keptn.ts';
import { createKubeClients, loadKubeConfig } from '../../../src/kube/client.ts';
import { kubectl } from '../../harness/control-plane.ts';
import { createTestNamespace, integrationEnv } from '../../harness/env.ts';
import { installKeptnCrds, setKeptnMetric, startFakeKeptnAnalyses } from '../../harness/keptn.ts';
import { waitFor } from '../../harness/processes.ts';
import { providerFailure } from '../../unit/analysis/loopback.ts';

// The stores read through the Kubernetes API, against the real apiserver: the
// job store's Jobs run by the real job controller (KWOK completes their pods),
// with the operator's own client.

/** A Job query; `schedulable: false` pins its pod to no node, so only its deadline ends it. */
const jobQuery = (schedulable: boolean, deadlineSeconds = 60) => `
metadata:
  generateName: smoke-
spec:
  activeDeadlineSeconds: ${deadlineSeconds}
  template:
    spec:
      ${schedulable ? '' : 'nodeSelector: { fledge.dev/no-such-node: "true" }'}
      containers:
        - name: smoke
          image: example/smoke:1
`;

describe('stores read through the Kubernetes API', () => {
  const { kubeconfigPath } = integrationEnv();
  let namespace: string;
  let cluster: ClusterClient;

  beforeAll(async () => {
    namespace = await createTestNamespace('cluster-stores');
    cluster = createKubeClients(loadKubeConfig({ kubeconfigPath })).objects;
    await installKeptnCrds(kubeconfigPath);
  }, 120_000);

  const jobs = async () =>
    JSON.parse(await kubectl(kubeconfigPath, ['get', 'jobs', '-n', namespace, '-o', 'json'])) as {
      items: unknown[];
    };

  it('job: measures 1 for a Job that completes and 0 for one that fails, and deletes both', async () => {
    const provider = createJobProvider({ type: 'job', address: '', namespace, timeoutMs: 5000 }, { cluster });
    const [passed, failed] = await Promise.all([
      provider.query(jobQuery(true)),
      provider.query(jobQuery(false, 2)),
    ]);
    expect(passed).toBe(1);
    expect(failed).toBe(0);
    // Deleted in the background: gone or going.
    const left = (await jobs()).items as { metadata: { deletionTimestamp?: string } }[];
    expect(left.every((job) => job.metadata.deletionTimestamp !== undefined)).toBe(true);
    provider.close();
  }, 120_000);

  it('job: deletes the Job of a measurement cancelled mid-run', async () => {
    const provider = createJobProvider({ type: 'job', address: '', namespace, timeoutMs: 5000 }, { cluster });
    const running = provider.query(jobQuery(false, 600).replace('smoke-', 'cancelled-'));
    await waitFor('the Job to be created', async () => {
      const created = (await jobs()).items as { metadata: { name: string } }[];
      return created.some((job) => job.metadata.name.startsWith('cancelled-'));
    });
    provider.close();
    expect((await providerFailure(running)).kind).toBe('cancelled');
    const left = (await jobs()).items as { metadata: { name: string; deletionTimestamp?: string } }[];
    expect(
      left.filter((job) => job.metadata.name.startsWith('cancelled-') && !job.metadata.deletionTimestamp),
    ).toEqual([]);
  }, 60_000);

  it('job: a measurement asked again, as after a restart, adopts the Job of the first', async () => {
    const read = new Set<string | undefined>();
    // The operator's client, recording the Jobs it reads; one that stopped before its cleanup deletes nothing.
    const operator = (stopsBeforeCleanup: boolean): ClusterClient => ({
      create: <T extends ClusterObject>(object: T, options?: ClusterRequestOptions) =>
        cluster.create(object, options),
      get: async <T extends ClusterObject>(
        ref: Parameters<ClusterClient['get']>[0],
        options?: ClusterRequestOptions,
      ) => {
        const job = await cluster.get<T>(ref, options);
        read.add(job.metadata?.uid);
        return job;
      },
      delete: (ref, options) => (stopsBeforeCleanup ? Promise.resolve() : cluster.delete(ref, options)),
      request: (...args) => cluster.request(...args),
    });
    const config = { type: 'job', address: '', namespace, timeoutMs: 5000 };
    const requestId = `${namespace}-uid/r1/t1/metric/0-smoke`;
    const query = jobQuery(true).replace('smoke-', 'adopted-');
    const adopted = async () =>
      ((await jobs()).items as { metadata: { name: string; deletionTimestamp?: string } }[]).filter(
        (job) => job.metadata.name.startsWith('adopted-') && !job.metadata.deletionTimestamp,
      );

    const before = createJobProvider(config, { cluster: operator(true) });
    await expect(before.query(query, undefined, 60_000, requestId)).resolves.toBe(1);
    expect(await adopted()).toHaveLength(1);
    const after = createJobProvider(config, { cluster: operator(false) });
    await expect(after.query(query, undefined, 60_000, requestId)).resolves.toBe(1);
    expect(read.size).toBe(1);
    expect(await adopted()).toEqual([]);
  }, 120_000);

  it("job: reports the apiserver's refusal of an invalid Job as a bad query", async () => {
    const provider = createJobProvider({ type: 'job', address: '', namespace, timeoutMs: 5000 }, { cluster });
    const failure = await providerFailure(provider.query('spec: { template: { spec: { containers: [] } } }'));
    provider.close();
    expect(failure.kind).toBe('bad-query');
    expect(failure.message).toMatch(
      new RegExp(
        `^creating a Job in ${namespace}: Invalid \\(422\\): .*spec.template.spec.containers: Required value`,
      ),
    );
  });

  it("keptn: reads a KeptnMetric's value, has no data before Keptn wrote one, and names a missing one", async () => {
    await setKeptnMetric(kubeconfigPath, namespace, 'success-rate', 99.5);
    await kubectl(
      kubeconfigPath,
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'metrics.keptn.sh/v1beta1',
        kind: 'KeptnMetric',
        metadata: { name: 'fresh', namespace },
        spec: { provider: { name: 'prometheus' }, query: 'up', fetchIntervalSeconds: 10 },
      }),
    );
    const provider = createKeptnProvider(
      { type: 'keptn', address: '', namespace, timeoutMs: 5000 },
      { cluster },
    );
    await expect(provider.query(`keptnmetric/${namespace}/success-rate`)).resolves.toBe(99.5);
    await expect(provider.query(`KeptnMetrics/${namespace}/fresh`)).resolves.toEqual({
      noData: true,
      reason: `KeptnMetric ${namespace}/fresh has no value yet`,
    });
    const missing = await providerFailure(provider.query(`keptnmetric/${namespace}/absent`));
    expect(missing.message).toMatch(
      new RegExp(`^reading KeptnMetric ${namespace}/absent: NotFound \\(404\\)`),
    );
  });

  it('keptn: creates an Analysis with the timeframe and arguments, reads its verdict, and deletes it', async () => {
    const keptn = startFakeKeptnAnalyses(kubeconfigPath, namespace, (a) => a.spec.args?.canary === 'good');
    try {
      const provider = createKeptnProvider(
        { type: 'keptn', address: '', namespace, timeoutMs: 30_000 },
        { cluster },
      );
      const [passed, failed] = await Promise.all([
        provider.query(`analysis/${namespace}/slo/5m/canary=good;team=web`),
        provider.query(`analysis/${namespace}/slo/5m/canary=bad`),
      ]);
      expect([passed, failed]).toEqual([1, 0]);
      const { items } = JSON.parse(
        await kubectl(kubeconfigPath, ['get', 'analyses.metrics.keptn.sh', '-n', namespace, '-o', 'json']),
      ) as { items: { metadata: { deletionTimestamp?: string } }[] };
      expect(items.filter((a) => !a.metadata.deletionTimestamp)).toEqual([]);
    } finally {
      keptn.stop();
    }
  }, 60_000);
});
