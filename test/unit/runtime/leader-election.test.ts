import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { ManualClock, settle } from '../../../src/runtime/clock.ts';
import {
  LeaderElector,
  type LeadershipLossReason,
  type LeaseRecord,
  type LeaseStore,
  type ObservedLease,
} from '../../../src/runtime/leader-election.ts';
import { createMetrics } from '../../../src/telemetry/metrics.ts';

/** One Lease in memory, with resourceVersion checks like the apiserver's. */
class MemoryLease {
  current: ObservedLease | undefined;
  #version = 0;
  writes = 0;

  read(): ObservedLease | undefined {
    return this.current && structuredClone(this.current);
  }

  create(record: LeaseRecord): ObservedLease {
    if (this.current) throw Object.assign(new Error('AlreadyExists'), { reason: 'AlreadyExists' });
    return this.#write(record);
  }

  update(record: LeaseRecord, resourceVersion: string): ObservedLease {
    if (!this.current) throw new Error('NotFound');
    if (this.current.resourceVersion !== resourceVersion) throw new Error('Conflict');
    return this.#write(record);
  }

  #write(record: LeaseRecord): ObservedLease {
    this.writes++;
    this.current = { record: { ...record }, resourceVersion: String(++this.#version) };
    return structuredClone(this.current);
  }
}

/** One replica's connection to the lease: can be cut (calls fail) or made to hang (calls never answer). */
class Connection implements LeaseStore {
  readonly description = 'ns/fledge';
  mode: 'ok' | 'failing' | 'hanging' = 'ok';
  /** When set, the next update is answered only after this promise resolves (an answer arriving late). */
  delayNextUpdate: Promise<void> | undefined;
  readonly #lease: MemoryLease;

  constructor(lease: MemoryLease) {
    this.#lease = lease;
  }

  get(signal: AbortSignal): Promise<ObservedLease | undefined> {
    return this.#call(signal, () => this.#lease.read());
  }

  create(record: LeaseRecord, signal: AbortSignal): Promise<ObservedLease> {
    return this.#call(signal, () => this.#lease.create(record));
  }

  async update(record: LeaseRecord, resourceVersion: string, signal: AbortSignal): Promise<ObservedLease> {
    const delay = this.delayNextUpdate;
    if (delay) {
      this.delayNextUpdate = undefined;
      const written = this.#lease.update(record, resourceVersion);
      await delay;
      return written;
    }
    return this.#call(signal, () => this.#lease.update(record, resourceVersion));
  }

  #call<T>(signal: AbortSignal, operation: () => T): Promise<T> {
    if (this.mode === 'failing') return Promise.reject(new Error('ECONNREFUSED'));
    if (this.mode === 'hanging') {
      return new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
    }
    try {
      return Promise.resolve(operation());
    } catch (error) {
      return Promise.reject(error);
    }
  }
}

function replica(clock: ManualClock, lease: MemoryLease, identity: string, random = () => 0) {
  const connection = new Connection(lease);
  const losses: LeadershipLossReason[] = [];
  const signals: AbortSignal[] = [];
  const metrics = createMetrics({ version: 't', meshProvider: 'none', processMetrics: false });
  const elector = new LeaderElector({
    identity,
    name: 'fledge',
    store: connection,
    clock,
    random,
    metrics: metrics.leaderElection,
    onStartedLeading: (signal) => signals.push(signal),
    onStoppedLeading: (reason) => losses.push(reason),
  });
  return { elector, connection, losses, signals, metrics };
}

async function gauge(metrics: ReturnType<typeof createMetrics>): Promise<number | undefined> {
  const { values } = await metrics.leaderElection.masterStatus.get();
  return values.find((value) => value.labels.name === 'fledge')?.value;
}

