import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { canaryStatus, imageOf, inPhase, waitForCanary } from '../../harness/canary.ts';
import { kubectl } from '../../harness/control-plane.ts';
import { createTestNamespace, integrationEnv } from '../../harness/env.ts';
import type { OperatorProcess } from '../../harness/operator.ts';
import { waitFor } from '../../harness/processes.ts';
import { startFakeGatewayController, type FakeGatewayController } from '../../harness/third-party.ts';
import { apply, canary, deployment, setImage, startReplica as startLeaseReplica } from './fixtures.ts';
import {
  canaryEvents,
  occurrences,
  phasePath,
  recordStatusHistory,
  weightedRunViolations,
} from './history.ts';

const LEASE = 'fledge-le-test';
const plan = { maxWeight: 50, stepWeight: 25, intervalMs: 10_000 };
// The elector's defaults: others wait 15 s after the last change they saw, then retry every 2 s (+120 % jitter).
const leaseDurationMs = 15_000;
const maxRetryMs = 2_000 * 2.2;
const renewDeadlineMs = 10_000;

type LogLine = Record<string, unknown>;
const timeOf = (line: LogLine) => Date.parse(line.time as string);

async function leaseHolder(kubeconfigPath: string, namespace: string): Promise<string> {
  return kubectl(kubeconfigPath, [
    'get',
    'lease',
    LEASE,
    '-n',
    namespace,
    '-o',
    'jsonpath={.spec.holderIdentity}',
  ]);
}

/** The identity a replica logged when it became leader, or undefined if it has not. */
async function leaderIdentity(replica: OperatorProcess): Promise<string | undefined> {
  const line = (await replica.logs()).find((l) => l.msg === 'became leader');
  return line?.identity as string | undefined;
}

