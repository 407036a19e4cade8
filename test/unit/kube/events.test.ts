import { describe, expect, it } from '@jest/globals';
import { ManualClock } from '../../../src/runtime/clock.ts';
import { knownSecrets } from '../../../src/telemetry/secrets.ts';
import { KubeRequestError } from '../../../src/kube/errors.ts';
import {
  EventRecorder,
  truncateUtf8,
  type EventInput,
  type EventSeries,
  type EventSink,
  type EventsV1Event,
} from '../../../src/kube/events.ts';

class MemorySink implements EventSink {
  readonly created: EventsV1Event[] = [];
  readonly seriesUpdates: { namespace: string; name: string; series: EventSeries }[] = [];
  failCreates = false;
  goneEvents = new Set<string>();

  async create(event: EventsV1Event): Promise<void> {
    if (this.failCreates) throw new Error('ECONNREFUSED');
    this.created.push(structuredClone(event));
  }

  async updateSeries(namespace: string, name: string, series: EventSeries): Promise<void> {
    if (this.goneEvents.has(name))
      throw new KubeRequestError({ code: 404, reason: 'NotFound', message: 'gone' });
    this.seriesUpdates.push({ namespace, name, series });
  }
}

const regarding = {
  apiVersion: 'fledge.dev/v1beta1',
  kind: 'Canary',
  namespace: 'apps',
  name: 'podinfo',
  uid: 'u-1',
};

function event(overrides: Partial<EventInput> = {}): EventInput {
  return {
    regarding,
    type: 'Normal',
    reason: 'WeightAdvanced',
    action: 'SetWeight',
    note: 'weight 10',
    ...overrides,
  };
}

function setup(options: { burst?: number } = {}) {
  const clock = new ManualClock(Date.UTC(2026, 0, 2, 3, 4, 5, 678));
  const sink = new MemorySink();
  const dropped: string[] = [];
  const recorder = new EventRecorder({
    sink,
    clock,
    reportingInstance: 'fledge-abc',
    burst: options.burst,
    onDropped: (reason) => dropped.push(reason),
  });
  return { clock, sink, recorder, dropped };
}

