import { describe, expect, it } from '@jest/globals';
import type { Canary, NormalizedCanarySpec, NormalizedWebhook } from '../../../src/api/index.ts';
import { Effects, type EffectsDeps } from '../../../src/controller/effects.ts';
import { decide } from '../../../src/engine/index.ts';
import { KubeRequestError } from '../../../src/kube/errors.ts';
import { EventRecorder, type EventSink, type EventsV1Event } from '../../../src/kube/events.ts';
import { ManualClock } from '../../../src/runtime/clock.ts';
import type { Logger } from '../../../src/telemetry/logger.ts';
import type { CanaryEvent } from '../../../src/hooks/index.ts';
import { inputFor, NOW } from '../engine/fixtures.ts';

// An Event decided with a status is sent even when the process died between writing the
// status and writing the Event: the next process sends the last decision's Events again,
// and those already written are found by name, never doubled; nor are their webhooks.

/** The apiserver's Events: names are unique, as they are there. */
class Apiserver implements EventSink {
  readonly events = new Map<string, EventsV1Event>();
  async create(event: EventsV1Event): Promise<void> {
    const name = event.metadata?.name ?? '';
    if (this.events.has(name))
      throw new KubeRequestError({ code: 409, reason: 'AlreadyExists', message: `${name} exists` });
    this.events.set(name, structuredClone(event));
  }
  async updateSeries(): Promise<void> {}
  reasons(): string[] {
    return [...this.events.values()].map((e) => e.reason);
  }
}

/** What reached the event webhooks, across processes. */
type Delivered = { hook: string; event: CanaryEvent }[];

/** One operator process: its own recorder (nothing remembered from the last one). */
function processOn(apiserver: Apiserver, now: number, delivered: Delivered = []) {
  const warnings: unknown[] = [];
  const events = new EventRecorder({
    sink: apiserver,
    reportingInstance: 'fledge-test',
    clock: new ManualClock(now),
    log: { warn: (...args: unknown[]) => warnings.push(args), debug: () => {} } as unknown as Logger,
  });
  const effects = new Effects({
    events,
    workloads: { forCanary: () => ({}) },
    webhooks: {
      sendEvent: (webhook: NormalizedWebhook, event: CanaryEvent) =>
        delivered.push({ hook: webhook.name, event }),
    },
    eventWebhook: 'http://127.0.0.1:1/operator-wide',
  } as unknown as EffectsDeps);
  return { events, effects, warnings };
}

const canary = (status: Canary['status']): Canary =>
  ({
    apiVersion: 'fledge.dev/v1beta1',
    kind: 'Canary',
    metadata: { name: 'web', namespace: 'shop', uid: 'u-1' },
    spec: { targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' } },
    status,
  }) as unknown as Canary;

const noHooks = { analysis: { webhooks: [] } } as unknown as NormalizedCanarySpec;
const eventHook = { name: 'audit', type: 'event', url: 'http://127.0.0.1:1/audit', metadata: {} };
const withEventHook = { analysis: { webhooks: [eventHook] } } as unknown as NormalizedCanarySpec;

/** A decision that records Events: a new revision starts a run. */
function decisionWithEvents() {
  const decision = decide(inputFor('Succeeded', { target: { revision: 'rev-new' } }));
  const events = decision.actions.filter((a) => a.kind === 'event');
  expect(events.length).toBeGreaterThan(0);
  return { decision, events };
}

describe('Events decided with a status', () => {
  it('are recorded in that status', () => {
    const { decision, events } = decisionWithEvents();
    expect(decision.status.lastEvents).toEqual({
      decidedTime: new Date(NOW).toISOString(),
      events: events.map(({ reason, type, message }) => ({ reason, type, message })),
    });
  });

  it('are sent by the next process when a crash came before they were written', async () => {
    const { decision } = decisionWithEvents();
    const apiserver = new Apiserver();
    // The first process wrote the status, then died: no Event reached the apiserver.
    const next = processOn(apiserver, NOW + 5_000);
    next.effects.replayDecidedEvents(canary(decision.status), noHooks, new Date(NOW + 5_000));
    await next.events.flush();
    expect(apiserver.reasons()).toEqual(decision.status.lastEvents?.events.map((e) => e.reason));
  });

  it('are not doubled when they had been written before the restart', async () => {
    const { decision, events } = decisionWithEvents();
    const apiserver = new Apiserver();
    const first = processOn(apiserver, NOW);
    const decided = canary(decision.status);
    for (const action of events) await first.effects.apply('shop/web', decided, noHooks, action);
    await first.events.flush();
    const written = [...apiserver.events.keys()];
    expect(written).toHaveLength(events.length);

    const next = processOn(apiserver, NOW + 5_000);
    next.effects.replayDecidedEvents(canary(decision.status), noHooks, new Date(NOW + 5_000));
    await next.events.flush();
    expect([...apiserver.events.keys()]).toEqual(written);
    // Found by name, which is no failure to write.
    expect(next.warnings).toEqual([]);
  });

  it('are left alone once older than the apiserver keeps Events', async () => {
    const { decision } = decisionWithEvents();
    const apiserver = new Apiserver();
    const later = NOW + 61 * 60_000;
    const next = processOn(apiserver, later);
    next.effects.replayDecidedEvents(canary(decision.status), noHooks, new Date(later));
    await next.events.flush();
    expect(apiserver.events.size).toBe(0);
  });

  it('go to the event webhooks once: sent again by the next process only when not written', async () => {
    const { decision, events } = decisionWithEvents();
    const decided = canary(decision.status);
    const apiserver = new Apiserver();
    const delivered: Delivered = [];
    // The first process wrote the status and the first Event (with its webhook), then died.
    const first = processOn(apiserver, NOW, delivered);
    await first.effects.apply('shop/web', decided, withEventHook, events[0]!);
    await first.events.flush();
    expect(delivered.map((d) => d.event.message)).toEqual([events[0]!.message]);

    const next = processOn(apiserver, NOW + 5_000, delivered);
    next.effects.replayDecidedEvents(decided, withEventHook, new Date(NOW + 5_000));
    await next.events.flush();
    expect(apiserver.events.size).toBe(events.length);
    // Each Event reached the Canary's own hook once, never the operator-wide one.
    expect(delivered.map((d) => d.event.message)).toEqual(events.map((e) => e.message));
    expect(new Set(delivered.map((d) => d.hook))).toEqual(new Set(['audit']));
    // Keyed for good, so a receiver can recognise the same Event: one key per Event and hook.
    const keys = delivered.map((d) => d.event.id);
    expect(new Set(keys).size).toBe(events.length);
    expect(keys.every((k) => k?.startsWith('u-1/event/'))).toBe(true);

    // A third process finds every Event written: nothing goes out again.
    const third = processOn(apiserver, NOW + 9_000, delivered);
    third.effects.replayDecidedEvents(decided, withEventHook, new Date(NOW + 9_000));
    await third.events.flush();
    expect(delivered).toHaveLength(events.length);
  });

  it('without hooks of its own, a Canary sends its Events to the operator-wide webhook', async () => {
    const { decision, events } = decisionWithEvents();
    const delivered: Delivered = [];
    const only = processOn(new Apiserver(), NOW, delivered);
    for (const action of events)
      await only.effects.apply('shop/web', canary(decision.status), noHooks, action);
    await only.events.flush();
    expect(delivered.map((d) => [d.hook, d.event.eventType, d.event.message])).toEqual(
      events.map((e) => ['events', e.type, e.message]),
    );
  });
});
