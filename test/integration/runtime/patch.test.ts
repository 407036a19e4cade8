import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { PatchStrategy, type KubernetesObject } from '@kubernetes/client-node';
import { createTestNamespace, integrationEnv } from '../../harness/env.ts';
import { KubeObjectClient, loadKubeConfig } from '../../../src/kube/client.ts';
import { isConflict, normalizeKubeError } from '../../../src/kube/errors.ts';
import { addFinalizer, applyObject, patchStatus, removeFinalizer } from '../../../src/kube/patch.ts';

type ConfigMap = KubernetesObject & { data?: Record<string, string> };
type Canary = KubernetesObject & { spec?: Record<string, unknown>; status?: Record<string, unknown> };

describe('patch helpers on the real apiserver', () => {
  let namespace: string;
  let objects: KubeObjectClient;
  const finalizer = 'fledge.dev/test-finalizer';

  beforeAll(async () => {
    namespace = await createTestNamespace('rt-patch');
    objects = new KubeObjectClient(loadKubeConfig({ kubeconfigPath: integrationEnv().kubeconfigPath }));
  });

  afterAll(async () => {
    // Finalizers left behind would keep the namespace from being deleted.
    for (const name of ['guarded']) {
      const ref = { apiVersion: 'v1', kind: 'ConfigMap', namespace, name };
      await objects
        .patch(ref, { metadata: { finalizers: null } }, PatchStrategy.MergePatch)
        .catch(() => undefined);
    }
  });

  const configMap = (name: string, data: Record<string, string>): ConfigMap => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { namespace, name },
    data,
  });

  it('applies server-side as "fledge", taking fields from another manager only when forced', async () => {
    const created = await applyObject<ConfigMap>(objects, configMap('applied', { a: '1' }));
    expect(created.data).toEqual({ a: '1' });
    expect(created.metadata?.managedFields?.map((entry) => [entry.manager, entry.operation])).toEqual([
      ['fledge', 'Apply'],
    ]);

    // Someone else takes over data.a.
    const ref = { apiVersion: 'v1', kind: 'ConfigMap', namespace, name: 'applied' };
    await objects.patch(ref, configMap('applied', { a: 'theirs' }), PatchStrategy.ServerSideApply, {
      query: { fieldManager: 'someone-else', force: true },
    });
    const refused = await applyObject(objects, configMap('applied', { a: '2' }), { force: false }).catch(
      (error: unknown) => error,
    );
    expect(isConflict(refused)).toBe(true);

    const forced = await applyObject<ConfigMap>(objects, configMap('applied', { a: '2' }));
    expect(forced.data).toEqual({ a: '2' });
  });

  it('adds and removes finalizers with test guards that catch concurrent changes', async () => {
    const original = await objects.create<ConfigMap>(configMap('guarded', { a: '1' }));
    expect(original.metadata?.finalizers).toBeUndefined();

    const added = await addFinalizer(objects, original, finalizer);
    expect(added?.metadata?.finalizers).toEqual([finalizer]);

    // A stale view (no finalizers) must not overwrite the list that now exists.
    const stale = await addFinalizer(objects, original, 'fledge.dev/other').catch((error: unknown) => error);
    expect(isConflict(stale)).toBe(true);
    expect(normalizeKubeError(stale).message).toMatch(/ConfigMap .*guarded changed since it was read/);

    const both = await addFinalizer(objects, added as ConfigMap, 'fledge.dev/other');
    expect(both?.metadata?.finalizers).toEqual([finalizer, 'fledge.dev/other']);

    // Removing by a stale index fails instead of removing the wrong entry.
    const reordered = {
      ...original,
      metadata: { ...original.metadata, finalizers: ['fledge.dev/other', finalizer] },
    };
    const wrongIndex = await removeFinalizer(objects, reordered, 'fledge.dev/other').catch(
      (error: unknown) => error,
    );
    expect(isConflict(wrongIndex)).toBe(true);

    const removed = await removeFinalizer(objects, both as ConfigMap, finalizer);
    expect(removed?.metadata?.finalizers).toEqual(['fledge.dev/other']);
    const empty = await removeFinalizer(objects, removed as ConfigMap, 'fledge.dev/other');
    expect(empty?.metadata?.finalizers ?? []).toEqual([]);
  });

  it('merge-patches only the status of a custom resource, with an optional resourceVersion precondition', async () => {
    const canary = await objects.create<Canary>({
      apiVersion: 'fledge.dev/v1beta1',
      kind: 'Canary',
      metadata: { namespace, name: 'status-target' },
      spec: {
        targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'status-target' },
        service: { port: 80 },
        analysis: { interval: '1m', threshold: 5, maxWeight: 50, stepWeight: 10 },
      },
    });
    const patched = await patchStatus<Canary>(objects, canary, { phase: 'Progressing', canaryWeight: 10 });
    expect(patched.status).toMatchObject({ phase: 'Progressing', canaryWeight: 10 });
    expect(patched.metadata?.generation).toBe(canary.metadata?.generation);
    expect(patched.spec).toEqual(canary.spec);

    const stale = await patchStatus(
      objects,
      canary,
      { phase: 'Succeeded' },
      { resourceVersion: canary.metadata?.resourceVersion },
    ).catch((error: unknown) => error);
    expect(isConflict(stale)).toBe(true);

    const fresh = await patchStatus<Canary>(
      objects,
      patched,
      { phase: 'Succeeded' },
      {
        resourceVersion: patched.metadata?.resourceVersion,
      },
    );
    expect(fresh.status).toMatchObject({ phase: 'Succeeded', canaryWeight: 10 });
  });
});
