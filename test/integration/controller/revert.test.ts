import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { KubeObjectClient, loadKubeConfig, type ObjectRef } from '../../../src/kube/client.ts';
import { isNotFound } from '../../../src/kube/errors.ts';
import { inPhase, waitForCanary } from '../../harness/canary.ts';
import { kubectl } from '../../harness/control-plane.ts';
import { createTestNamespace, integrationEnv } from '../../harness/env.ts';
import { startOperatorProcess, type OperatorProcess } from '../../harness/operator.ts';
import { waitFor } from '../../harness/processes.ts';
import { startFakeGatewayController, type FakeGatewayController } from '../../harness/third-party.ts';
import { apply, canary, deployment } from './fixtures.ts';
import { phasePath, recordStatusHistory } from './history.ts';

const HTTPROUTES = 'httproutes.gateway.networking.k8s.io';
const FINALIZER = 'fledge.dev/finalizer';
const ORIGINAL_ANNOTATION = 'fledge.dev/original-configuration';
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';
const RECONCILE = 'kustomize.toolkit.fluxcd.io/reconcile';
const DRIFT = 'helm.toolkit.fluxcd.io/driftDetection';
const FLUX_OPT_OUT = { [RECONCILE]: 'disabled', [DRIFT]: 'disabled' };
const gatewayRefs = [{ name: 'public', namespace: 'gateways' }];

interface Meta {
  name: string;
  uid: string;
  finalizers?: string[];
  deletionTimestamp?: string;
  annotations?: Record<string, string>;
  ownerReferences?: { kind: string; name: string; uid: string; controller?: boolean }[];
}
interface Obj {
  metadata: Meta;
  spec: Record<string, unknown> & {
    replicas?: number;
    selector?: Record<string, string>;
    ports?: { name?: string; port: number; targetPort?: number | string }[];
    rules?: { backendRefs?: { name: string; port?: number; weight?: number }[] }[];
  };
  status?: { readyReplicas?: number; updatedReplicas?: number };
}
interface EndpointSlice {
  endpoints?: { conditions?: { ready?: boolean } }[];
}

/** Annotations other than kubectl's record of the last apply. */
const annotationsOf = (object: Obj) =>
  Object.fromEntries(
    Object.entries(object.metadata.annotations ?? {}).filter(([key]) => key !== LAST_APPLIED),
  );

