import { describe, expect, it } from '@jest/globals';
import type { KubeObjectClient, ObjectRef } from '../../../src/kube/client.ts';
import {
  KnativeRouter,
  readTraffic,
  renderTraffic,
  type KnativeService,
  type TrafficTarget,
} from '../../../src/routers/knative.ts';
import type { RoutableCanary } from '../../../src/routers/router.ts';
import { revisionReadiness } from '../../../src/workloads/knative.ts';

// The knative router's split of spec.traffic and its read-back. The same flow runs
// through the operator on Knative's CRDs in test/integration/controller/knative.test.ts.

describe('renderTraffic', () => {
  it('puts the primary first and the analysed revision second, by name', () => {
    expect(renderTraffic('web-1', 'web-2', { primaryWeight: 80, canaryWeight: 20 })).toEqual([
      { revisionName: 'web-1', percent: 80 },
      { revisionName: 'web-2', percent: 20 },
    ]);
  });

  it('keeps two entries when both sides are one revision, as after a promotion', () => {
    expect(renderTraffic('web-2', 'web-2', { primaryWeight: 100, canaryWeight: 0 })).toEqual([
      { revisionName: 'web-2', percent: 100 },
      { revisionName: 'web-2', percent: 0 },
    ]);
  });

  it('routes all to the primary while no revision is under analysis, and refuses traffic for none', () => {
    expect(renderTraffic('web-1', undefined, { primaryWeight: 100, canaryWeight: 0 })).toEqual([
      { revisionName: 'web-1', percent: 100 },
    ]);
    expect(() => renderTraffic('web-1', undefined, { primaryWeight: 90, canaryWeight: 10 })).toThrow(
      /no revision is under analysis/,
    );
  });
});

describe('readTraffic', () => {
  it('reads the weights of a block laid out by renderTraffic', () => {
    const traffic = renderTraffic('web-1', 'web-2', { primaryWeight: 70, canaryWeight: 30 });
    expect(readTraffic(traffic, 'web-1', 'web-2')).toEqual({ ok: true, primaryWeight: 70, canaryWeight: 30 });
    expect(readTraffic([{ revisionName: 'web-1', percent: 100 }], 'web-1', undefined)).toEqual({
      ok: true,
      primaryWeight: 100,
      canaryWeight: 0,
    });
  });

  it('refuses a block Fledge did not lay out, naming what it holds', () => {
    const users: TrafficTarget[] = [{ latestRevision: true, percent: 100 }];
    expect(readTraffic(users, 'web-1', 'web-2')).toEqual({
      ok: false,
      reason: 'traffic is [latest 100%], not primary web-1 then web-2 canary revision',
    });
    const newer = renderTraffic('web-1', 'web-3', { primaryWeight: 90, canaryWeight: 10 });
    expect(readTraffic(newer, 'web-1', 'web-2')).toMatchObject({ ok: false });
    expect(readTraffic([...newer, { revisionName: 'web-4', percent: 0 }], 'web-1', 'web-3')).toMatchObject({
      ok: false,
    });
  });
});

describe('revisionReadiness', () => {
  it('is ready only on Ready=True, and says why not otherwise', () => {
    const revision = (status: 'True' | 'False' | 'Unknown', reason?: string) => ({
      metadata: { name: 'web-2' },
      status: { conditions: [{ type: 'Ready', status, ...(reason && { reason }) }] },
    });
    expect(revisionReadiness(revision('True'), 'web-2').ready).toBe(true);
    expect(revisionReadiness(revision('False', 'ContainerMissing'), 'web-2')).toEqual({
      ready: false,
      retriable: true,
      message: 'Revision web-2 is not ready (Ready=False): ContainerMissing',
    });
    expect(revisionReadiness(undefined, 'web-9')).toMatchObject({
      ready: false,
      message: 'Revision web-9 not found',
    });
  });
});

/** One Knative Service held in memory: enough for the router, which only gets and merge-patches it. */
function serviceClient(service: KnativeService): { client: KubeObjectClient; patches: unknown[] } {
  const patches: unknown[] = [];
  const client = {
    get: async (ref: ObjectRef) => {
      if (ref.name !== service.metadata.name) throw Object.assign(new Error('not found'), { code: 404 });
      return structuredClone(service);
    },
    patch: async (_ref: ObjectRef, body: unknown) => {
      patches.push(body);
      return service;
    },
  } as unknown as KubeObjectClient;
  return { client, patches };
}

describe('KnativeRouter', () => {
  const canary = (lastAppliedSpec?: string) =>
    ({
      metadata: { name: 'web', namespace: 'ns', uid: 'u' },
      spec: { targetRef: { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'web' } },
      ...(lastAppliedSpec && { status: { lastAppliedSpec } }),
    }) as unknown as RoutableCanary;
  const service = (
    generation: number,
    observedGeneration: number,
    traffic: TrafficTarget[],
  ): KnativeService => ({
    apiVersion: 'serving.knative.dev/v1',
    kind: 'Service',
    metadata: {
      name: 'web',
      namespace: 'ns',
      generation,
      annotations: { 'fledge.dev/primary-revision': 'web-1' },
    },
    spec: { traffic },
    status: { observedGeneration, traffic },
  });

  it('reports the split only once Knative has reconciled the generation that carries it', async () => {
    const split = renderTraffic('web-1', 'web-2', { primaryWeight: 80, canaryWeight: 20 });
    const lagging = new KnativeRouter(serviceClient(service(3, 2, split)));
    expect(await lagging.getRoutes(canary('web-2'))).toEqual({
      applied: false,
      reason: 'Knative has not reconciled generation 3 of Knative Service ns/web yet',
      written: { primaryWeight: 80, canaryWeight: 20, mirrored: false },
    });
    const caughtUp = new KnativeRouter(serviceClient(service(3, 3, split)));
    expect(await caughtUp.getRoutes(canary('web-2'))).toMatchObject({
      applied: true,
      primaryWeight: 80,
      canaryWeight: 20,
    });
  });

  it('patches spec.traffic only when it differs, and refuses mirroring', async () => {
    const { client, patches } = serviceClient(
      service(1, 1, renderTraffic('web-1', 'web-2', { primaryWeight: 90, canaryWeight: 10 })),
    );
    const router = new KnativeRouter({ client });
    await router.setRoutes(canary('web-2'), { primaryWeight: 90, canaryWeight: 10, mirror: false });
    expect(patches).toEqual([]);
    await router.setRoutes(canary('web-2'), { primaryWeight: 80, canaryWeight: 20, mirror: false });
    expect(patches).toEqual([
      {
        spec: {
          traffic: [
            { revisionName: 'web-1', percent: 80 },
            { revisionName: 'web-2', percent: 20 },
          ],
        },
      },
    ]);
    await expect(
      router.setRoutes(canary('web-2'), { primaryWeight: 100, canaryWeight: 0, mirror: true }),
    ).rejects.toThrow(/cannot mirror/);
  });

  it('hands the Service back to its latest revision on deletion', async () => {
    const { client, patches } = serviceClient(service(1, 1, [{ revisionName: 'web-1', percent: 100 }]));
    await new KnativeRouter({ client }).finalize(canary(), { release: false });
    expect(patches).toEqual([
      {
        metadata: { annotations: { 'fledge.dev/primary-revision': null } },
        spec: { traffic: [{ latestRevision: true, percent: 100 }] },
      },
    ]);
  });
});
