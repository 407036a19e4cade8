import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { KubernetesObject } from '@kubernetes/client-node';
import { CachedObjectClient, atLeast, contains, forCache } from '../../../src/kube/cached-client.ts';
import { isNotFound } from '../../../src/kube/errors.ts';
import { applyObject } from '../../../src/kube/patch.ts';
import { fieldOwners } from '../../../src/workloads/primary.ts';
import { FakeApiServer } from './fake-apiserver.ts';

// Reads of watched kinds come from the informer's cache, and an apply the cache shows
// done is not sent. Every request that does reach the apiserver is counted here.

let server: FakeApiServer;
beforeAll(async () => {
  server = await FakeApiServer.start();
});
afterAll(() => server.close());

const serviceRef = { apiVersion: 'v1', kind: 'Service', namespace: 'team', name: 'podinfo' };
const configMapRef = { apiVersion: 'v1', kind: 'ConfigMap', namespace: 'team', name: 'podinfo' };

function service(resourceVersion: string, selector: Record<string, string>): KubernetesObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'podinfo', namespace: 'team', resourceVersion, uid: 'u1' },
    spec: { type: 'ClusterIP', clusterIP: '10.0.0.7', selector, ports: [{ port: 80, protocol: 'TCP' }] },
  } as KubernetesObject;
}

const desired = (selector: Record<string, string>) =>
  ({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'podinfo', namespace: 'team' },
    spec: { type: 'ClusterIP', selector, ports: [{ port: 80, protocol: 'TCP' }] },
  }) as KubernetesObject;

let cached: Map<string, KubernetesObject>;
let clock: number;
let client: CachedObjectClient;

beforeEach(() => {
  server.requests.length = 0;
  cached = new Map();
  clock = 0;
  client = new CachedObjectClient(
    server.kubeConfig(),
    (ref) =>
      ref.kind === 'Service'
        ? {
            get: (namespace, name) => cached.get(`${namespace}/${name}`),
            list: (namespace) => [...cached.values()].filter((o) => o.metadata?.namespace === namespace),
          }
        : undefined,
    { now: () => clock, writeSettleMs: 5_000 },
  );
});

const requests = () => server.requests.map((r) => `${r.method} ${r.path}`);

