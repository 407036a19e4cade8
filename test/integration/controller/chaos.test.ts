import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { CanaryStatus } from '../../../src/api/index.ts';
import { canaryStatus, imageOf, inPhase, settled, waitForCanary } from '../../harness/canary.ts';
import { createTestNamespace, integrationEnv } from '../../harness/env.ts';
import { kubectl } from '../../harness/control-plane.ts';
import { startOperatorProcess, type OperatorProcess } from '../../harness/operator.ts';
import { startFakeGatewayController, type FakeGatewayController } from '../../harness/third-party.ts';
import { apply, canary, deployment, setImage, startReplica } from './fixtures.ts';
import { canaryEvents, occurrences, recordStatusHistory, ticksJudgedTwice } from './history.ts';
import { startHookServer, unexplainedRepeats, type HookServer } from './hook-server.ts';
import { field, routeWeights } from './sampling.ts';

// Releases under random SIGKILLs of the operator, alone or as the leader of two replicas
// (a new replica replaces each one killed). Four Canaries (progressive canary on
// Gateway API, blue/green on kubernetes) take five releases each, some planned to fail
// (their rollout webhook answers 500); meanwhile the operator is killed at seeded random
// moments and started again. Every release must end as an uninterrupted one would: its
// phase, the primary's image, all traffic on the primary, and one NewRevision event per
// release, one Promoted per success. No tick is judged twice, and a hook is called twice for
// a tick (same Idempotency-Key) only across a kill. FLEDGE_CHAOS_SEED replays a run.

const seed = Number(process.env.FLEDGE_CHAOS_SEED ?? Date.now() % 2 ** 31);
const releasesEach = 5;

