import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { KubeObjectClient } from '../../../src/kube/client.ts';
import { isConflict, isNotFound, normalizeKubeError } from '../../../src/kube/errors.ts';
import {
  addFinalizer,
  addFinalizerPatch,
  applyObject,
  patchStatus,
  removeFinalizer,
  removeFinalizerPatch,
} from '../../../src/kube/patch.ts';
import { knownSecrets } from '../../../src/telemetry/secrets.ts';
import { FakeApiServer } from './fake-apiserver.ts';

const canary = {
  apiVersion: 'fledge.dev/v1beta1',
  kind: 'Canary',
  metadata: { namespace: 'apps', name: 'podinfo', finalizers: ['other.io/keep'] },
};

describe('patch builders', () => {
  it('adds a finalizer to a missing list, guarded by a test that it is still missing', () => {
    expect(addFinalizerPatch(undefined, 'fledge.dev/finalizer')).toEqual([
      { op: 'test', path: '/metadata/finalizers', value: null },
      { op: 'add', path: '/metadata/finalizers', value: ['fledge.dev/finalizer'] },
    ]);
    expect(addFinalizerPatch([], 'f')?.[0]).toEqual({ op: 'test', path: '/metadata/finalizers', value: [] });
  });

  it('appends to an existing list, guarded by a test of the whole list', () => {
    expect(addFinalizerPatch(['a', 'b'], 'f')).toEqual([
      { op: 'test', path: '/metadata/finalizers', value: ['a', 'b'] },
      { op: 'add', path: '/metadata/finalizers/-', value: 'f' },
    ]);
    expect(addFinalizerPatch(['f'], 'f')).toBeUndefined();
  });

  it('removes by index, guarded by a test of that element', () => {
    expect(removeFinalizerPatch(['a', 'f', 'b'], 'f')).toEqual([
      { op: 'test', path: '/metadata/finalizers/1', value: 'f' },
      { op: 'remove', path: '/metadata/finalizers/1' },
    ]);
    expect(removeFinalizerPatch(['a'], 'f')).toBeUndefined();
    expect(removeFinalizerPatch(undefined, 'f')).toBeUndefined();
  });
});

