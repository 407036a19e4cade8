import { describe, expect, it } from '@jest/globals';
import type { KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import { ManualClock, settle } from '../../../src/runtime/clock.ts';
import { SupervisedInformer, type ChangeType, type WatchClient } from '../../../src/runtime/informer.ts';
import { createMetrics } from '../../../src/telemetry/metrics.ts';

interface Connection {
  query: Record<string, unknown>;
  emit: (phase: string, object: KubernetesObject) => void;
  end: (error: unknown) => void;
  aborted: boolean;
}

/** A scripted apiserver collection behind client-node's real ListWatch. */
class FakeCollection {
  readonly objects = new Map<string, KubernetesObject>();
  readonly connections: Connection[] = [];
  resourceVersion = 100;
  lists = 0;
  listFailure: Error | undefined;
  listHangs = false;

  list = async (): Promise<KubernetesListObject<KubernetesObject>> => {
    this.lists++;
    if (this.listHangs) return new Promise(() => {});
    if (this.listFailure) throw this.listFailure;
    return {
      metadata: { resourceVersion: String(this.resourceVersion) },
      items: [...this.objects.values()].map((object) => structuredClone(object)),
    };
  };

  watch: WatchClient = {
    watch: async (_path, query, callback, done) => {
      const controller = new AbortController();
      const connection: Connection = {
        query,
        emit: (phase, object) => callback(phase, structuredClone(object)),
        end: (error) => done(error),
        aborted: false,
      };
      controller.signal.addEventListener('abort', () => (connection.aborted = true));
      this.connections.push(connection);
      return controller;
    },
  };

  /** Open watches (the latest one is the live one). */
  get live(): Connection | undefined {
    return this.connections.filter((connection) => !connection.aborted).at(-1);
  }

  put(name: string, data: string, notify = true): void {
    const existed = this.objects.has(name);
    const object: KubernetesObject & { data: string } = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { namespace: 'ns', name, resourceVersion: String(++this.resourceVersion) },
      data,
    };
    this.objects.set(name, object);
    if (notify) this.live?.emit(existed ? 'MODIFIED' : 'ADDED', object);
  }

  remove(name: string, notify = true): void {
    const object = this.objects.get(name);
    if (!object) throw new Error(`no ${name}`);
    this.objects.delete(name);
    this.resourceVersion++;
    if (notify) this.live?.emit('DELETED', object);
  }
}

function setup(
  options: {
    stallTimeoutMs?: number;
    resyncIntervalMs?: number;
    transform?: (object: KubernetesObject) => KubernetesObject;
  } = {},
) {
  const clock = new ManualClock();
  const api = new FakeCollection();
  const metrics = createMetrics({ version: 't', meshProvider: 'none', processMetrics: false });
  const seen: { key: string; change: ChangeType }[] = [];
  const informer = new SupervisedInformer<KubernetesObject>({
    resource: 'configmaps',
    path: '/api/v1/configmaps',
    list: api.list,
    watch: api.watch,
    clock,
    random: () => 0,
    stallTimeoutMs: options.stallTimeoutMs ?? 60_000,
    resyncIntervalMs: options.resyncIntervalMs ?? 3_600_000,
    metrics: metrics.informer,
    ...(options.transform === undefined ? {} : { transform: options.transform }),
  });
  const keys: string[] = [];
  informer.addHandler({
    keysFor: (object, change) => {
      seen.push({ key: `${object.metadata?.namespace}/${object.metadata?.name}`, change });
      return [`${object.metadata?.namespace}/${object.metadata?.name}`];
    },
    enqueue: (key) => keys.push(key),
  });
  return { clock, api, informer, seen, keys, registry: metrics.registry };
}

