import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
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
      deployment(namespace, 'orphan', 'example/orphan:1', 2),
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
      canary(namespace, 'adopted', gatewayCanary(true)),
      canary(namespace, 'fresh', gatewayCanary(true)),
      canary(namespace, 'orphan', gatewayCanary(false)),
    );
    for (const name of ['adopted', 'fresh', 'orphan']) {
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
    const adoptedRoute = await must(HTTPROUTES, 'adopted');
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
    expect(service.metadata.annotations?.[ORIGINAL_ANNOTATION]).toBeUndefined();
    expect(service.metadata.ownerReferences ?? []).toEqual([]);
    const route = await must(HTTPROUTES, 'adopted');
    expect(route.spec.rules?.map((r) => r.backendRefs?.map((b) => `${b.name}:${b.port}`))).toEqual([
      ['adopted:80'],
    ]);
    expect(route.metadata.annotations?.[ORIGINAL_ANNOTATION]).toBeUndefined();
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
    expect(owned(await must('svc', 'fresh'))).toBe(true);
    expect(owned(await must(HTTPROUTES, 'fresh'))).toBe(true);

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
    await gone('deploy', 'fresh-primary');
    await gone('svc', 'fresh-primary');
    await gone('svc', 'fresh-canary');
    // The garbage collector had time to act on anything still owned: the released objects stay.
    expect(await get('svc', 'fresh')).toBeDefined();
    expect(await get(HTTPROUTES, 'fresh')).toBeDefined();
  }, 120_000);

  it('without revertOnDeletion adds no finalizer and leaves every generated object to garbage collection', async () => {
    const live = await must('canary', 'orphan');
    expect(live.metadata.finalizers ?? []).not.toContain(FINALIZER);
    const generated: [string, string][] = [
      ['deploy', 'orphan-primary'],
      ['svc', 'orphan'],
      ['svc', 'orphan-primary'],
      ['svc', 'orphan-canary'],
      [HTTPROUTES, 'orphan'],
    ];
    for (const [kind, name] of generated) {
      const refs = (await must(kind, name)).metadata.ownerReferences ?? [];
      expect({ kind, name, refs }).toEqual({
        kind,
        name,
        refs: [
          expect.objectContaining({
            kind: 'Canary',
            name: 'orphan',
            uid: live.metadata.uid,
            controller: true,
          }),
        ],
      });
    }
    // The target is the user's: no owner reference to the Canary.
    expect((await must('deploy', 'orphan')).metadata.ownerReferences ?? []).toEqual([]);

    await deleteCanary('orphan');
    await gone('canary', 'orphan');
    for (const [kind, name] of generated) await gone(kind, name);
    // Nothing scaled the target back: it stays as Fledge left it (documented; set revertOnDeletion).
    expect((await must('deploy', 'orphan')).spec.replicas).toBe(0);
  }, 120_000);
});