/** mulberry32: a small seeded generator, so a failing run can be replayed. */
function random(state: number): () => number {
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Subject {
  name: string;
  progressive: boolean;
}

const subjects: Subject[] = [
  { name: 'cn-a', progressive: true },
  { name: 'cn-b', progressive: true },
  { name: 'bg-a', progressive: false },
  { name: 'bg-b', progressive: false },
];

/** The operator processes of one test: what gets killed, and what takes over. */
interface Fleet {
  /** SIGKILLs the process acting now and starts a new one in its place: when it was killed, undefined when none was acting. */
  killActing(): Promise<number | undefined>;
  stop(): Promise<void>;
}

const LEASE = 'fledge-chaos';
/** Short Lease timings, so a standby takes over a killed leader within seconds. */
const leaseTimings = [
  '--leader-election-lease-duration=4s',
  '--leader-election-renew-deadline=3s',
  '--leader-election-retry-period=500ms',
];

async function oneOperator(kubeconfigPath: string, namespace: string): Promise<Fleet> {
  let operator = await startOperatorProcess({ kubeconfigPath, namespace });
  return {
    async killActing() {
      const at = Date.now();
      await operator.kill();
      operator = await startOperatorProcess({ kubeconfigPath, namespace });
      return at;
    },
    stop: () => operator.stop(),
  };
}

async function twoReplicas(kubeconfigPath: string, namespace: string): Promise<Fleet> {
  let started = 0;
  const start = () => startReplica(kubeconfigPath, namespace, LEASE, `replica-${started++}`, leaseTimings);
  let replicas = [await start(), await start()];
  const identityOf = async (replica: OperatorProcess) =>
    (await replica.logs()).find((l) => l.msg === 'became leader')?.identity;
  return {
    async killActing() {
      const holder = await kubectl(kubeconfigPath, [
        '-n',
        namespace,
        'get',
        'lease',
        LEASE,
        '--ignore-not-found',
        '-o',
        'jsonpath={.spec.holderIdentity}',
      ]);
      const identities = await Promise.all(replicas.map(identityOf));
      const leader = replicas.find((_, i) => identities[i] === holder && holder !== '');
      // Between a kill and the takeover nobody leads: wait for the next moment.
      if (leader === undefined) return undefined;
      const at = Date.now();
      await leader.kill();
      replicas = [...replicas.filter((r) => r !== leader), await start()];
      return at;
    },
    stop: async () => {
      for (const replica of replicas) await replica.stop();
    },
  };
}

describe.each([
  ['one operator', oneOperator],
  ['two replicas, the leader', twoReplicas],
] as const)('releases while %s is killed at random', (_what, startFleet) => {
  const { kubeconfigPath } = integrationEnv();
  let namespace: string;
  let fleet: Fleet;
  let gateway: FakeGatewayController;
  let hooks: HookServer;
  /** Per Canary: whether its webhook fails the current release. */
  const failing = new Map<string, boolean>();

  beforeAll(async () => {
    namespace = await createTestNamespace('chaos');
    hooks = await startHookServer();
    hooks.answerWith((call) => {
      const name = call.url.slice(1);
      return failing.get(name) === true
        ? { status: 500, body: 'planned failure' }
        : { status: 200, body: 'ok' };
    });
    gateway = startFakeGatewayController(kubeconfigPath, namespace);
    fleet = await startFleet(kubeconfigPath, namespace);
  }, 120_000);
  afterAll(async () => {
    await fleet?.stop();
    await gateway?.stop();
    await hooks?.close();
  });

  it(`${subjects.length * releasesEach} releases end as they would uninterrupted`, async () => {
    console.log(`chaos: seed ${seed} (FLEDGE_CHAOS_SEED=${seed} replays the plan and the kill times)`);
    const next = random(seed);
    const analysisOf = (subject: Subject) => {
      const webhooks = [{ name: 'check', type: 'rollout', url: `${hooks.base}/${subject.name}` }];
      return subject.progressive
        ? {
            provider: 'gatewayapi:v1',
            service: { port: 9898, gatewayRefs: [{ name: 'public', namespace: 'gateways' }] },
            analysis: { interval: '10s', threshold: 1, maxWeight: 50, stepWeight: 25, webhooks },
          }
        : { provider: 'kubernetes', analysis: { interval: '10s', threshold: 1, iterations: 2, webhooks } };
    };
    await apply(
      kubeconfigPath,
      ...subjects.flatMap((s) => [
        deployment(namespace, s.name, `example/${s.name}:0`),
        canary(namespace, s.name, analysisOf(s)),
      ]),
    );
    for (const s of subjects)
      await waitForCanary(kubeconfigPath, namespace, s.name, inPhase('Initialized'), {
        what: `${s.name} ready`,
      });
    const histories = subjects.map((s) => recordStatusHistory(kubeconfigPath, namespace, s.name));
    for (const history of histories) await history.started();

    // The plan, drawn before anything runs so the seed alone decides it.
    const plans = new Map(
      subjects.map((s) => [s.name, Array.from({ length: releasesEach }, () => next() < 0.3)] as const),
    );
    const killDelays = Array.from({ length: 200 }, () => 8_000 + Math.floor(next() * 22_000));

    let running = true;
    const kills: number[] = [];
    let skipped = 0;
    const killer = (async () => {
      for (const delay of killDelays) {
        await new Promise((resume) => setTimeout(resume, delay));
        if (!running) return;
        const at = await fleet.killActing();
        if (at === undefined) skipped++;
        else kills.push(at);
      }
    })();

    const release = async (subject: Subject) => {
      const outcomes: {
        release: number;
        phase: string;
        primary: string;
        expected: string;
        routes: string;
      }[] = [];
      let promoted = `example/${subject.name}:0`;
      for (const [i, fails] of (plans.get(subject.name) ?? []).entries()) {
        const image = `example/${subject.name}:${i + 1}`;
        const before = await canaryStatus(kubeconfigPath, namespace, subject.name);
        failing.set(subject.name, fails);
        await setImage(kubeconfigPath, namespace, subject.name, image);
        // This release's own run ending: a later run number, not only a new revision beside an
        // earlier run's end.
        const { status } = await waitForCanary(
          kubeconfigPath,
          namespace,
          subject.name,
          (s: CanaryStatus) =>
            s.lastAppliedSpec !== before.lastAppliedSpec &&
            (s.run ?? 0) > (before.run ?? 0) &&
            (s.phase === 'Succeeded' || s.phase === 'Failed'),
          { what: `${subject.name} release ${i + 1}`, timeoutMs: 240_000 },
        );
        if (!fails) promoted = image;
        const planned = fails ? 'Failed' : 'Succeeded';
        // An unplanned end says why, so a failure here can be told from its message alone.
        const why = status.conditions?.find((c) => c.type === 'Promoted')?.message;
        outcomes.push({
          release: i + 1,
          phase:
            status.phase === planned ? planned : `${status.phase ?? ''} (${why ?? 'no Promoted condition'})`,
          // The terminal phase is written before that reconcile's route change: read until it holds.
          primary: await settled(() => imageOf(kubeconfigPath, namespace, `${subject.name}-primary`)),
          expected: `${planned} ${promoted}`,
          routes: await settled(() =>
            subject.progressive
              ? routeWeights(kubeconfigPath, namespace, subject.name)
              : field(kubeconfigPath, namespace, 'service', subject.name, '{.spec.selector.app}'),
          ),
        });
      }
      return outcomes;
    };

    const results = await Promise.all(subjects.map(release));
    running = false;
    await killer;
    const versions = await Promise.all(histories.map((history) => history.stop()));
    console.log(
      `chaos: ${kills.length} kills of the acting operator (${skipped} moments with none acting) during ` +
        `${subjects.length * releasesEach} releases`,
    );

    for (const [i, s] of subjects.entries()) {
      const outcomes = results[i] ?? [];
      const allOnPrimary = s.progressive ? `${s.name}-primary=100 ${s.name}-canary=0` : `${s.name}-primary`;
      expect(outcomes.map((o) => `${o.phase} ${o.primary} ${o.routes}`)).toEqual(
        outcomes.map((o) => `${o.expected} ${allOnPrimary}`),
      );
      const events = await canaryEvents(kubeconfigPath, namespace, s.name);
      const successes = (plans.get(s.name) ?? []).filter((fails) => !fails).length;
      expect({ canary: s.name, newRevision: occurrences(events, 'NewRevision') }).toEqual({
        canary: s.name,
        newRevision: releasesEach,
      });
      expect({ canary: s.name, promoted: occurrences(events, 'Promoted') }).toEqual({
        canary: s.name,
        promoted: successes,
      });
      expect({ canary: s.name, judgedTwice: ticksJudgedTwice(versions[i] ?? []) }).toEqual({
        canary: s.name,
        judgedTwice: [],
      });
      const calls = hooks.calls.filter((call) => call.body.name === s.name);
      expect({ canary: s.name, repeats: unexplainedRepeats(calls, kills) }).toEqual({
        canary: s.name,
        repeats: [],
      });
    }
    expect(kills.length).toBeGreaterThan(0);
  }, 1_500_000);
});
