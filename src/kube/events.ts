import { randomBytes } from 'node:crypto';
import type { KubernetesObject } from '@kubernetes/client-node';
import { systemClock, type Clock, type TimerHandle } from '../runtime/clock.ts';
import type { Logger } from '../telemetry/logger.ts';
import { knownSecrets } from '../telemetry/secrets.ts';
import type { KubeObjectClient } from './client.ts';
import { describeKubeError, isAlreadyExists, isNotFound } from './errors.ts';
import { microTime } from './time.ts';
import { PatchStrategy } from './patch.ts';

export const reportingController = 'fledge.dev/operator';

export type EventType = 'Normal' | 'Warning';

/** The object an event is about (events.k8s.io/v1 `regarding` / `related`). */
export interface EventObjectReference {
  apiVersion: string;
  kind: string;
  /** Empty or absent for cluster-scoped objects (their events go to "default"). */
  namespace?: string;
  name: string;
  uid?: string;
}

export interface EventInput {
  regarding: EventObjectReference;
  related?: EventObjectReference;
  type: EventType;
  /** Why: CamelCase, distinct per kind of event (e.g. WeightAdvanced, RolledBack). At most 128 characters. */
  reason: string;
  /** What was done or attempted: CamelCase (e.g. SetWeight, Promote). At most 128 characters. */
  action: string;
  /** Human-readable detail; cut to 1 kB. */
  note: string;
  /**
   * Names one occurrence for good (`<object>.<id>`, lower-case letters, digits and dashes), for an
   * event that may be recorded again after a restart: it never joins another series, and a create
   * that finds it already there counts as written.
   */
  id?: string;
  /**
   * Runs once, unless a create finds this named Event already there (it was written before a
   * restart): what must follow an Event exactly once, such as its webhooks. It runs after the
   * create, and also when the create fails or the rate limit drops the Event.
   */
  unlessWritten?: () => void;
}

export interface EventsV1Event extends KubernetesObject {
  eventTime: string;
  reportingController: string;
  reportingInstance: string;
  action: string;
  reason: string;
  type: EventType;
  note: string;
  regarding: EventObjectReference;
  related?: EventObjectReference;
  series?: EventSeries;
}

export interface EventSeries {
  count: number;
  lastObservedTime: string;
}

/** Where events are written; the real one is KubeEventSink, tests use an in-memory one. */
export interface EventSink {
  create(event: EventsV1Event): Promise<void>;
  /** Sets the series of an existing event; must reject with a NotFound error when the event is gone. */
  updateSeries(namespace: string, name: string, series: EventSeries): Promise<void>;
}

export class KubeEventSink implements EventSink {
  readonly #client: KubeObjectClient;

  constructor(client: KubeObjectClient) {
    this.#client = client;
  }

  async create(event: EventsV1Event): Promise<void> {
    await this.#client.create(event);
  }

  async updateSeries(namespace: string, name: string, series: EventSeries): Promise<void> {
    const ref = { apiVersion: 'events.k8s.io/v1', kind: 'Event', namespace, name };
    await this.#client.patch(ref, { series }, PatchStrategy.MergePatch);
  }
}

export interface EventRecorderOptions {
  sink: EventSink;
  /** This replica, e.g. the pod name. At most 128 characters. */
  reportingInstance: string;
  clock?: Clock;
  log?: Logger;
  /** A repeat within this time of the previous occurrence joins its series. Default 6 min. */
  seriesWindowMs?: number;
  /** Series count updates for one event are written at most this often. Default 10 s. */
  seriesUpdateIntervalMs?: number;
  /** New events per regarding object: a burst of this many... Default 25. */
  burst?: number;
  /** ...then one more per this interval. Default 10 s. */
  refillIntervalMs?: number;
  /** Series remembered at most; the least recently seen are forgotten first. Default 4096. */
  maxSeries?: number;
  /** Called for each event the rate limit drops (e.g. to count it in a metric). */
  onDropped?: (reason: string) => void;
}

const maxNoteBytes = 1024;
const maxFieldLength = 128;
const camelCase = /^[A-Z][A-Za-z0-9]*$/;

interface Series {
  namespace: string;
  /** Named by EventInput.id. */
  fixed: boolean;
  event: EventsV1Event;
  /** Set once the event exists in the API. */
  created: boolean;
  /** EventInput.unlessWritten, until it has run. */
  unlessWritten: (() => void) | undefined;
  count: number;
  writtenCount: number;
  lastObservedAt: number;
  lastWriteAt: number;
  writing: boolean;
  flushTimer: TimerHandle | undefined;
}

interface TokenBucket {
  tokens: number;
  refilledAt: number;
}

/**
 * Records events.k8s.io/v1 Events. Identical events (same object, type, reason,
 * action and note) repeated within the series window do not create new objects:
 * they raise the first one's series count, written at a bounded rate. New events
 * per object are rate limited (token bucket), so a hot error loop cannot flood
 * the apiserver. Recording never throws for API failures: events are best effort
 * and are logged when they cannot be written.
 */
