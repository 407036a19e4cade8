import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { KubeConfig } from '../../../src/kube/config.ts';
import { createTestNamespace, integrationEnv } from '../../harness/env.ts';
import { KubeObjectClient, loadKubeConfig } from '../../../src/kube/client.ts';
import { KubeLeaseStore } from '../../../src/kube/leases.ts';
import { LeaderElector, type LeadershipLossReason } from '../../../src/runtime/leader-election.ts';
import { FaultProxy } from './fault-proxy.ts';

interface Timings {
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

// Shortened from 15 s / 10 s / 2 s so the test runs in seconds; the ratios keep the same safety margin.
const fast: Timings = { leaseDurationMs: 4_000, renewDeadlineMs: 3_000, retryPeriodMs: 500 };

function elector(
  kubeConfig: KubeConfig,
  namespace: string,
  lease: string,
  identity: string,
  timings: Timings,
) {
  const losses: { reason: LeadershipLossReason; at: number }[] = [];
  const store = new KubeLeaseStore(
    new KubeObjectClient(kubeConfig, { requestTimeoutMs: 5_000 }),
    namespace,
    lease,
  );
  const instance = new LeaderElector({
    identity,
    name: lease,
    store,
    ...timings,
    onStoppedLeading: (reason) => losses.push({ reason, at: Date.now() }),
  });
  return { elector: instance, losses };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls every 50 ms until `done`, failing if ever two replicas lead at once. */
async function watchLeaders(
  electors: LeaderElector[],
  done: () => boolean,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    const leaders = electors.filter((candidate) => candidate.isLeader());
    expect(leaders.length).toBeLessThanOrEqual(1);
    if (Date.now() > deadline) throw new Error(`condition not reached within ${timeoutMs} ms`);
    await sleep(50);
  }
}

describe('LeaderElector on a real Lease', () => {
  let namespace: string;
  let kubeConfig: KubeConfig;
  let objects: KubeObjectClient;
  const cleanups: (() => unknown)[] = [];

  beforeAll(async () => {
    namespace = await createTestNamespace('rt-leader');
    kubeConfig = loadKubeConfig({ kubeconfigPath: integrationEnv().kubeconfigPath });
    objects = new KubeObjectClient(kubeConfig);
  });

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  const readLease = async (name: string) =>
    objects.get<KubernetesObject & { spec?: { holderIdentity?: string; leaseTransitions?: number } }>({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      namespace,
      name,
    });

  it('lets one of two replicas lead; a standby takes over when the leader’s API calls fail, after it fenced itself', async () => {
    const proxy = await FaultProxy.start(kubeConfig.getCurrentCluster()?.server as string);
    cleanups.push(() => proxy.close());
    const a = elector(proxy.kubeConfigThrough(kubeConfig), namespace, 'takeover', 'replica-a', fast);
    const b = elector(kubeConfig, namespace, 'takeover', 'replica-b', fast);
    cleanups.push(
      () => a.elector.stop(),
      () => b.elector.stop(),
    );

    a.elector.start();
    await a.elector.whenLeading();
    b.elector.start();
    // Both campaign for a while: exactly one leads throughout.
    const until = Date.now() + 3_000;
    await watchLeaders([a.elector, b.elector], () => Date.now() > until, 5_000);
    expect(a.elector.isLeader()).toBe(true);
    expect(b.elector.health()).toMatchObject({ state: 'candidate', observedLeader: 'replica-a' });
    expect(b.elector.isHealthy()).toBe(true);
    expect((await readLease('takeover')).spec?.holderIdentity).toBe('replica-a');

    // The leader's requests now hang: it must stop within its renew deadline, before anyone else starts.
    const cutAt = Date.now();
    proxy.setMode('blackhole');
    await watchLeaders([a.elector, b.elector], () => b.elector.isLeader(), 15_000);
    expect(a.losses.map((loss) => loss.reason)).toEqual(['renew-deadline-exceeded']);
    expect(a.losses[0]!.at - cutAt).toBeLessThanOrEqual(fast.renewDeadlineMs + 250);
    expect(a.elector.isLeader()).toBe(false);
    const lease = await readLease('takeover');
    expect(lease.spec).toMatchObject({ holderIdentity: 'replica-b', leaseTransitions: 1 });
  }, 30_000);

  it('fences a leader whose API is unreachable even though nobody else is waiting', async () => {
    const proxy = await FaultProxy.start(kubeConfig.getCurrentCluster()?.server as string);
    cleanups.push(() => proxy.close());
    const a = elector(proxy.kubeConfigThrough(kubeConfig), namespace, 'alone', 'replica-a', fast);
    cleanups.push(() => a.elector.stop());
    a.elector.start();
    const leadership = await a.elector.whenLeading();
    const cutAt = Date.now();
    proxy.setMode('refuse');
    await watchLeaders([a.elector], () => a.losses.length > 0, 10_000);
    expect(leadership.aborted).toBe(true);
    expect(a.losses[0]!.reason).toBe('renew-deadline-exceeded');
    expect(a.losses[0]!.at - cutAt).toBeLessThanOrEqual(fast.renewDeadlineMs + 250);
  }, 30_000);

  it('hands the Lease over on a clean stop without waiting for it to expire', async () => {
    const slowExpiry: Timings = { leaseDurationMs: 10_000, renewDeadlineMs: 6_000, retryPeriodMs: 500 };
    const a = elector(kubeConfig, namespace, 'handover', 'replica-a', slowExpiry);
    const b = elector(kubeConfig, namespace, 'handover', 'replica-b', slowExpiry);
    cleanups.push(
      () => a.elector.stop(),
      () => b.elector.stop(),
    );
    a.elector.start();
    await a.elector.whenLeading();
    b.elector.start();
    await sleep(1_000);
    expect(b.elector.isLeader()).toBe(false);

    const stoppedAt = Date.now();
    await a.elector.stop();
    expect(a.losses.map((loss) => loss.reason)).toEqual(['stopped']);
    await watchLeaders([a.elector, b.elector], () => b.elector.isLeader(), 5_000);
    // Well inside the 10 s lease duration: the release, not expiry, let b in.
    expect(Date.now() - stoppedAt).toBeLessThan(3_000);
    expect((await readLease('handover')).spec?.holderIdentity).toBe('replica-b');
  }, 30_000);
});