describe('CachedObjectClient reads', () => {
  it('answers a watched kind from the cache, absence included, and other kinds from the apiserver', async () => {
    cached.set('team/podinfo', service('5', { app: 'podinfo' }));
    const read = await client.get(serviceRef);
    expect(read.metadata?.resourceVersion).toBe('5');
    // A copy: changing it leaves the cache alone.
    (read.metadata as { resourceVersion: string }).resourceVersion = 'x';
    expect(cached.get('team/podinfo')?.metadata?.resourceVersion).toBe('5');
    const missing = await client.get({ ...serviceRef, name: 'other' }).catch((error: unknown) => error);
    expect(isNotFound(missing)).toBe(true);
    server.respond = () => ({ status: 200, body: { kind: 'ConfigMap', metadata: { name: 'podinfo' } } });
    await client.get(configMapRef);
    expect(requests()).toEqual(['GET /api/v1/namespaces/team/configmaps/podinfo']);
  });

  it('answers its own write with what the write returned until the cache shows it', async () => {
    cached.set('team/podinfo', service('5', { app: 'podinfo' }));
    server.respond = () => ({ status: 200, body: service('6', { app: 'podinfo-primary' }) });
    await client.patch(
      serviceRef,
      [{ op: 'replace', path: '/spec/selector', value: {} }],
      'application/json-patch+json',
    );
    const read = await client.get(serviceRef);
    expect(read.metadata?.resourceVersion).toBe('6');
    expect((read as { spec: { selector: unknown } }).spec.selector).toEqual({ app: 'podinfo-primary' });
    // A copy: the caller may change it.
    (read.metadata as { resourceVersion: string }).resourceVersion = 'x';
    expect((await client.get(serviceRef)).metadata?.resourceVersion).toBe('6');
    expect(requests()).toEqual(['PATCH /api/v1/namespaces/team/services/podinfo']);
    cached.set('team/podinfo', service('7', { app: 'other' }));
    expect((await client.get(serviceRef)).metadata?.resourceVersion).toBe('7');
    expect(requests()).toHaveLength(1);
  });

  it('reads from the apiserver after a write that answered with another kind, until the cache shows it', async () => {
    cached.set('team/podinfo', service('5', { app: 'podinfo' }));
    server.respond = (request) =>
      request.method === 'PATCH'
        ? {
            status: 200,
            body: { apiVersion: 'autoscaling/v1', kind: 'Scale', metadata: { resourceVersion: '6' } },
          }
        : { status: 200, body: service('6', { app: 'podinfo' }) };
    await client.patch(serviceRef, { spec: { replicas: 2 } }, 'application/merge-patch+json', {
      subresource: 'scale',
    });
    expect((await client.get(serviceRef)).metadata?.resourceVersion).toBe('6');
    expect(requests()).toEqual([
      'PATCH /api/v1/namespaces/team/services/podinfo/scale',
      'GET /api/v1/namespaces/team/services/podinfo',
    ]);
    cached.set('team/podinfo', service('6', { app: 'podinfo' }));
    await client.get(serviceRef);
    expect(requests()).toHaveLength(2);
  });

  it('takes a later version in the cache for its own write', async () => {
    cached.set('team/podinfo', service('9', { app: 'podinfo' }));
    server.respond = () => ({ status: 200, body: service('10', { app: 'x' }) });
    await client.patch(serviceRef, {}, 'application/merge-patch+json');
    // Another writer (a controller updating status) moved it on before the cache was read.
    cached.set('team/podinfo', service('11', { app: 'x' }));
    expect((await client.get(serviceRef)).metadata?.resourceVersion).toBe('11');
    expect(requests()).toHaveLength(1);
  });

  it("lists a namespace's objects of a cached kind from the cache", async () => {
    cached.set('team/podinfo', service('5', { app: 'podinfo' }));
    const { items } = await client.list({ apiVersion: 'v1', kind: 'Service', namespace: 'team' });
    expect(items.map((item) => item.metadata?.name)).toEqual(['podinfo']);
    server.respond = () => ({ status: 200, body: { items: [] } });
    await client.list({ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'team' });
    expect(requests()).toEqual(['GET /api/v1/namespaces/team/configmaps']);
  });

  it('trusts the cache again once a write has had time to settle', async () => {
    cached.set('team/podinfo', service('5', { app: 'podinfo' }));
    server.respond = () => ({ status: 200, body: service('6', { app: 'x' }) });
    await client.patch(serviceRef, {}, 'application/merge-patch+json');
    clock = 5_000;
    expect((await client.get(serviceRef)).metadata?.resourceVersion).toBe('5');
    expect(requests()).toHaveLength(1);
  });

  it('reads a deleted object from the apiserver until the cache drops it', async () => {
    cached.set('team/podinfo', service('5', { app: 'podinfo' }));
    server.respond = (request) =>
      request.method === 'DELETE' ? { status: 200, body: {} } : { status: 404, body: { reason: 'NotFound' } };
    await client.delete(serviceRef);
    expect(isNotFound(await client.get(serviceRef).catch((error: unknown) => error))).toBe(true);
    expect(requests()).toHaveLength(2);
    cached.delete('team/podinfo');
    expect(isNotFound(await client.get(serviceRef).catch((error: unknown) => error))).toBe(true);
    expect(requests()).toHaveLength(2);
  });
});

describe('CachedObjectClient server-side apply', () => {
  it('sends an apply only when its body changed or the cache shows something else', async () => {
    server.respond = () => ({ status: 200, body: service('6', { app: 'podinfo-primary' }) });
    cached.set('team/podinfo', service('5', { app: 'old' }));
    const applies = () => server.requests.filter((r) => r.method === 'PATCH').length;

    // First apply of this process: sent, even if the cache already looks right.
    await applyObject(client, desired({ app: 'podinfo-primary' }));
    expect(applies()).toBe(1);
    cached.set('team/podinfo', service('6', { app: 'podinfo-primary' }));

    // The same body, and the cache holds every field of it: nothing to send.
    const again = await applyObject(client, desired({ app: 'podinfo-primary' }));
    expect(again.metadata?.resourceVersion).toBe('6');
    expect(applies()).toBe(1);

    // Someone changed a field Fledge applies: sent again.
    cached.set('team/podinfo', service('7', { app: 'theirs' }));
    await applyObject(client, desired({ app: 'podinfo-primary' }));
    expect(applies()).toBe(2);

    // The same fields with other values the cache already holds (a selector switched by a patch): nothing.
    await applyObject(client, desired({ app: 'theirs' }));
    expect(applies()).toBe(2);

    // Other fields (one added, then dropped): sent, though the cache holds every value.
    cached.set('team/podinfo', service('8', { app: 'podinfo-primary', tier: 'web' }));
    await applyObject(client, desired({ app: 'podinfo-primary', tier: 'web' }));
    await applyObject(client, desired({ app: 'podinfo-primary' }));
    expect(applies()).toBe(4);
    expect(requests().every((r) => r.startsWith('PATCH'))).toBe(true);
  });
});