describe('EventRecorder', () => {
  it('writes a complete events.k8s.io/v1 Event', async () => {
    const { sink, recorder } = setup();
    recorder.record(event());
    await recorder.flush();
    expect(sink.created).toHaveLength(1);
    const created = sink.created[0]!;
    expect(created).toMatchObject({
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { namespace: 'apps' },
      eventTime: '2026-01-02T03:04:05.678000Z',
      reportingController: 'fledge.dev/operator',
      reportingInstance: 'fledge-abc',
      action: 'SetWeight',
      reason: 'WeightAdvanced',
      type: 'Normal',
      note: 'weight 10',
      regarding,
    });
    expect(created.metadata?.name).toMatch(/^podinfo\.[0-9a-f]+$/);
    expect(created.series).toBeUndefined();
  });

  it('puts events about cluster-scoped objects in the default namespace', async () => {
    const { sink, recorder } = setup();
    recorder.record(event({ regarding: { apiVersion: 'v1', kind: 'Node', name: 'n1' } }));
    await recorder.flush();
    expect(sink.created[0]?.metadata?.namespace).toBe('default');
  });

  it('turns identical repeats into one series, written at a bounded rate', async () => {
    const { clock, sink, recorder } = setup();
    recorder.record(event());
    await recorder.flush();
    for (let i = 0; i < 4; i++) {
      await clock.advance(1_000);
      recorder.record(event());
    }
    // Coalesced: one update 10 s after the create, carrying every repeat.
    await clock.advance(5_000);
    expect(sink.seriesUpdates).toHaveLength(0);
    await clock.advance(1_000);
    await recorder.flush();
    expect(sink.created).toHaveLength(1);
    expect(sink.seriesUpdates).toEqual([
      {
        namespace: 'apps',
        name: sink.created[0]?.metadata?.name,
        series: {
          count: 5,
          lastObservedTime: new Date(clock.now() - 6_000).toISOString().replace('Z', '000Z'),
        },
      },
    ]);
  });

  it('writes repeats that arrived while the create was in flight when flushed', async () => {
    const { sink, recorder } = setup();
    recorder.record(event());
    recorder.record(event());
    recorder.record(event());
    await recorder.flush();
    expect(sink.created).toHaveLength(1);
    expect(sink.seriesUpdates.map((update) => update.series.count)).toEqual([3]);
  });

  it('treats a different note, type or reason as a different event', async () => {
    const { sink, recorder } = setup();
    recorder.record(event());
    recorder.record(event({ note: 'weight 20' }));
    recorder.record(event({ type: 'Warning' }));
    recorder.record(event({ reason: 'Halted' }));
    await recorder.flush();
    expect(sink.created).toHaveLength(4);
    expect(new Set(sink.created.map((created) => created.metadata?.name)).size).toBe(4);
  });

  it('starts a new event once the series window has passed', async () => {
    const { clock, sink, recorder } = setup();
    recorder.record(event());
    await clock.advance(7 * 60_000);
    recorder.record(event());
    await recorder.flush();
    expect(sink.created).toHaveLength(2);
    expect(sink.seriesUpdates).toHaveLength(0);
  });

  it('recreates an event that expired, carrying its series', async () => {
    const { clock, sink, recorder } = setup();
    recorder.record(event());
    await recorder.flush();
    sink.goneEvents.add(sink.created[0]?.metadata?.name as string);
    await clock.advance(20_000);
    recorder.record(event());
    await recorder.flush();
    expect(sink.created).toHaveLength(2);
    expect(sink.created[1]?.series?.count).toBe(2);
    expect(sink.created[1]?.metadata?.name).not.toBe(sink.created[0]?.metadata?.name);
  });

  it('rate limits new events per object and refills over time', async () => {
    const { clock, sink, recorder, dropped } = setup({ burst: 3 });
    for (let i = 0; i < 5; i++) recorder.record(event({ note: `step ${i}` }));
    recorder.record(event({ regarding: { ...regarding, name: 'other', uid: 'u-2' } }));
    await recorder.flush();
    expect(sink.created.map((created) => `${created.regarding.name}:${created.note}`)).toEqual([
      'podinfo:step 0',
      'podinfo:step 1',
      'podinfo:step 2',
      'other:weight 10',
    ]);
    expect(dropped).toEqual(['WeightAdvanced', 'WeightAdvanced']);
    await clock.advance(10_000);
    recorder.record(event({ note: 'step 5' }));
    recorder.record(event({ note: 'step 6' }));
    await recorder.flush();
    expect(sink.created.at(-1)?.note).toBe('step 5');
    expect(dropped).toHaveLength(3);
  });

  it('cuts the note to 1 kB without splitting a character', async () => {
    const { sink, recorder } = setup();
    recorder.record(event({ note: 'é'.repeat(800) }));
    await recorder.flush();
    const note = sink.created[0]?.note as string;
    expect(Buffer.byteLength(note, 'utf8')).toBeLessThanOrEqual(1024);
    expect(note.endsWith('é…')).toBe(true);
    expect(truncateUtf8('short', 1024)).toBe('short');
  });

  it('blanks a known credential before cutting the note, so no piece of it is left', async () => {
    const { sink, recorder } = setup();
    const secret = 'event-secret-7d2f9c41ab';
    knownSecrets.remember(secret);
    // The cut falls inside the secret: redacting after it would leave its first half.
    const note = `${'x'.repeat(1010)} ${secret}`;
    recorder.record(event({ note }));
    await recorder.flush();
    const written = sink.created[0]?.note as string;
    expect(written).not.toContain(secret.slice(0, 8));
    expect(written).toContain('[redacted]');
  });

  it('rejects malformed events', () => {
    const { recorder } = setup();
    expect(() => recorder.record(event({ reason: 'not camel' }))).toThrow(
      /reason "not camel" must be CamelCase/,
    );
    expect(() => recorder.record(event({ action: '' }))).toThrow(/action/);
    expect(() => recorder.record(event({ reason: `A${'a'.repeat(128)}` }))).toThrow(/1-128/);
    expect(() => recorder.record(event({ type: 'Error' as 'Warning' }))).toThrow(/Normal or Warning/);
    expect(() => new EventRecorder({ sink: new MemorySink(), reportingInstance: '' })).toThrow(
      /reportingInstance/,
    );
  });

  it('never throws when the API rejects an event', async () => {
    const { sink, recorder } = setup();
    sink.failCreates = true;
    expect(() => recorder.record(event())).not.toThrow();
    await recorder.flush();
    expect(sink.created).toHaveLength(0);
  });

  it('runs unlessWritten once per named event, except when a create finds it already there', async () => {
    const { sink, recorder } = setup({ burst: 2 });
    const ran: string[] = [];
    const named = (id: string) => event({ id, note: id, unlessWritten: () => ran.push(id) });
    recorder.record(named('written'));
    recorder.record(named('written'));
    await recorder.flush();
    sink.failCreates = true;
    recorder.record(named('failed'));
    await recorder.flush();
    // The burst of 2 is spent: dropped, and not written either.
    recorder.record(named('dropped'));
    sink.failCreates = false;
    const restarted = setup();
    restarted.sink.create = async () => {
      throw new KubeRequestError({ code: 409, reason: 'AlreadyExists', message: 'exists' });
    };
    restarted.recorder.record(named('found'));
    await restarted.recorder.flush();
    expect(ran).toEqual(['written', 'failed', 'dropped']);
  });
});