export class EventRecorder {
  readonly #sink: EventSink;
  readonly #reportingInstance: string;
  readonly #clock: Clock;
  readonly #log: Logger | undefined;
  readonly #seriesWindowMs: number;
  readonly #seriesUpdateIntervalMs: number;
  readonly #burst: number;
  readonly #refillIntervalMs: number;
  readonly #maxSeries: number;
  readonly #onDropped: ((reason: string) => void) | undefined;
  readonly #series = new Map<string, Series>();
  readonly #buckets = new Map<string, TokenBucket>();
  readonly #inFlight = new Set<Promise<void>>();

  constructor(options: EventRecorderOptions) {
    if (!options.reportingInstance || options.reportingInstance.length > maxFieldLength) {
      throw new Error(`event recorder: reportingInstance must be 1-${maxFieldLength} characters`);
    }
    this.#sink = options.sink;
    this.#reportingInstance = options.reportingInstance;
    this.#clock = options.clock ?? systemClock;
    this.#log = options.log;
    this.#seriesWindowMs = options.seriesWindowMs ?? 6 * 60_000;
    this.#seriesUpdateIntervalMs = options.seriesUpdateIntervalMs ?? 10_000;
    this.#burst = options.burst ?? 25;
    this.#refillIntervalMs = options.refillIntervalMs ?? 10_000;
    this.#maxSeries = options.maxSeries ?? 4096;
    this.#onDropped = options.onDropped;
  }

  /** Records one occurrence. Throws only for malformed input (a programming error). */
  record(input: EventInput): void {
    validate(input);
    const now = this.#clock.now();
    const key = seriesKey(input);
    const existing = this.#series.get(key);
    if (existing && now - existing.lastObservedAt <= this.#seriesWindowMs) {
      existing.count++;
      existing.lastObservedAt = now;
      this.#touch(key, existing);
      this.#scheduleWrite(existing);
      return;
    }
    if (!this.#takeToken(objectKey(input.regarding), now)) {
      this.#onDropped?.(input.reason);
      this.#log?.debug({ reason: input.reason, object: input.regarding.name }, 'event dropped by rate limit');
      input.unlessWritten?.();
      return;
    }
    const series: Series = {
      namespace: input.regarding.namespace || 'default',
      fixed: input.id !== undefined,
      event: this.#buildEvent(input, now),
      created: false,
      unlessWritten: input.unlessWritten,
      count: 1,
      writtenCount: 0,
      lastObservedAt: now,
      lastWriteAt: 0,
      writing: false,
      flushTimer: undefined,
    };
    this.#touch(key, series);
    this.#write(series);
  }

  /** Writes pending series updates now and waits until nothing is left to write. */
  async flush(): Promise<void> {
    for (;;) {
      for (const series of this.#series.values()) {
        if (series.flushTimer && !series.writing) {
          series.flushTimer.cancel();
          series.flushTimer = undefined;
          this.#write(series);
        }
      }
      if (this.#inFlight.size === 0) return;
      // A finished write may schedule the next series update; the loop picks it up.
      await Promise.all([...this.#inFlight]);
    }
  }

  #buildEvent(input: EventInput, now: number): EventsV1Event {
    const namespace = input.regarding.namespace || 'default';
    const event: EventsV1Event = {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: {
        name:
          input.id === undefined
            ? eventName(input.regarding.name, now)
            : fixedName(input.regarding.name, input.id),
        namespace,
      },
      eventTime: microTime(now),
      reportingController,
      reportingInstance: this.#reportingInstance,
      action: input.action,
      reason: input.reason,
      type: input.type,
      // Redacted before it is cut, so no part of a credential an endpoint echoed is left behind.
      note: truncateUtf8(knownSecrets.redact(input.note), maxNoteBytes),
      regarding: { ...input.regarding },
    };
    if (input.related) event.related = { ...input.related };
    return event;
  }

  #scheduleWrite(series: Series): void {
    if (series.writing || series.flushTimer) return;
    const delay = Math.max(0, series.lastWriteAt + this.#seriesUpdateIntervalMs - this.#clock.now());
    series.flushTimer = this.#clock.setTimer(() => {
      series.flushTimer = undefined;
      this.#write(series);
    }, delay);
  }