describe('CachedObjectClient server-side apply of a kind no informer caches', () => {
  it('skips it when the object the caller just read shows it applied', async () => {
    const configMap = (data: Record<string, string>) =>
      ({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'podinfo', namespace: 'team' },
        data,
      }) as KubernetesObject;
    const live = {
      ...configMap({ a: '1' }),
      metadata: { name: 'podinfo', namespace: 'team', resourceVersion: '3' },
    };
    server.respond = () => ({ status: 200, body: live });
    await applyObject(client, configMap({ a: '1' }), { live });
    await applyObject(client, configMap({ a: '1' }), { live });
    expect(requests()).toEqual(['PATCH /api/v1/namespaces/team/configmaps/podinfo']);
    // Without what the caller read, or when it differs, the apply goes out.
    await applyObject(client, configMap({ a: '1' }));
    await applyObject(client, configMap({ a: '1' }), { live: configMap({ a: '2' }) });
    expect(requests()).toHaveLength(3);
  });
});

describe('atLeast', () => {
  it('compares resource versions as integers, anything else by equality', () => {
    expect(atLeast('10', '9')).toBe(true);
    expect(atLeast('9', '10')).toBe(false);
    expect(atLeast('10', '10')).toBe(true);
    expect(atLeast('abc', 'abd')).toBe(false);
    expect(atLeast('abc', 'abc')).toBe(true);
    expect(atLeast(undefined, '1')).toBe(false);
  });
});

describe('contains', () => {
  it('holds for a subset of fields, lists item by item', () => {
    expect(contains({ a: 1, b: { c: 'x', d: 2 } }, { b: { c: 'x' } })).toBe(true);
    expect(contains({ a: [{ x: 1, y: 2 }] }, { a: [{ x: 1 }] })).toBe(true);
    expect(contains({ a: [{ x: 1 }, { x: 2 }] }, { a: [{ x: 1 }] })).toBe(false);
    expect(contains({ a: '1' }, { a: 1 })).toBe(false);
    expect(contains({ kind: 'Service' }, { apiVersion: 'v1', kind: 'Service' }, true)).toBe(true);
    expect(contains({}, { a: {} })).toBe(false);
  });
});

describe('forCache', () => {
  const entry = (
    manager: string,
    operation: string,
    fieldsV1: Record<string, unknown>,
    subresource?: string,
  ) => ({
    manager,
    operation,
    apiVersion: 'apps/v1',
    fieldsType: 'FieldsV1',
    ...(subresource === undefined ? {} : { subresource }),
    fieldsV1,
  });
  const deployment = () => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: 'api-primary',
      namespace: 'team',
      managedFields: [
        entry('fledge', 'Apply', { 'f:spec': { 'f:replicas': {}, 'f:template': { 'f:spec': {} } } }),
        entry('kube-controller-manager', 'Update', { 'f:status': { 'f:replicas': {} } }, 'status'),
        entry('kube-controller-manager', 'Update', { 'f:spec': { 'f:replicas': {} } }, 'scale'),
      ],
    },
    spec: { replicas: 2 },
  });

  it('keeps of managedFields only who owns spec.replicas, the one field Fledge asks about', () => {
    const before = deployment();
    const cached = forCache(structuredClone(before));
    expect(cached.metadata.managedFields).toEqual([
      entry('fledge', 'Apply', { 'f:spec': { 'f:replicas': {} } }),
      entry('kube-controller-manager', 'Update', { 'f:spec': { 'f:replicas': {} } }, 'scale'),
    ]);
    expect(fieldOwners(cached.metadata.managedFields, ['spec', 'replicas'])).toEqual(
      fieldOwners(before.metadata.managedFields, ['spec', 'replicas']),
    );
    expect(cached.spec).toEqual(before.spec);
  });

  it('drops managedFields that own no spec.replicas, and leaves objects without any alone', () => {
    const configMap = {
      metadata: { name: 'c', managedFields: [entry('kubectl', 'Apply', { 'f:data': { 'f:k': {} } })] },
      data: { k: 'v' },
    };
    expect(forCache(configMap)).toEqual({ metadata: { name: 'c' }, data: { k: 'v' } });
    expect(forCache({ metadata: { name: 'bare' } })).toEqual({ metadata: { name: 'bare' } });
  });
});