describe('deleting a Canary', () => {
  const { kubeconfigPath } = integrationEnv();
  let namespace: string;
  let operator: OperatorProcess;
  let gateway: FakeGatewayController;

  /** The object, or undefined once it is gone. */
  const get = async (kind: string, name: string): Promise<Obj | undefined> => {
    const out = await kubectl(kubeconfigPath, [
      'get',
      kind,
      name,
      '-n',
      namespace,
      '-o',
      'json',
      '--ignore-not-found',
    ]);
    return out.trim() === '' ? undefined : (JSON.parse(out) as Obj);
  };
  const must = async (kind: string, name: string): Promise<Obj> => {
    const object = await get(kind, name);
    if (!object) throw new Error(`${kind} ${namespace}/${name} not found`);
    return object;
  };
  const gone = (kind: string, name: string) =>
    waitFor(`${kind} ${name} to be deleted`, async () => (await get(kind, name)) === undefined, 60_000);
  const deleteCanary = (name: string) =>
    kubectl(kubeconfigPath, ['delete', 'canary', name, '-n', namespace, '--wait=false']);

  /**
   * Deletes the Canary while counting the ready endpoints of its apex Service's
   * EndpointSlices, as often as the apiserver answers (a client in this process, not
   * kubectl), from before the delete for as long as `open()` holds. A count is kept only if
   * the window was still open after it was read. Returns the counts and how many came per
   * second.
   */
  const deleteWhileSampling = async (name: string, open: (client: KubeObjectClient) => Promise<boolean>) => {
    const client = new KubeObjectClient(loadKubeConfig({ kubeconfigPath }));
    const slices = await client.collectionPath({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      namespace,
    });
    const path = `${slices}?labelSelector=${encodeURIComponent(`kubernetes.io/service-name=${name}`)}`;
    const samples: number[] = [];
    const sampling = (async () => {
      for (;;) {
        const list = await client.request<{ items: EndpointSlice[] }>('GET', path, undefined, undefined, {});
        const endpoints = list.items.flatMap((slice) => slice.endpoints ?? []);
        const ready = endpoints.filter((endpoint) => endpoint.conditions?.ready === true).length;
        if (!(await open(client))) return;
        samples.push(ready);
        await new Promise((next) => setTimeout(next, 20));
      }
    })();
    await Promise.race([
      sampling,
      waitFor(`ready endpoints of Service ${name}`, async () => samples.some((n) => n > 0), 30_000),
    ]);
    const started = Date.now();
    await deleteCanary(name);
    await sampling;
    return { samples, perSecond: samples.length / ((Date.now() - started) / 1000) };
  };
  const exists = (client: KubeObjectClient, ref: ObjectRef) =>
    client.get(ref).then(
      () => true,
      (error: unknown) => {
        if (isNotFound(error)) return false;
        throw error;
      },
    );
  const whileCanaryExists = (name: string) => (client: KubeObjectClient) =>
    exists(client, { apiVersion: 'fledge.dev/v1beta1', kind: 'Canary', namespace, name });
  /** An apex Service Fledge created, which goes with the Canary: for as long as it exists. */
  const whileServiceExists = (name: string) => (client: KubeObjectClient) =>
    exists(client, { apiVersion: 'v1', kind: 'Service', namespace, name });
  /**
   * An apex Service that outlives the Canary: until the last primary pod is gone too, and
   * then long enough for the EndpointSlice controller to catch up with the pods it lost.
   */
  const whileCanaryOrPrimaryPodsExist = (name: string) => {
    let allGoneAt: number | undefined;
    return async (client: KubeObjectClient) => {
      const pods = await client.collectionPath({ apiVersion: 'v1', kind: 'Pod', namespace });
      const selector = encodeURIComponent(`app=${name}-primary`);
      const primaryPods = await client.request<{ items: unknown[] }>(
        'GET',
        `${pods}?labelSelector=${selector}`,
        undefined,
        undefined,
        {},
      );
      if (primaryPods.items.length > 0 || (await whileCanaryExists(name)(client))) return true;
      allGoneAt ??= Date.now();
      return Date.now() - allGoneAt < 3_000;
    };
  };

  // The original objects of "adopted": a Service and an HTTPRoute that predate the Canary.
  const originalService = {
    selector: { app: 'adopted' },
    ports: [{ name: 'web', port: 80, protocol: 'TCP', targetPort: 9898 }],
  };
  const originalRouteRules = [{ backendRefs: [{ name: 'adopted', port: 80 }] }];

  beforeAll(async () => {
    namespace = await createTestNamespace('revert');
    gateway = startFakeGatewayController(kubeconfigPath, namespace);
    operator = await startOperatorProcess({ kubeconfigPath, namespace });
    const gatewayCanary = (revertOnDeletion: boolean) => ({
      provider: 'gatewayapi:v1',
      revertOnDeletion,
      service: { port: 9898, gatewayRefs },
      analysis: { interval: '10s', threshold: 1, maxWeight: 50, stepWeight: 25 },
    });
    await apply(
      kubeconfigPath,
      deployment(namespace, 'adopted', 'example/adopted:1', 2),
      deployment(namespace, 'fresh', 'example/fresh:1', 2),
      deployment(namespace, 'plain', 'example/plain:1', 2),
      deployment(namespace, 'kept', 'example/kept:1', 2),
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'adopted', namespace },
        spec: originalService,
      },
      {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'HTTPRoute',
        metadata: { name: 'adopted', namespace },
        spec: { parentRefs: gatewayRefs, rules: originalRouteRules },
      },
      {
        apiVersion: 'v1',
        kind: 'Service',
        // The owner keeps kustomize-controller off this Service already.
        metadata: { name: 'kept', namespace, annotations: { [RECONCILE]: 'disabled' } },
        spec: { selector: { app: 'kept' }, ports: originalService.ports },
      },
      canary(namespace, 'adopted', gatewayCanary(true)),
      canary(namespace, 'fresh', gatewayCanary(true)),
      canary(namespace, 'plain', gatewayCanary(false)),
      canary(namespace, 'kept', gatewayCanary(false)),
    );
    for (const name of ['adopted', 'fresh', 'plain', 'kept']) {
      await waitForCanary(kubeconfigPath, namespace, name, inPhase('Initialized'), {
        what: `${name} initialised`,
      });
    }
  }, 180_000);
  afterAll(async () => {
    await operator?.stop();
    await gateway?.stop();
  });

  it('with revertOnDeletion restores adopted objects: target back up, Service and HTTPRoute as they were', async () => {
    // While the Canary lives: finalizer on, target at zero, Service and route taken over.
    const live = await must('canary', 'adopted');
    expect(live.metadata.finalizers).toContain(FINALIZER);
    expect((await must('deploy', 'adopted')).spec.replicas).toBe(0);
    const adoptedService = await must('svc', 'adopted');
    expect(adoptedService.spec.selector).toEqual({ app: 'adopted-primary' });
    expect(adoptedService.metadata.annotations?.[ORIGINAL_ANNOTATION]).toBeDefined();
    expect(adoptedService.metadata.annotations).toMatchObject(FLUX_OPT_OUT);
    const adoptedRoute = await must(HTTPROUTES, 'adopted');
    expect(adoptedRoute.metadata.annotations).toMatchObject(FLUX_OPT_OUT);
    expect(adoptedRoute.spec.rules?.[0]?.backendRefs?.map((b) => b.name)).toEqual([
      'adopted-primary',
      'adopted-canary',
    ]);

    const history = recordStatusHistory(kubeconfigPath, namespace, 'adopted');
    await history.started();
    await deleteCanary('adopted');
    await gone('canary', 'adopted');
    const path = phasePath(await history.stop()).map((step) => step.split(':')[0]);
    expect(path.slice(-2)).toEqual(['Terminating', 'Terminated']);

    // The finalizer held the Canary until the target served again, with the primary's capacity.
    const target = await must('deploy', 'adopted');
    expect(target.spec.replicas).toBe(2);
    expect(target.status?.readyReplicas).toBe(2);
    // The Service and the route are exactly the originals again, with no trace of Fledge.
    const service = await must('svc', 'adopted');
    expect(service.spec.selector).toEqual(originalService.selector);
    expect(service.spec.ports).toEqual(originalService.ports);
    expect(annotationsOf(service)).toEqual({});
    expect(service.metadata.ownerReferences ?? []).toEqual([]);
    const route = await must(HTTPROUTES, 'adopted');
    expect(route.spec.rules?.map((r) => r.backendRefs?.map((b) => `${b.name}:${b.port}`))).toEqual([
      ['adopted:80'],
    ]);
    expect(annotationsOf(route)).toEqual({});
    expect(route.metadata.ownerReferences ?? []).toEqual([]);
    // What only the Canary needed goes with it.
    await gone('deploy', 'adopted-primary');
    await gone('svc', 'adopted-primary');
    await gone('svc', 'adopted-canary');
  }, 120_000);

  it('with revertOnDeletion releases the objects Fledge created: apex Service and HTTPRoute point at the target and outlive the Canary', async () => {
    expect((await must('canary', 'fresh')).metadata.finalizers).toContain(FINALIZER);
    const uid = (await must('canary', 'fresh')).metadata.uid;
    const owned = (o: Obj) => (o.metadata.ownerReferences ?? []).some((ref) => ref.uid === uid);
    for (const [kind, name] of [
      ['svc', 'fresh'],
      ['svc', 'fresh-primary'],
      ['svc', 'fresh-canary'],
      [HTTPROUTES, 'fresh'],
    ] as const) {
      const object = await must(kind, name);
      expect(owned(object)).toBe(true);
      expect(object.metadata.annotations).toMatchObject(FLUX_OPT_OUT);
    }

    await deleteCanary('fresh');
    // Held by the finalizer until the target is back up.
    const terminating = await get('canary', 'fresh');
    if (terminating) expect(terminating.metadata.deletionTimestamp).toBeDefined();
    await gone('canary', 'fresh');

    const target = await must('deploy', 'fresh');
    expect(target.spec.replicas).toBe(2);
    expect(target.status?.readyReplicas).toBe(2);
    const service = await must('svc', 'fresh');
    expect(service.spec.selector).toEqual({ app: 'fresh' });
    expect(owned(service)).toBe(false);
    const route = await must(HTTPROUTES, 'fresh');
    expect(route.spec.rules?.flatMap((r) => r.backendRefs?.map((b) => b.name))).toEqual(['fresh']);
    expect(owned(route)).toBe(false);
    // Released to whoever manages them next, Flux included.
    expect(annotationsOf(service)).toEqual({});
    expect(annotationsOf(route)).toEqual({});
    await gone('deploy', 'fresh-primary');
    await gone('svc', 'fresh-primary');
    await gone('svc', 'fresh-canary');
    // The garbage collector had time to act on anything still owned: the released objects stay.
    expect(await get('svc', 'fresh')).toBeDefined();
    expect(await get(HTTPROUTES, 'fresh')).toBeDefined();
  }, 120_000);

  it('adds the finalizer to a Canary that lacks it (created by an older Fledge), whatever revertOnDeletion says', async () => {
    const live = await must('canary', 'plain');
    expect(live.metadata.finalizers).toContain(FINALIZER);
    // As an older Fledge left a Canary without revertOnDeletion: no finalizer.
    await kubectl(kubeconfigPath, [
      'patch',
      'canary',
      'plain',
      '-n',
      namespace,
      '--type=json',
      '-p',
      JSON.stringify([{ op: 'remove', path: '/metadata/finalizers' }]),
    ]);
    await waitFor(
      'the finalizer back on plain',
      async () => (await must('canary', 'plain')).metadata.finalizers?.includes(FINALIZER) === true,
      30_000,
    );
  }, 60_000);

  it('without revertOnDeletion still serves from ready pods throughout, then leaves what Fledge created to garbage collection', async () => {
    const live = await must('canary', 'plain');
    const generated: [string, string][] = [
      ['deploy', 'plain-primary'],
      ['svc', 'plain'],
      ['svc', 'plain-primary'],
      ['svc', 'plain-canary'],
      [HTTPROUTES, 'plain'],
    ];
    for (const [kind, name] of generated) {
      const refs = (await must(kind, name)).metadata.ownerReferences ?? [];
      expect({ kind, name, refs }).toEqual({
        kind,
        name,
        refs: [
          expect.objectContaining({
            kind: 'Canary',
            name: 'plain',
            uid: live.metadata.uid,
            controller: true,
          }),
        ],
      });
    }
    // The target is the user's: no owner reference to the Canary. Idle, it is at zero.
    const idle = await must('deploy', 'plain');
    expect(idle.metadata.ownerReferences ?? []).toEqual([]);
    expect(idle.spec.replicas).toBe(0);

    const history = recordStatusHistory(kubeconfigPath, namespace, 'plain');
    await history.started();
    const { samples, perSecond } = await deleteWhileSampling('plain', whileServiceExists('plain'));
    expect(
      phasePath(await history.stop())
        .map((step) => step.split(':')[0])
        .slice(-2),
    ).toEqual(['Terminating', 'Terminated']);
    // The apex never had zero ready endpoints: the target served before the primary went.
    expect(samples.filter((ready) => ready === 0)).toEqual([]);
    expect(perSecond).toBeGreaterThan(5);
    const target = await must('deploy', 'plain');
    expect(target.spec.replicas).toBe(2);
    expect(target.status?.readyReplicas).toBe(2);
    for (const [kind, name] of generated) await gone(kind, name);
  }, 120_000);

  it('without revertOnDeletion gives an adopted apex Service back exactly, never without ready endpoints', async () => {
    const adopted = await must('svc', 'kept');
    expect(adopted.spec.selector).toEqual({ app: 'kept-primary' });
    expect(adopted.metadata.annotations).toMatchObject(FLUX_OPT_OUT);
    expect(JSON.parse(adopted.metadata.annotations?.[ORIGINAL_ANNOTATION] ?? '{}')).toMatchObject({
      annotations: { [RECONCILE]: 'disabled', [DRIFT]: null },
    });
    expect((await must('deploy', 'kept')).spec.replicas).toBe(0);

    const { samples } = await deleteWhileSampling('kept', whileCanaryOrPrimaryPodsExist('kept'));
    expect(samples.filter((ready) => ready === 0)).toEqual([]);
    const service = await must('svc', 'kept');
    expect(service.spec.selector).toEqual({ app: 'kept' });
    expect(service.spec.ports).toEqual(originalService.ports);
    expect(annotationsOf(service)).toEqual({ [RECONCILE]: 'disabled' });
    expect((await must('deploy', 'kept')).status?.readyReplicas).toBe(2);
    await gone('deploy', 'kept-primary');
  }, 120_000);
});
