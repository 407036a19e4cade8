import { describe, expect, it } from '@jest/globals';
import type { Canary } from '../../../src/api/index.ts';
import type { Effects } from '../../../src/controller/effects.ts';
import type { Observer } from '../../../src/controller/observer.ts';
import { OwnWrites } from '../../../src/controller/own-writes.ts';
import { createReconciler } from '../../../src/controller/reconciler.ts';
import type { CanaryTelemetry } from '../../../src/controller/telemetry.ts';
import type { Observations } from '../../../src/engine/index.ts';
import type { KubeObjectClient } from '../../../src/kube/client.ts';
import { KubeRequestError } from '../../../src/kube/errors.ts';
import { createLogger } from '../../../src/telemetry/logger.ts';

// The reconciler against an informer cache that lags the apiserver: the copy it
// reads can be older than the status it just wrote, and it must not decide on it.

const KEY = 'team/podinfo';

function canaryAt(resourceVersion: string, status?: Canary['status']): Canary {
  return {
    apiVersion: 'fledge.dev/v1beta1',
    kind: 'Canary',
    // Finalized already: every Canary gets the finalizer on its first reconcile.
    metadata: {
      name: 'podinfo',
      namespace: 'team',
      uid: 'uid-1',
      generation: 1,
      resourceVersion,
      finalizers: ['fledge.dev/finalizer'],
    },
    spec: {
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
      service: { port: 9898 },
      analysis: { interval: '1m', threshold: 2, maxWeight: 50, stepWeight: 10 },
    },
    ...(status === undefined ? {} : { status }),
  } as Canary;
}

const observations: Observations = {
  target: {
    exists: true,
    revision: 'rev-1',
    configs: {},
    ready: { ready: true, message: 'ready', retriable: true },
  },
  primary: { exists: false },
  routes: undefined,
  hookResults: {},
  metricResults: {},
};

/** An apiserver for one Canary: merge patches bump the version and honour a resourceVersion precondition. */
class FakeApiserver {
  object: Canary;
  patches: Record<string, unknown>[] = [];
  constructor(object: Canary) {
    this.object = structuredClone(object);
  }
  readonly client = {
    patch: async (_ref: unknown, body: Record<string, unknown>) => {
      const precondition = (body.metadata as { resourceVersion?: string } | undefined)?.resourceVersion;
      if (precondition !== undefined && precondition !== this.object.metadata.resourceVersion) {
        throw new KubeRequestError({
          code: 409,
          reason: 'Conflict',
          message: 'the object has been modified',
        });
      }
      this.patches.push(body);
      const status = { ...this.object.status, ...(body.status as object) };
      // Like the apiserver, a patch that changes nothing keeps the version.
      if (JSON.stringify(status) === JSON.stringify(this.object.status)) return structuredClone(this.object);
      const next = Number(this.object.metadata.resourceVersion) + 1;
      this.object = {
        ...this.object,
        metadata: { ...this.object.metadata, resourceVersion: String(next) },
        status,
      };
      return structuredClone(this.object);
    },
  } as unknown as KubeObjectClient;
}

function harness(server: FakeApiserver, cached: () => Canary | undefined) {
  const calls = { observed: 0, actions: [] as string[] };
  const reconcile = createReconciler({
    log: createLogger('silent'),
    now: () => new Date('2026-12-01T10:00:00Z'),
    clusterName: 'test',
    defaultProvider: 'kubernetes',
    client: server.client,
    canaries: { get: () => cached() },
    observer: {
      observe: async () => {
        calls.observed++;
        return observations;
      },
      keepOnly: () => {},
      forget: () => {},
    } as unknown as Observer,
    effects: {
      apply: async (_key: string, _canary: Canary, _spec: unknown, action: { kind: string }) => {
        calls.actions.push(action.kind);
      },
      warn: () => {},
    } as unknown as Effects,
    telemetry: { observe: () => {}, forget: async () => {} } as unknown as CanaryTelemetry,
  });
  return { calls, reconcile: () => reconcile(KEY, new AbortController().signal) };
}