describe('LeaderElector', () => {
  it('acquires a missing lease at once and keeps renewing it', async () => {
    const clock = new ManualClock();
    const lease = new MemoryLease();
    const a = replica(clock, lease, 'a');
    a.elector.start();
    await clock.advance(0);
    expect(a.elector.isLeader()).toBe(true);
    expect(a.signals).toHaveLength(1);
    expect(lease.current?.record).toMatchObject({
      holderIdentity: 'a',
      leaseDurationSeconds: 15,
      leaseTransitions: 0,
    });
    expect(await gauge(a.metrics)).toBe(1);

    await clock.advance(60_000);
    expect(a.elector.isLeader()).toBe(true);
    expect(lease.current?.record.renewTime).toBeGreaterThanOrEqual(clock.now() - 2_000);
    expect(lease.writes).toBeGreaterThanOrEqual(30);
    expect(a.losses).toEqual([]);
  });

  it('lets only one of two replicas lead', async () => {
    const clock = new ManualClock();
    const lease = new MemoryLease();
    const a = replica(clock, lease, 'a');
    const b = replica(clock, lease, 'b', () => 0.5);
    a.elector.start();
    b.elector.start();
    for (let i = 0; i < 120; i++) {
      await clock.advance(1_000);
      expect([a.elector.isLeader(), b.elector.isLeader()].filter(Boolean)).toHaveLength(1);
    }
    expect(a.elector.isLeader()).toBe(true);
    expect(b.elector.health()).toMatchObject({ state: 'candidate', observedLeader: 'a' });
    expect(b.elector.isHealthy()).toBe(true);
  });

  it('fences a leader whose API calls fail, before a standby can take over', async () => {
    const clock = new ManualClock();
    const lease = new MemoryLease();
    const a = replica(clock, lease, 'a');
    const b = replica(clock, lease, 'b');
    a.elector.start();
    await clock.advance(0);
    b.elector.start();
    await clock.advance(5_000);
    const lastRenew = lease.current?.record.renewTime as number;

    a.connection.mode = 'failing';
    let fencedAt: number | undefined;
    let takenAt: number | undefined;
    for (let t = 0; t < 40_000; t += 100) {
      await clock.advance(100);
      if (fencedAt === undefined && !a.elector.isLeader()) fencedAt = clock.now();
      if (takenAt === undefined && b.elector.isLeader()) takenAt = clock.now();
    }
    expect(a.losses).toEqual(['renew-deadline-exceeded']);
    expect(a.signals[0]?.aborted).toBe(true);
    expect(a.elector.state).toBe('lost');
    expect(await gauge(a.metrics)).toBe(0);
    // Self-fenced within the renew deadline of its last successful renew...
    expect(fencedAt).toBeLessThanOrEqual(lastRenew + 10_000);
    // ...and the standby waited a full lease duration after it saw the last change.
    expect(takenAt).toBeGreaterThanOrEqual(lastRenew + 15_000);
    expect(lease.current?.record).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1 });
  });

  it('fences on time even when API calls hang and never answer', async () => {
    const clock = new ManualClock();
    const lease = new MemoryLease();
    const a = replica(clock, lease, 'a');
    a.elector.start();
    await clock.advance(0);
    const lastRenew = lease.current?.record.renewTime as number;
    a.connection.mode = 'hanging';
    await clock.advance(lastRenew + 10_000 - clock.now() - 1);
    expect(a.elector.isLeader()).toBe(true);
    await clock.advance(1);
    expect(a.elector.isLeader()).toBe(false);
    expect(a.losses).toEqual(['renew-deadline-exceeded']);
  });

  it('still fences when its timer fires a little before the deadline', async () => {
    // Real timers run on the event loop's cached time and may fire a millisecond early against the clock.
    class EarlyClock extends ManualClock {
      override setTimer(callback: () => void, delayMs: number) {
        return super.setTimer(callback, delayMs > 1 ? delayMs - 1 : delayMs);
      }
    }
    const clock = new EarlyClock();
    const lease = new MemoryLease();
    const a = replica(clock, lease, 'a');
    a.elector.start();
    await clock.advance(0);
    a.connection.mode = 'hanging';
    await clock.advance(10_500);
    expect(a.losses).toEqual(['renew-deadline-exceeded']);
  });

  it('ignores a renew that succeeds only after the fence', async () => {
    const clock = new ManualClock();
    const lease = new MemoryLease();
    const a = replica(clock, lease, 'a');
    a.elector.start();
    await clock.advance(0);
    let answer!: () => void;
    a.connection.delayNextUpdate = new Promise<void>((resolve) => (answer = resolve));
    await clock.advance(12_000);
    expect(a.elector.state).toBe('lost');
    answer();
    await settle();
    expect(a.elector.isLeader()).toBe(false);
    expect(a.signals).toHaveLength(1);
  });

  it('measures expiry on its own clock, not from the holder’s renewTime', async () => {
    const clock = new ManualClock();
    const lease = new MemoryLease();
    // Held by a replica whose clock is far behind: its renewTime looks ancient to us.
    lease.create({
      holderIdentity: 'old',
      leaseDurationSeconds: 15,
      acquireTime: 0,
      renewTime: 0,
      leaseTransitions: 3,
    });
    const b = replica(clock, lease, 'b');
    b.elector.start();
    await clock.advance(14_000);
    expect(b.elector.isLeader()).toBe(false);
    await clock.advance(6_000);
    expect(b.elector.isLeader()).toBe(true);
    expect(lease.current?.record.leaseTransitions).toBe(4);
  });

  it('never takes over a lease whose holder keeps renewing, however old its timestamps', async () => {
    const clock = new ManualClock();
    const lease = new MemoryLease();
    lease.create({
      holderIdentity: 'old',
      leaseDurationSeconds: 15,
      acquireTime: 0,
      renewTime: 0,
      leaseTransitions: 0,
    });
    const b = replica(clock, lease, 'b');
    b.elector.start();
    for (let i = 1; i <= 30; i++) {
      await clock.advance(2_000);
      const current = lease.current as ObservedLease;
      lease.update({ ...current.record, renewTime: i }, current.resourceVersion);
    }
    expect(b.elector.isLeader()).toBe(false);
  });

  it('releases the lease on stop so a standby takes over without waiting for expiry', async () => {
    const clock = new ManualClock();
    const lease = new MemoryLease();
    const a = replica(clock, lease, 'a');
    const b = replica(clock, lease, 'b');
    a.elector.start();
    await clock.advance(0);
    b.elector.start();
    await clock.advance(3_000);
    await a.elector.stop();
    expect(a.losses).toEqual(['stopped']);
    expect(lease.current?.record.holderIdentity).toBe('');
    const stoppedAt = clock.now();
    while (!b.elector.isLeader()) await clock.advance(100);
    expect(clock.now() - stoppedAt).toBeLessThanOrEqual(2_000 * 2.2);
  });

  it('steps down when it finds another holder in the lease', async () => {
    const clock = new ManualClock();
    const lease = new MemoryLease();
    const a = replica(clock, lease, 'a');
    a.elector.start();
    await clock.advance(0);
    const current = lease.current as ObservedLease;
    lease.update({ ...current.record, holderIdentity: 'intruder' }, current.resourceVersion);
    await clock.advance(2_000);
    expect(a.losses).toEqual(['lease-taken']);
    expect(a.elector.isLeader()).toBe(false);
  });

  it('resolves whenLeading with the leadership signal', async () => {
    const clock = new ManualClock();
    const a = replica(clock, new MemoryLease(), 'a');
    const leading = a.elector.whenLeading();
    a.elector.start();
    await clock.advance(0);
    const signal = await leading;
    expect(signal.aborted).toBe(false);
    await a.elector.stop();
    expect(signal.aborted).toBe(true);
    await expect(a.elector.whenLeading()).rejects.toThrow(/stopped/);
  });

  it('rejects timings that cannot be safe', () => {
    const store = new Connection(new MemoryLease());
    expect(
      () =>
        new LeaderElector({
          identity: 'a',
          name: 'x',
          store,
          leaseDurationMs: 10_000,
          renewDeadlineMs: 10_000,
        }),
    ).toThrow(/leaseDurationMs .* must be greater than renewDeadlineMs/);
    expect(
      () =>
        new LeaderElector({ identity: 'a', name: 'x', store, renewDeadlineMs: 4_000, retryPeriodMs: 4_000 }),
    ).toThrow(/renewDeadlineMs/);
  });

  it('property: never two leaders at once, whatever fails or hangs', async () => {
    type Step = { replica: number; mode: 'ok' | 'failing' | 'hanging'; ms: number };
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            replica: fc.integer({ min: 0, max: 2 }),
            mode: fc.constantFrom('ok' as const, 'failing' as const, 'hanging' as const),
            ms: fc.integer({ min: 0, max: 20_000 }),
          }),
          { minLength: 1, maxLength: 12 },
        ),
        fc.array(fc.double({ min: 0, max: 0.999, noNaN: true }), { minLength: 3, maxLength: 3 }),
        async (steps: Step[], jitters) => {
          const clock = new ManualClock();
          const lease = new MemoryLease();
          const replicas = ['a', 'b', 'c'].map((identity, i) =>
            replica(clock, lease, identity, () => jitters[i] ?? 0),
          );
          for (const { elector } of replicas) elector.start();
          for (const step of steps) {
            replicas[step.replica]!.connection.mode = step.mode;
            for (let elapsed = 0; elapsed < step.ms; elapsed += 250) {
              await clock.advance(Math.min(250, step.ms - elapsed));
              const leaders = replicas.filter(({ elector }) => elector.isLeader());
              expect(leaders.length).toBeLessThanOrEqual(1);
            }
          }
        },
      ),
      { numRuns: 40 },
    );
    // 40 simulated runs: well under a second alone, several on a loaded 2-core machine.
  }, 60_000);
});
