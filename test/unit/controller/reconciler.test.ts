import { describe, expect, it } from '@jest/globals';
import type { Canary } from '../../../src/api/index.ts';
import type { Effects } from '../../../src/controller/effects.ts';
import type { Observer } from '../../../src/controller/observer.ts';
import { OwnWrites } from '../../../src/controller/own-writes.ts';
import { TerminalError } from '../../../src/controller/failures.ts';
import type { Preflight } from '../../../src/controller/preflight.ts';
import { createReconciler } from '../../../src/controller/reconciler.ts';
import { RouterConfigError } from '../../../src/routers/index.ts';
import type { CanaryTelemetry } from '../../../src/controller/telemetry.ts';
import type { Observations } from '../../../src/engine/index.ts';
import type { KubeObjectClient } from '../../../src/kube/client.ts';
import { KubeRequestError } from '../../../src/kube/errors.ts';
import { createLogger } from '../../../src/telemetry/logger.ts';
import { knownSecrets } from '../../../src/telemetry/secrets.ts';

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

interface HarnessOptions {
  preflight?: Preflight;
  observe?: () => Promise<Observations>;
  /** What the observer says the data plane behind the router ignores. */
  findings?: { field: string; message: string }[];
}

function harness(server: FakeApiserver, cached: () => Canary | undefined, options: HarnessOptions = {}) {
  const calls = {
    observed: 0,
    actions: [] as string[],
    warnings: [] as { reason: string; message: string }[],
    transient: [] as string[],
    refused: [] as string[],
    replayed: 0,
  };
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
        return options.observe ? options.observe() : observations;
      },
      keepOnly: () => {},
      forget: () => {},
      findings: () => options.findings ?? [],
    } as unknown as Observer,
    effects: {
      apply: async (_key: string, _canary: Canary, _spec: unknown, action: { kind: string }) => {
        calls.actions.push(action.kind);
      },
      warn: (_canary: Canary, reason: string, message: string) => {
        calls.warnings.push({ reason, message });
      },
      replayDecidedEvents: () => {
        calls.replayed++;
      },
    } as unknown as Effects,
    telemetry: { observe: () => {}, forget: async () => {} } as unknown as CanaryTelemetry,
    preflight: options.preflight ?? (async () => []),
    failures: {
      transient: (reason) => calls.transient.push(reason),
      refused: (reason) => calls.refused.push(reason),
    },
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
    // The last decision's Events are sent again once per process, in case a crash lost them.
    expect(calls.replayed).toBe(1);
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

/** The object as the apiserver serves it: JSON with every object's keys in sorted order (Go's encoding of maps). */
function asServed<T>(value: T): T {
  const sort = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(sort)
      : typeof v === 'object' && v !== null
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((key) => [key, sort((v as Record<string, unknown>)[key])]),
          )
        : v;
  return sort(JSON.parse(JSON.stringify(value))) as T;
}