describe('SupervisedInformer', () => {
  it('lists, syncs, then delivers watch events as keys and serves the cache', async () => {
    const { api, informer, seen, keys } = setup();
    api.put('a', '1', false);
    expect(informer.hasSynced()).toBe(false);
    informer.start();
    await informer.whenSynced();
    expect(informer.hasSynced()).toBe(true);
    expect(keys).toEqual(['ns/a']);
    await settle();
    expect(api.live?.query.resourceVersion).toBe('101');

    api.put('b', '1');
    api.put('a', '2');
    api.remove('b');
    expect(seen).toEqual([
      { key: 'ns/a', change: 'add' },
      { key: 'ns/b', change: 'add' },
      { key: 'ns/a', change: 'update' },
      { key: 'ns/b', change: 'delete' },
    ]);
    expect((informer.get('ns', 'a') as unknown as { data: string }).data).toBe('2');
    expect(informer.get('ns', 'b')).toBeUndefined();
    expect(informer.list().map((object) => object.metadata?.name)).toEqual(['a']);
    informer.stop();
  });

  it('caches and hands on listed and watched objects as its transform leaves them', async () => {
    const transform = (object: KubernetesObject) => {
      const data = object as KubernetesObject & { data: string };
      data.data = `seen ${data.data}`;
      return object;
    };
    const { api, informer } = setup({ transform });
    const seenData: string[] = [];
    informer.addHandler({
      keysFor: (object) => {
        seenData.push((object as KubernetesObject & { data: string }).data);
        return [];
      },
      enqueue: () => {},
    });
    api.put('listed', '1', false);
    informer.start();
    await informer.whenSynced();
    await settle();
    api.put('watched', '2');
    const dataOf = (name: string) => (informer.get('ns', name) as unknown as { data: string }).data;
    expect([dataOf('listed'), dataOf('watched')]).toEqual(['seen 1', 'seen 2']);
    expect(seenData).toEqual(['seen 1', 'seen 2']);
    informer.stop();
  });

  it('restarts after a watch error with back-off, relists, and reports deletes it missed', async () => {
    const { clock, api, informer, seen, registry } = setup();
    api.put('a', '1', false);
    api.put('b', '1', false);
    informer.start();
    await informer.whenSynced();
    await settle();
    const listsBefore = api.lists;
    seen.length = 0;

    // The watch fails; while it is down, b is deleted and a changes without any event reaching us.
    api.live?.end(Object.assign(new Error('Internal Server Error'), { statusCode: 500 }));
    api.remove('b', false);
    api.put('a', '2', false);
    await clock.advance(999);
    expect(api.lists).toBe(listsBefore);
    // The cache still answers while no watch runs.
    expect(informer.get('ns', 'b')).toBeDefined();

    await clock.advance(1);
    expect(api.lists).toBe(listsBefore + 1);
    expect(seen).toEqual(
      expect.arrayContaining([
        { key: 'ns/a', change: 'update' },
        { key: 'ns/b', change: 'delete' },
      ]),
    );
    expect(informer.get('ns', 'b')).toBeUndefined();
    expect(await sample(registry, 'fledge_informer_restarts_total', { reason: 'error' })).toBe(1);

    api.put('c', '1');
    expect(seen.at(-1)).toEqual({ key: 'ns/c', change: 'add' });
    informer.stop();
  });

  it('backs off exponentially while lists keep failing and resets once a watch is established', async () => {
    const { clock, api, informer } = setup({ stallTimeoutMs: 3_600_000 });
    api.listFailure = Object.assign(new Error('Service Unavailable'), { statusCode: 503 });
    informer.start();
    await settle();
    const listTimes: number[] = [];
    const start = clock.now();
    for (let elapsed = 0; elapsed < 16_000; elapsed += 100) {
      const before = api.lists;
      await clock.advance(100);
      if (api.lists > before) listTimes.push(clock.now() - start);
    }
    // Restarts 1 s, 2 s, 4 s and 8 s after each failure.
    expect(listTimes).toEqual([1_000, 3_000, 7_000, 15_000]);

    api.listFailure = undefined;
    await clock.advance(16_000);
    expect(informer.hasSynced()).toBe(true);
    await settle();
    api.live?.end(Object.assign(new Error('boom'), { statusCode: 500 }));
    const before = api.lists;
    await clock.advance(1_000);
    expect(api.lists).toBe(before + 1);
    informer.stop();
  });

  it('restarts a watch that went silent once the stall timeout passes', async () => {
    const { clock, api, informer, registry } = setup({ stallTimeoutMs: 60_000 });
    informer.start();
    await informer.whenSynced();
    await settle();
    const silent = api.live;
    await clock.advance(50_000);
    expect(silent?.aborted).toBe(false);
    await clock.advance(30_000);
    expect(silent?.aborted).toBe(true);
    expect(await sample(registry, 'fledge_informer_restarts_total', { reason: 'stall' })).toBe(1);
    await clock.advance(2_000);
    expect(api.live).toBeDefined();
    expect(api.live).not.toBe(silent);
    informer.stop();
  });

  it('does not count a quiet but connected informer as stalled while events keep coming', async () => {
    const { clock, api, informer, registry } = setup({ stallTimeoutMs: 60_000 });
    informer.start();
    await informer.whenSynced();
    for (let i = 0; i < 10; i++) {
      await clock.advance(40_000);
      api.put(`x${i}`, '1');
    }
    expect(await sample(registry, 'fledge_informer_restarts_total', { reason: 'stall' })).toBe(0);
    informer.stop();
  });

  it('relists periodically, re-enqueueing every key and healing missed updates', async () => {
    const { clock, api, informer, seen, registry } = setup({
      resyncIntervalMs: 600_000,
      stallTimeoutMs: 3_600_000,
    });
    api.put('a', '1', false);
    api.put('b', '1', false);
    informer.start();
    await informer.whenSynced();
    seen.length = 0;
    api.put('b', '2', false);
    await clock.advance(600_000);
    expect(seen).toEqual(
      expect.arrayContaining([
        { key: 'ns/a', change: 'resync' },
        { key: 'ns/b', change: 'update' },
      ]),
    );
    expect(await sample(registry, 'fledge_informer_relists_total', {})).toBe(1);
    expect((informer.get('ns', 'b') as unknown as { data: string }).data).toBe('2');
    informer.stop();
  });

  it('reports stalled health when even restarts get nothing from the apiserver', async () => {
    const { clock, api, informer } = setup({ stallTimeoutMs: 60_000 });
    api.listHangs = true;
    informer.start();
    await clock.advance(100_000);
    expect(informer.health().stalled).toBe(false);
    await clock.advance(30_000);
    expect(informer.health()).toMatchObject({ started: true, synced: false, stalled: true });
    informer.stop();
    await expect(informer.whenSynced()).rejects.toThrow(/stopped before it synced/);
  });

  it('keeps delivering when a handler throws', async () => {
    const { api, informer, keys } = setup();
    const failing = new SupervisedInformer<KubernetesObject>({
      resource: 'configmaps',
      path: '/api/v1/configmaps',
      list: api.list,
      watch: api.watch,
      clock: new ManualClock(),
    });
    failing.addHandler({
      enqueue: () => {
        throw new Error('handler bug');
      },
    });
    const delivered: string[] = [];
    failing.addHandler({ enqueue: (key) => delivered.push(key) });
    api.put('a', '1', false);
    failing.start();
    await failing.whenSynced();
    expect(delivered).toEqual(['ns/a']);
    expect(keys).toEqual([]);
    failing.stop();
    informer.stop();
  });

  it('refuses handlers registered after start', () => {
    const { informer } = setup();
    informer.start();
    expect(() => informer.addHandler({ enqueue: () => {} })).toThrow(/before start/);
    informer.stop();
  });

  it('stops watching on stop()', async () => {
    const { api, informer, seen } = setup();
    informer.start();
    await informer.whenSynced();
    await settle();
    const live = api.live;
    informer.stop();
    expect(live?.aborted).toBe(true);
    live?.emit('ADDED', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { namespace: 'ns', name: 'late' } });
    expect(seen).toEqual([]);
  });
});

async function sample(
  registry: Registry,
  name: string,
  labels: Record<string, string>,
): Promise<number | undefined> {
  const metric = registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  const { values } = await metric.get();
  const found = values.find((value) =>
    Object.entries(labels).every(([label, expected]) => value.labels[label] === expected),
  );
  return found?.value;
}