  #write(series: Series): void {
    series.writing = true;
    const count = series.count;
    const write = this.#send(series, count)
      .then(() => {
        series.writtenCount = count;
      })
      .catch((error: unknown) => {
        this.#log?.warn(
          {
            reason: series.event.reason,
            object: series.event.regarding.name,
            error: describeKubeError(error),
          },
          'could not write event',
        );
      })
      .finally(() => {
        series.writing = false;
        series.lastWriteAt = this.#clock.now();
        this.#inFlight.delete(write);
        if (series.count > series.writtenCount && series.created) this.#scheduleWrite(series);
      });
    this.#inFlight.add(write);
  }

  async #send(series: Series, count: number): Promise<void> {
    const update = { count, lastObservedTime: microTime(series.lastObservedAt) };
    if (!series.created) {
      // Repeats that arrived before a (failed or pending) create are carried as its series.
      if (count > 1) series.event.series = update;
      const unlessWritten = series.unlessWritten;
      series.unlessWritten = undefined;
      let writtenBefore = false;
      try {
        await this.#sink.create(series.event);
      } catch (error) {
        // An event with a fixed name that is already there was written before a restart.
        writtenBefore = series.fixed && isAlreadyExists(error);
        if (!writtenBefore) {
          unlessWritten?.();
          throw error;
        }
      }
      series.created = true;
      if (!writtenBefore) unlessWritten?.();
      return;
    }
    try {
      await this.#sink.updateSeries(series.namespace, series.event.metadata?.name ?? '', update);
      series.event.series = update;
    } catch (error) {
      if (!isNotFound(error)) throw error;
      // The event expired (events have a TTL): start a fresh one carrying the series so far.
      const name = eventName(series.event.regarding.name, this.#clock.now());
      series.event = { ...series.event, metadata: { ...series.event.metadata, name }, series: update };
      await this.#sink.create(series.event);
    }
  }

  #takeToken(object: string, now: number): boolean {
    let bucket = this.#buckets.get(object);
    if (!bucket) {
      bucket = { tokens: this.#burst, refilledAt: now };
    } else {
      const refills = Math.floor((now - bucket.refilledAt) / this.#refillIntervalMs);
      if (refills > 0) {
        bucket.tokens = Math.min(this.#burst, bucket.tokens + refills);
        bucket.refilledAt =
          bucket.tokens === this.#burst ? now : bucket.refilledAt + refills * this.#refillIntervalMs;
      }
    }
    this.#buckets.delete(object);
    this.#buckets.set(object, bucket);
    evictOldest(this.#buckets, this.#maxSeries);
    if (bucket.tokens < 1) return false;
    bucket.tokens--;
    return true;
  }

  /** Marks a series as most recently seen (Map order is the LRU order). */
  #touch(key: string, series: Series): void {
    this.#series.delete(key);
    this.#series.set(key, series);
    evictOldest(this.#series, this.#maxSeries);
  }
}

function validate(input: EventInput): void {
  for (const [field, value] of [
    ['reason', input.reason],
    ['action', input.action],
  ] as const) {
    if (!camelCase.test(value) || value.length > maxFieldLength) {
      throw new Error(`event ${field} "${value}" must be CamelCase, 1-${maxFieldLength} characters`);
    }
  }
  if (input.type !== 'Normal' && input.type !== 'Warning') {
    throw new Error(`event type "${String(input.type)}" must be Normal or Warning`);
  }
  if (input.id !== undefined && !/^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$/.test(input.id)) {
    throw new Error(`event id "${input.id}" must be 1-64 lower-case letters, digits and dashes`);
  }
  const { regarding } = input;
  if (!regarding.apiVersion || !regarding.kind || !regarding.name) {
    throw new Error('event regarding needs apiVersion, kind and name');
  }
}

function objectKey(reference: EventObjectReference): string {
  return [
    reference.apiVersion,
    reference.kind,
    reference.namespace ?? '',
    reference.name,
    reference.uid ?? '',
  ].join('|');
}

function seriesKey(input: EventInput): string {
  return JSON.stringify([
    objectKey(input.regarding),
    input.related ? objectKey(input.related) : '',
    input.type,
    input.reason,
    input.action,
    input.note,
    input.id ?? '',
  ]);
}

/** "<object>.<hex time><random>", like client-go, cut to the 253-character name limit. */
function eventName(objectName: string, now: number): string {
  const suffix = `${now.toString(16)}${randomBytes(2).toString('hex')}`;
  return `${objectName.slice(0, 253 - suffix.length - 1)}.${suffix}`;
}

function fixedName(objectName: string, id: string): string {
  return `${objectName.slice(0, 253 - id.length - 1)}.${id}`;
}

/** Cuts `text` to at most `maxBytes` of UTF-8 without splitting a character. */
export function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text, 'utf8') <= maxBytes) return text;
  const ellipsis = '…';
  const budget = maxBytes - Buffer.byteLength(ellipsis, 'utf8');
  let bytes = 0;
  let end = 0;
  for (const char of text) {
    const size = Buffer.byteLength(char, 'utf8');
    if (bytes + size > budget) break;
    bytes += size;
    end += char.length;
  }
  return text.slice(0, end) + ellipsis;
}

function evictOldest<V>(map: Map<string, V>, max: number): void {
  while (map.size > max) {
    const oldest = map.keys().next().value;
    if (oldest === undefined) return;
    map.delete(oldest);
  }
}
