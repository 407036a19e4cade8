import { describe, expect, it } from '@jest/globals';
import {
  createAndAwait,
  measurementObjectName,
  type ClusterClient,
  type ClusterObject,
  type ClusterRef,
} from '../../../src/analysis/cluster.ts';
import { KubeRequestError } from '../../../src/kube/errors.ts';
import { Handover } from '../../../src/runtime/handover.ts';

// Naming and adopting the objects cluster stores create; the real apiserver's
// answers are exercised in test/integration/analysis/cluster-stores.test.ts.

const requestId = '6f1c0a2e-uid/r1/t3/metric/0-smoke';

interface Thing extends ClusterObject {
  readonly metadata?: { readonly name?: string; readonly namespace?: string; readonly uid?: string };
  readonly done?: boolean;
}

/** An apiserver of one kind in memory: create refuses a taken name with 409, as the real one does. */
function memoryCluster(existing: Thing[] = []) {
  const objects = new Map(existing.map((o) => [o.metadata?.name ?? '', o]));
  const calls: string[] = [];
  const client: ClusterClient = {
    async create<T extends ClusterObject>(object: T): Promise<T> {
      const name = object.metadata?.name ?? '';
      calls.push(`create ${name}`);
      if (objects.has(name)) {
        throw new KubeRequestError({ code: 409, reason: 'AlreadyExists', message: `${name} exists` });
      }
      const created = { ...object, metadata: { ...object.metadata, uid: `uid-of-${name}` } };
      objects.set(name, created);
      return created;
    },
    async get<T extends ClusterObject>(ref: ClusterRef): Promise<T> {
      calls.push(`get ${ref.name}`);
      const found = objects.get(ref.name ?? '');
      if (!found) throw new KubeRequestError({ code: 404, reason: 'NotFound', message: 'not found' });
      return found as T;
    },
    async delete(ref: ClusterRef, options?: { uid?: string }): Promise<void> {
      calls.push(`delete ${ref.name} ${options?.uid}`);
      objects.delete(ref.name ?? '');
    },
    request: () => Promise.reject(new Error('not used')),
  };
  return { client, calls, objects };
}

const verdict = (thing: Thing) => (thing.done ? 1 : undefined);

describe('measurementObjectName', () => {
  it('is the same for the same measurement and differs between measurements', () => {
    const name = measurementObjectName('smoke-', requestId);
    expect(name).toMatch(/^smoke-[0-9a-f]{16}$/);
    expect(measurementObjectName('smoke-', requestId)).toBe(name);
    expect(measurementObjectName('smoke-', requestId.replace('t3', 't4'))).not.toBe(name);
  });

  it('makes any prefix a DNS-1123 label of at most 63 characters', () => {
    for (const prefix of ['', '-Smoke_Test.', 'a'.repeat(80), 'slo.v2-']) {
      const name = measurementObjectName(prefix, requestId);
      expect(name.length).toBeLessThanOrEqual(63);
      expect(name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    }
    expect(measurementObjectName('-Smoke_Test.', requestId)).toMatch(/^smoke-test-[0-9a-f]{16}$/);
  });
});

describe('createAndAwait', () => {
  const object: Thing = {
    apiVersion: 'test/v1',
    kind: 'Thing',
    metadata: { name: 'smoke-1', namespace: 'test' },
    done: true,
  };

  it('creates the named object, waits for its verdict and deletes that incarnation', async () => {
    const cluster = memoryCluster();
    await expect(
      createAndAwait(cluster.client, object, 'a Thing', verdict, new AbortController().signal, 1),
    ).resolves.toBe(1);
    expect(cluster.calls).toEqual(['create smoke-1', 'get smoke-1', 'delete smoke-1 uid-of-smoke-1']);
  });

  it('adopts the object of the same name instead of creating a second, and deletes it once judged', async () => {
    // An earlier operator created it before it restarted.
    const cluster = memoryCluster([{ ...object, metadata: { ...object.metadata, uid: 'earlier' } }]);
    await expect(
      createAndAwait(cluster.client, object, 'a Thing', verdict, new AbortController().signal, 1),
    ).resolves.toBe(1);
    expect(cluster.calls).toEqual(['create smoke-1', 'get smoke-1', 'delete smoke-1 earlier']);
  });

  it('leaves the object to the successor when the operator stops, and deletes it when no longer wanted', async () => {
    const unfinished: Thing = { ...object, done: false };
    // Aborted from the start: the in-memory create does not look at the signal, the wait does.
    const stopped = async (reason: Error) => {
      const cluster = memoryCluster();
      const signal = AbortSignal.abort(reason);
      await expect(createAndAwait(cluster.client, unfinished, 'a Thing', verdict, signal, 1)).rejects.toThrow(
        'waiting for Thing test/smoke-1 was cancelled',
      );
      return [...cluster.objects.keys()];
    };
    expect(await stopped(new Handover('operator stopped'))).toEqual(['smoke-1']);
    expect(await stopped(new Error('no longer needed'))).toEqual([]);
  });

  it('reports a conflict of an object named by generateName as an error', async () => {
    const cluster = memoryCluster();
    cluster.client.create = () =>
      Promise.reject(new KubeRequestError({ code: 409, reason: 'AlreadyExists', message: 'taken' }));
    const generated: Thing = { apiVersion: 'test/v1', kind: 'Thing', metadata: { namespace: 'test' } };
    await expect(
      createAndAwait(cluster.client, generated, 'a Thing', verdict, new AbortController().signal, 1),
    ).rejects.toThrow('creating a Thing in test: AlreadyExists (409): taken');
    expect(cluster.calls).toEqual([]);
  });
});