describe('reconcile on a lagging cache', () => {
  it('decides once, then waits while the cache still shows the version its status patch replaced', async () => {
    const stale = canaryAt('5');
    const server = new FakeApiserver(stale);
    let cache: Canary = stale;
    const { calls, reconcile } = harness(server, () => cache);

    const first = await reconcile();
    expect(server.patches).toHaveLength(1);
    expect(server.patches[0]).toMatchObject({ metadata: { resourceVersion: '5' } });
    expect(calls.observed).toBe(1);
    const actionsAfterFirst = calls.actions.length;
    expect(actionsAfterFirst).toBeGreaterThan(0);
    expect(first.requeueAfterMs).toBeDefined();

    // The watch event of the patch has not arrived: the same old copy is read again.
    const second = await reconcile();
    expect(calls.observed).toBe(1);
    expect(server.patches).toHaveLength(1);
    expect(calls.actions).toHaveLength(actionsAfterFirst);
    expect(second).toEqual({ requeueAfterMs: 1_000 });

    // Once the cache shows the written version, reconciles go on from it.
    cache = structuredClone(server.object);
    await reconcile();
    expect(calls.observed).toBe(2);
  });

  it('acts on nothing when the Canary changed since it was read, and does not decide on that copy again', async () => {
    const server = new FakeApiserver(canaryAt('7'));
    // Someone else wrote version 7; the cache still shows 5.
    const cache = canaryAt('5');
    const { calls, reconcile } = harness(server, () => cache);

    expect(await reconcile()).toEqual({ requeueAfterMs: 1_000 });
    expect(server.patches).toHaveLength(0);
    expect(calls.actions).toEqual([]);

    await reconcile();
    expect(calls.observed).toBe(1);
  });
  it('keeps deciding after a status patch that changed nothing (no new version, no watch event)', async () => {
    const server = new FakeApiserver(canaryAt('5'));
    let cache = canaryAt('5');
    const { calls, reconcile } = harness(server, () => cache);
    await reconcile();
    // At the written version, but showing less status than the server holds: the patch re-sends it.
    cache = { ...structuredClone(server.object), status: {} };
    await reconcile();
    expect(server.patches).toHaveLength(2);
    expect(server.object.metadata.resourceVersion).toBe('6');
    await reconcile();
    expect(calls.observed).toBe(3);
  });
});

describe('a deleted Canary whose spec cannot be read', () => {
  it('drops the finalizer instead of holding the Canary forever', async () => {
    const broken = canaryAt('5');
    broken.metadata.deletionTimestamp = '2026-12-01T09:59:00Z' as never;
    delete (broken.spec as { analysis?: unknown }).analysis;
    const server = new FakeApiserver(broken);
    const { calls, reconcile } = harness(server, () => broken);
    expect(await reconcile()).toEqual({});
    expect(server.patches).toEqual([
      [
        { op: 'test', path: '/metadata/finalizers/0', value: 'fledge.dev/finalizer' },
        { op: 'remove', path: '/metadata/finalizers/0' },
      ],
    ]);
    expect(calls.observed).toBe(0);
  });
});

describe('OwnWrites', () => {
  it('calls a version stale only when a write replaced it', () => {
    const writes = new OwnWrites();
    expect(writes.isStale(KEY, '5')).toBe(false);
    writes.replaced(KEY, '5');
    expect(writes.isStale(KEY, '5')).toBe(true);
    expect(writes.isStale(KEY, '6')).toBe(false);
    expect(writes.isStale('team/other', '5')).toBe(false);
    expect(writes.isStale(KEY, undefined)).toBe(false);
    writes.forget(KEY);
    expect(writes.isStale(KEY, '5')).toBe(false);
  });

  it('remembers a bounded number of versions per key', () => {
    const writes = new OwnWrites(2);
    for (const version of ['1', '2', '3']) writes.replaced(KEY, version);
    expect(writes.isStale(KEY, '1')).toBe(false);
    expect(writes.isStale(KEY, '2')).toBe(true);
    expect(writes.isStale(KEY, '3')).toBe(true);
  });
});
