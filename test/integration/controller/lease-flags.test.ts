import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { kubectl } from '../../harness/control-plane.ts';
import { createTestNamespace, integrationEnv } from '../../harness/env.ts';
import type { OperatorProcess } from '../../harness/operator.ts';
import { waitFor } from '../../harness/processes.ts';
import { startReplica as startLeaseReplica } from './fixtures.ts';

// The Lease timings are flags: with a 4 s lease and a 500 ms retry period, a standby
// takes over a SIGKILLed leader once the Lease it last saw change is 4 s old, which
// docs/install.md bounds by lease-duration + 4.4 x retry-period (6.2 s here).

const LEASE = 'fledge-lease-flags';
const timings = [
  '--leader-election-lease-duration=4s',
  '--leader-election-renew-deadline=3s',
  '--leader-election-retry-period=500ms',
];

type LogLine = Record<string, unknown>;
const becameLeader = async (replica: OperatorProcess): Promise<LogLine | undefined> =>
  (await replica.logs()).find((l) => l.msg === 'became leader');

describe('leader election timings as flags', () => {
  const { kubeconfigPath } = integrationEnv();
  let namespace: string;
  const replicas: OperatorProcess[] = [];
  const lease = async () =>
    JSON.parse(await kubectl(kubeconfigPath, ['get', 'lease', LEASE, '-n', namespace, '-o', 'json'])) as {
      spec: { holderIdentity?: string; leaseDurationSeconds?: number; leaseTransitions?: number };
    };
  const startReplica = async (name: string) => {
    const replica = await startLeaseReplica(kubeconfigPath, namespace, LEASE, name, timings);
    replicas.push(replica);
    return replica;
  };

  beforeAll(async () => {
    namespace = await createTestNamespace('lease-flags');
  });
  afterAll(async () => {
    for (const replica of replicas) await replica.stop();
  });

  it('writes the lease duration it was given, and a standby takes over a killed leader after it', async () => {
    const first = await startReplica('replica-a');
    await waitFor('replica-a to lead', async () => (await becameLeader(first)) !== undefined);
    const firstIdentity = (await becameLeader(first))?.identity;
    const second = await startReplica('replica-b');
    await waitFor(
      'the standby to report ready',
      async () => (await fetch(`${second.url}/readyz`)).status === 200,
    );
    expect(await lease()).toMatchObject({ spec: { holderIdentity: firstIdentity, leaseDurationSeconds: 4 } });

    await first.kill();
    const killedAt = Date.now();
    // Generous: the bound is 6.2 s; a loaded machine gets the rest.
    await waitFor(
      'the standby to take the Lease',
      async () => (await becameLeader(second)) !== undefined,
      40_000,
    );
    const took = await becameLeader(second);
    // Only after the kill: a live leader's Lease is never taken.
    expect(Date.parse(took?.time as string)).toBeGreaterThan(killedAt);
    expect(took?.identity).not.toBe(firstIdentity);
    expect(await lease()).toMatchObject({
      spec: { holderIdentity: took?.identity, leaseDurationSeconds: 4, leaseTransitions: 1 },
    });
  }, 120_000);
});