describe('two replicas with leader election', () => {
  const { kubeconfigPath } = integrationEnv();
  let namespace: string;
  let gateway: FakeGatewayController;
  const replicas: OperatorProcess[] = [];

  const startReplica = async (name: string) => {
    const replica = await startLeaseReplica(kubeconfigPath, namespace, LEASE, name);
    replicas.push(replica);
    return replica;
  };

  beforeAll(async () => {
    namespace = await createTestNamespace('leader');
    gateway = startFakeGatewayController(kubeconfigPath, namespace);
  });
  afterAll(async () => {
    for (const replica of replicas) await replica.stop();
    await gateway?.stop();
  });

  it('only the leader acts; the standby takes over a killed leader and finishes the run without a double step; a deposed leader exits', async () => {
    const first = await startReplica('replica-a');
    let firstIdentity: string | undefined;
    await waitFor(
      'replica-a to lead',
      async () => (firstIdentity = await leaderIdentity(first)) !== undefined,
    );
    const second = await startReplica('replica-b');
    expect(await leaseHolder(kubeconfigPath, namespace)).toBe(firstIdentity);
    // A healthy standby is ready (it can read the Lease) but does not lead.
    await waitFor(
      'the standby to report ready',
      async () => (await fetch(`${second.url}/readyz`)).status === 200,
    );

    await apply(
      kubeconfigPath,
      deployment(namespace, 'web', 'example/web:1'),
      canary(namespace, 'web', {
        provider: 'gatewayapi:v1',
        service: { port: 9898, gatewayRefs: [{ name: 'public', namespace: 'gateways' }] },
        analysis: { interval: '10s', threshold: 1, maxWeight: plan.maxWeight, stepWeight: plan.stepWeight },
      }),
    );
    await waitForCanary(kubeconfigPath, namespace, 'web', inPhase('Initialized'), { what: 'initialisation' });
    const history = recordStatusHistory(kubeconfigPath, namespace, 'web');
    await history.started();
    await setImage(kubeconfigPath, namespace, 'web', 'example/web:2');
    await waitFor(
      'the first traffic step',
      async () => {
        const status = await canaryStatus(kubeconfigPath, namespace, 'web');
        return status.phase === 'Progressing' && (status.canaryWeight ?? 0) >= plan.stepWeight;
      },
      90_000,
    );

    // Up to here only the leader decided anything; the standby only campaigned.
    const firstLogs = await first.logs();
    expect(firstLogs.filter((l) => l.msg === 'decided' && l.name === 'web').length).toBeGreaterThan(0);
    const secondLogsBefore = await second.logs();
    expect(secondLogsBefore.filter((l) => l.msg === 'decided')).toEqual([]);
    expect(secondLogsBefore.some((l) => l.msg === 'became leader')).toBe(false);

    await first.kill();
    const killedAt = Date.now();
    let secondIdentity: string | undefined;
    await waitFor(
      'the standby to take the Lease',
      async () => {
        secondIdentity = await leaderIdentity(second);
        return (
          secondIdentity !== undefined && (await leaseHolder(kubeconfigPath, namespace)) === secondIdentity
        );
      },
      leaseDurationMs + maxRetryMs + 10_000,
    );
    const takeoverMs = Date.now() - killedAt;
    expect(secondIdentity).not.toBe(firstIdentity);
    // No sooner than the Lease could expire (the standby never preempts a live-looking holder)...
    const becameLeaderAt = timeOf((await second.logs()).find((l) => l.msg === 'became leader')!);
    expect(becameLeaderAt - killedAt).toBeGreaterThan(leaseDurationMs - maxRetryMs - 1_000);
    // ...and no later than its duration plus one retry (and the poll above).
    expect(takeoverMs).toBeLessThan(leaseDurationMs + maxRetryMs + 3_000);

    const { status } = await waitForCanary(kubeconfigPath, namespace, 'web', inPhase('Succeeded', 'Failed'));
    const versions = await history.stop();
    expect(status.phase).toBe('Succeeded');
    expect(await imageOf(kubeconfigPath, namespace, 'web-primary')).toBe('example/web:2');
    // Every tick an interval after the previous one, every step once, never past maxWeight.
    expect(weightedRunViolations(versions, plan)).toEqual([]);
    expect(phasePath(versions)).toEqual(
      expect.arrayContaining(['Progressing:25', 'Progressing:50', 'Succeeded:0']),
    );
    const events = await canaryEvents(kubeconfigPath, namespace, 'web');
    const stepEvents = events.filter((e) => e.reason === 'StepAdvanced');
    expect(stepEvents.map((e) => e.count)).toEqual([1, 1]);
    expect(occurrences(events, 'NewRevision')).toBe(1);
    expect(occurrences(events, 'Promoted')).toBe(1);
    // The new leader reconciled only once it led.
    const secondDecided = (await second.logs()).filter((l) => l.msg === 'decided');
    expect(secondDecided.length).toBeGreaterThan(0);
    expect(secondDecided.every((l) => timeOf(l) >= becameLeaderAt)).toBe(true);

    // Someone else takes the Lease by force: the leader notices on its next renew, well
    // within its renew deadline, stops reconciling and exits non-zero to restart as a candidate.
    const renewTime = new Date().toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
    await kubectl(kubeconfigPath, [
      'patch',
      'lease',
      LEASE,
      '-n',
      namespace,
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { holderIdentity: 'intruder', renewTime } }),
    ]);
    const takenAt = Date.now();
    await waitFor('the deposed leader to exit', async () => second.exited(), renewDeadlineMs);
    expect(Date.now() - takenAt).toBeLessThan(renewDeadlineMs);
    expect(second.exitCode()).toBe(1);
    const finalLogs = await second.logs();
    const lost = finalLogs.find((l) => l.msg === 'leadership lost: stopping all reconciles');
    expect(lost).toMatchObject({ reason: 'lease-taken' });
    expect(finalLogs.filter((l) => l.msg === 'decided' && timeOf(l) > timeOf(lost!))).toEqual([]);
    // It did not hand the Lease back on its way out: the new holder keeps it.
    expect(await leaseHolder(kubeconfigPath, namespace)).toBe('intruder');
  }, 240_000);
});