describe('status patches', () => {
  it('sends none when the decided status equals the served one, whatever its key order', async () => {
    const server = new FakeApiserver(canaryAt('5'));
    let cache = canaryAt('5');
    const { calls, reconcile } = harness(server, () => cache);
    await reconcile();
    expect(server.patches).toHaveLength(1);
    // The same world again, read back as the apiserver serves it: nothing to write.
    for (let i = 0; i < 3; i++) {
      cache = asServed(server.object);
      await reconcile();
    }
    expect(calls.observed).toBe(4);
    expect(server.patches).toHaveLength(1);
  });

  it('sends none when the served status is the decided one with a credential redacted', async () => {
    const token = 'tok-9f8e7d6c5b4a39281706';
    knownSecrets.remember(token);
    // Initializing for a minute already, so the wait on the primary is written as a stall.
    const since = { phase: 'Initializing' as const, lastTransitionTime: '2026-12-01T09:59:00Z' };
    const server = new FakeApiserver(canaryAt('5', since));
    let cache = canaryAt('5', since);
    const notReady = { ready: false, message: `probe answered ${token}`, retriable: true };
    const { reconcile } = harness(server, () => cache, {
      observe: async () => ({ ...observations, primary: { exists: true, ready: notReady } }),
    });
    await reconcile();
    expect(JSON.stringify(server.object.status)).toContain('[redacted]');
    expect(JSON.stringify(server.object.status)).not.toContain(token);
    cache = asServed(server.object);
    await reconcile();
    expect(server.patches).toHaveLength(1);
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

/** The Ready condition the fake apiserver holds. */
function readyOf(server: FakeApiserver) {
  return server.object.status?.conditions?.find((c) => c.type === 'Ready');
}

describe('a Canary Fledge cannot act on as written', () => {
  it('gets Ready=False with the reason, one Warning event and a long requeue, not a retry loop', async () => {
    const server = new FakeApiserver(canaryAt('5'));
    let cache = canaryAt('5');
    const { calls, reconcile } = harness(server, () => cache, {
      preflight: async () => {
        throw new RouterConfigError('provider "istio" has no router yet', 'ProviderUnavailable');
      },
    });
    const first = await reconcile();
    expect(first.requeueAfterMs).toBeGreaterThanOrEqual(60_000);
    expect(readyOf(server)).toMatchObject({
      status: 'False',
      reason: 'ProviderUnavailable',
      message: 'provider "istio" has no router yet',
      observedGeneration: 1,
    });
    expect(calls.observed).toBe(0);
    expect(calls.actions).toEqual([]);

    // Again and again, from the written copy: no new write, no new event.
    for (let i = 0; i < 3; i++) {
      cache = structuredClone(server.object);
      expect(await reconcile()).toEqual(first);
    }
    expect(server.patches).toHaveLength(1);
    expect(calls.warnings).toEqual([
      { reason: 'ProviderUnavailable', message: 'provider "istio" has no router yet' },
    ]);
    expect(calls.refused).toEqual(['ProviderUnavailable']);
    expect(calls.transient).toEqual([]);
  });

  it('refuses a target found unusable while observing, and goes on once it is fixed', async () => {
    const server = new FakeApiserver(canaryAt('5'));
    let cache = canaryAt('5');
    let broken = true;
    const { calls, reconcile } = harness(server, () => cache, {
      observe: async () => {
        if (broken) throw new TerminalError('TargetInvalid', 'Deployment team/podinfo: no selector label');
        return observations;
      },
    });
    await reconcile();
    expect(readyOf(server)).toMatchObject({ status: 'False', reason: 'TargetInvalid' });
    expect(calls.warnings.map((w) => w.reason)).toEqual(['TargetInvalid']);

    broken = false;
    cache = structuredClone(server.object);
    await reconcile();
    expect(readyOf(server)?.reason).not.toBe('TargetInvalid');
    expect(calls.actions.length).toBeGreaterThan(0);
    expect(calls.warnings).toHaveLength(1);
  });

  it('keeps InvalidSpec on the same path: one condition, one event', async () => {
    const broken = canaryAt('5');
    delete (broken.spec as { analysis?: unknown }).analysis;
    const server = new FakeApiserver(broken);
    let cache = broken;
    const { calls, reconcile } = harness(server, () => cache);
    await reconcile();
    cache = structuredClone(server.object);
    await reconcile();
    expect(readyOf(server)).toMatchObject({ status: 'False', reason: 'InvalidSpec' });
    expect(calls.warnings.map((w) => w.reason)).toEqual(['InvalidSpec']);
    expect(server.patches).toHaveLength(1);
  });

  it('lets a deleted Canary go when it cannot be acted on, instead of holding it forever', async () => {
    const deleted = canaryAt('5');
    deleted.metadata.deletionTimestamp = '2026-12-01T09:59:00Z' as never;
    const server = new FakeApiserver(deleted);
    const { calls, reconcile } = harness(server, () => deleted, {
      observe: async () => {
        throw new RouterConfigError('provider "istio" has no router yet', 'ProviderUnavailable');
      },
    });
    expect(await reconcile()).toEqual({});
    expect(server.patches).toEqual([
      [
        { op: 'test', path: '/metadata/finalizers/0', value: 'fledge.dev/finalizer' },
        { op: 'remove', path: '/metadata/finalizers/0' },
      ],
    ]);
    expect(calls.warnings).toEqual([
      {
        reason: 'ProviderUnavailable',
        message: 'provider "istio" has no router yet; deleted without handing traffic back',
      },
    ]);
  });

  it('retries a transient error with back-off and counts it', async () => {
    const server = new FakeApiserver(canaryAt('5'));
    const { calls, reconcile } = harness(server, () => canaryAt('5'), {
      observe: async () => {
        throw new KubeRequestError({ code: 503, reason: 'ServiceUnavailable', message: 'try again' });
      },
    });
    await expect(reconcile()).rejects.toThrow('try again');
    expect(calls.transient).toEqual(['server_error']);
    expect(calls.warnings).toEqual([]);
    expect(server.patches).toHaveLength(0);
  });

  it('names the fields that are ignored in Ready, with one event, and proceeds', async () => {
    const server = new FakeApiserver(canaryAt('5'));
    let cache = canaryAt('5');
    const finding = { field: 'spec.upstreamRef', message: 'spec.upstreamRef (Gloo) is not read by Fledge' };
    const { calls, reconcile } = harness(server, () => cache, { preflight: async () => [finding] });
    await reconcile();
    expect(calls.actions.length).toBeGreaterThan(0);
    expect(readyOf(server)?.message).toContain(`ignored: ${finding.message}`);
    cache = structuredClone(server.object);
    await reconcile();
    expect(calls.warnings).toEqual([{ reason: 'FieldsIgnored', message: `ignored: ${finding.message}` }]);
  });
});

describe('fields the data plane ignores', () => {
  it('are named in Ready with one event, like fields the router ignores', async () => {
    const server = new FakeApiserver(canaryAt('5'));
    let cache = canaryAt('5');
    const router = { field: 'spec.upstreamRef', message: 'spec.upstreamRef (Gloo) is not read by Fledge' };
    const plane = {
      field: 'spec.analysis.sessionAffinity',
      message: 'spec.analysis.sessionAffinity is ignored',
    };
    const { calls, reconcile } = harness(server, () => cache, {
      preflight: async () => [router],
      findings: [plane],
    });
    await reconcile();
    const note = `ignored: ${router.message}; ${plane.message}`;
    expect(readyOf(server)?.message).toContain(note);
    cache = structuredClone(server.object);
    await reconcile();
    expect(calls.warnings).toEqual([{ reason: 'FieldsIgnored', message: note }]);
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