describe('patch helpers over HTTP', () => {
  let server: FakeApiServer;
  let client: KubeObjectClient;

  beforeAll(async () => {
    server = await FakeApiServer.start();
    client = new KubeObjectClient(server.kubeConfig(), { requestTimeoutMs: 5_000 });
  });
  afterAll(() => server.close());
  beforeEach(() => {
    server.requests.length = 0;
    server.respond = (request) => ({ status: 200, body: { ...canary, echoed: request.body } });
  });

  it('merge-patches /status with {status} only', async () => {
    await patchStatus(client, canary, { phase: 'Progressing', canaryWeight: 10 });
    expect(server.requests).toEqual([
      expect.objectContaining({
        method: 'PATCH',
        path: '/apis/fledge.dev/v1beta1/namespaces/apps/canaries/podinfo/status',
        contentType: 'application/merge-patch+json',
        authorization: 'Bearer test-token',
        body: { status: { phase: 'Progressing', canaryWeight: 10 } },
      }),
    ]);
  });

  it('adds the resourceVersion precondition to a status patch when asked', async () => {
    await patchStatus(client, canary, { phase: 'Succeeded' }, { resourceVersion: '42' });
    expect(server.requests[0]?.body).toEqual({
      metadata: { resourceVersion: '42' },
      status: { phase: 'Succeeded' },
    });
  });

  it('never writes a known credential into status, whatever a message quotes', async () => {
    const secret = 'status-secret-0b8e3d5f';
    knownSecrets.remember(secret);
    await patchStatus(client, canary, { metrics: [{ name: 'rate', message: `401 for token ${secret}` }] });
    expect(server.requests[0]?.body).toEqual({
      status: { metrics: [{ name: 'rate', message: '401 for token [redacted]' }] },
    });
  });

  it('sends finalizer changes as guarded JSON patches', async () => {
    await addFinalizer(client, canary, 'fledge.dev/finalizer');
    await removeFinalizer(
      client,
      { ...canary, metadata: { ...canary.metadata, finalizers: ['x', 'fledge.dev/finalizer'] } },
      'fledge.dev/finalizer',
    );
    expect(
      server.requests.map((request) => [request.method, request.path, request.contentType, request.body]),
    ).toEqual([
      [
        'PATCH',
        '/apis/fledge.dev/v1beta1/namespaces/apps/canaries/podinfo',
        'application/json-patch+json',
        addFinalizerPatch(['other.io/keep'], 'fledge.dev/finalizer'),
      ],
      [
        'PATCH',
        '/apis/fledge.dev/v1beta1/namespaces/apps/canaries/podinfo',
        'application/json-patch+json',
        removeFinalizerPatch(['x', 'fledge.dev/finalizer'], 'fledge.dev/finalizer'),
      ],
    ]);
  });

  it('sends nothing when the finalizer is already in the wanted state', async () => {
    expect(await addFinalizer(client, canary, 'other.io/keep')).toBeUndefined();
    expect(await removeFinalizer(client, canary, 'fledge.dev/finalizer')).toBeUndefined();
    expect(server.requests).toEqual([]);
  });

  it('reports a failed test guard (422 without causes, as the apiserver sends it) as a Conflict', async () => {
    server.respond = () => ({
      status: 422,
      body: {
        kind: 'Status',
        status: 'Failure',
        code: 422,
        reason: 'Invalid',
        message: 'the server rejected our request due to an error in our request',
        details: {},
      },
    });
    const error = await addFinalizer(client, canary, 'fledge.dev/finalizer').catch(
      (caught: unknown) => caught,
    );
    expect(isConflict(error)).toBe(true);
    expect(normalizeKubeError(error).message).toMatch(/Canary apps\/podinfo changed since it was read/);
  });

  it('leaves a validation failure (422 with field causes) as Invalid', async () => {
    server.respond = () => ({
      status: 422,
      body: {
        kind: 'Status',
        code: 422,
        reason: 'Invalid',
        message: 'Canary "podinfo" is invalid: metadata.finalizers[1]: Invalid value',
        details: {
          causes: [
            { reason: 'FieldValueInvalid', message: 'Invalid value', field: 'metadata.finalizers[1]' },
          ],
        },
      },
    });
    const error = await addFinalizer(client, canary, 'bad name').catch((caught: unknown) => caught);
    expect(normalizeKubeError(error)).toMatchObject({
      code: 422,
      reason: 'Invalid',
      causes: [{ field: 'metadata.finalizers[1]', message: 'Invalid value' }],
    });
  });

  it('applies server-side as field manager "fledge", forcing ownership by default', async () => {
    const configMap = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { namespace: 'apps', name: 'cfg' },
      data: { a: '1' },
    };
    await applyObject(client, configMap);
    await applyObject(client, configMap, { force: false });
    expect(server.requests[0]).toMatchObject({
      method: 'PATCH',
      path: '/api/v1/namespaces/apps/configmaps/cfg',
      contentType: 'application/apply-patch+yaml',
      query: { fieldManager: 'fledge', force: 'true' },
      body: configMap,
    });
    expect(server.requests[1]?.query).toEqual({ fieldManager: 'fledge', force: 'false' });
  });

  it('surfaces API errors in a form the normaliser reads, without headers', async () => {
    server.respond = () => ({
      status: 404,
      body: { kind: 'Status', reason: 'NotFound', message: 'canaries.fledge.dev "podinfo" not found' },
      headers: { 'x-secret-header': 'do-not-leak' },
    });
    const error = await patchStatus(client, canary, {}).catch((caught: unknown) => caught);
    expect(isNotFound(error)).toBe(true);
    expect(String((error as Error).message)).not.toContain('do-not-leak');
  });
});

describe('KubeObjectClient paths', () => {
  let server: FakeApiServer;
  let client: KubeObjectClient;

  beforeAll(async () => {
    server = await FakeApiServer.start();
    client = new KubeObjectClient(server.kubeConfig());
  });
  afterAll(() => server.close());

  it('resolves namespaced, cluster-scoped and subresource paths through discovery', async () => {
    expect(await client.objectPath({ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'a', name: 'b' })).toBe(
      '/api/v1/namespaces/a/configmaps/b',
    );
    expect(await client.objectPath({ apiVersion: 'v1', kind: 'Namespace', name: 'a' })).toBe(
      '/api/v1/namespaces/a',
    );
    expect(
      await client.objectPath(
        { apiVersion: 'fledge.dev/v1beta1', kind: 'Canary', namespace: 'a', name: 'b' },
        'status',
      ),
    ).toBe('/apis/fledge.dev/v1beta1/namespaces/a/canaries/b/status');
  });

  it('names the missing piece instead of guessing', async () => {
    await expect(client.objectPath({ apiVersion: 'v1', kind: 'ConfigMap', name: 'b' })).rejects.toThrow(
      /ConfigMap "b" is namespaced: the reference needs a namespace/,
    );
    await expect(client.objectPath({ apiVersion: 'v1', kind: 'Widget', name: 'b' })).rejects.toThrow(
      /serves no kind Widget in v1; is its CustomResourceDefinition installed/,
    );
  });
});
