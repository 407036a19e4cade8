import { describe, expect, it } from '@jest/globals';
import type { KubeObjectClient, ObjectRef } from '../../../src/kube/client.ts';
import { PatchStrategy } from '@kubernetes/client-node';
import { KubeRequestError } from '../../../src/kube/errors.ts';
import type { SpecObject } from '../../../src/routers/adoption.ts';
import { routerObjectMetadata } from '../../../src/routers/objects.ts';
import {
  ORIGINAL_CONFIGURATION_ANNOTATION,
  RouterConfigError,
  type HandBack,
  type RoutableCanary,
  type WeightReadback,
} from '../../../src/routers/router.ts';
import { SingleObjectRouter, type ObjectRoutes } from '../../../src/routers/single-object.ts';
import { canary as makeCanary } from './fixtures.ts';

// The flow SingleObjectRouter gives kuma, apisix, gloo, contour, traefik and the TrafficSplit
// routers, on a made-up route object and an in-memory apiserver. Each router's own flow runs
// against the real apiserver in test/integration/routers/.

type Split = SpecObject<{ primary: number; canary: number; mirror: boolean }> & {
  status?: { rejected?: string };
};

const REF: ObjectRef = { apiVersion: 'example.dev/v1', kind: 'Split', namespace: 'test', name: 'podinfo' };

class SplitRouter extends SingleObjectRouter<Split> {
  readonly provider = 'example';
  readonly handedOff: { uid: string | undefined; release: boolean }[] = [];
  readonly mirrors: boolean;

  constructor(client: KubeObjectClient, mirrors = false) {
    super({ client });
    this.mirrors = mirrors;
  }

  protected ref(): ObjectRef {
    return REF;
  }

  protected renderer(canary: RoutableCanary, routes: ObjectRoutes) {
    return (owned: boolean): Split => ({
      apiVersion: REF.apiVersion,
      kind: REF.kind,
      metadata: routerObjectMetadata(canary, 'podinfo', undefined, owned, true),
      spec: { primary: routes.primaryWeight, canary: routes.canaryWeight, mirror: routes.mirror },
    });
  }

  protected read(live: Split): WeightReadback {
    const { primary, canary, mirror } = live.spec;
    if (primary + canary !== 100) return { ok: false, reason: `Split weighs ${primary} + ${canary}` };
    return { ok: true, weights: { primaryWeight: primary, canaryWeight: canary, mirrored: mirror } };
  }

  protected override notServed(live: Split): string | undefined {
    return live.status?.rejected;
  }

  protected override mirrorRefusal(): string | undefined {
    return this.mirrors ? undefined : super.mirrorRefusal();
  }

  protected async handOff(_canary: RoutableCanary, live: Split, handBack: HandBack): Promise<void> {
    this.handedOff.push({ uid: live.metadata.uid, release: handBack.release });
  }
}

/** One object's apiserver: server-side applies replace it, JSON patches are only recorded. */
function apiserver(initial?: Split) {
  let stored = initial === undefined ? undefined : structuredClone(initial);
  const jsonPatches: unknown[] = [];
  const client = {
    get: async (ref: ObjectRef) => {
      if (stored === undefined || ref.name !== stored.metadata.name)
        throw new KubeRequestError({ code: 404, reason: 'NotFound', message: 'not found' });
      return structuredClone(stored);
    },
    patch: async (_ref: ObjectRef, body: unknown, contentType: string) => {
      if (contentType === PatchStrategy.JsonPatch) jsonPatches.push(body);
      else stored = { ...(structuredClone(body) as Split), status: stored?.status ?? {} };
      return stored;
    },
  } as unknown as KubeObjectClient;
  return { client, jsonPatches, stored: () => stored };
}

const canary = makeCanary({ provider: 'kuma' });

/** An object someone else wrote, with the given weights; `original`: Fledge adopted and wrote it. */
function found(primary: number, original = false): Split {
  const metadata = routerObjectMetadata(canary, 'podinfo', undefined, false, false);
  metadata.uid = 'found-uid';
  if (original) metadata.annotations = { [ORIGINAL_CONFIGURATION_ANNOTATION]: JSON.stringify({ spec: {} }) };
  return {
    apiVersion: REF.apiVersion,
    kind: REF.kind,
    metadata,
    spec: { primary, canary: 100 - primary, mirror: false },
  };
}

describe('SingleObjectRouter', () => {
  it('creates a missing object routing everything to the primary, owned by the Canary', async () => {
    const server = apiserver();
    await new SplitRouter(server.client).reconcile(canary);
    expect(server.stored()?.spec).toEqual({ primary: 100, canary: 0, mirror: false });
    expect(server.stored()?.metadata.ownerReferences?.[0]?.uid).toBe('canary-uid');
  });

  it('keeps the weights of an object it wrote on reconcile, and sets them with setRoutes', async () => {
    const server = apiserver();
    const router = new SplitRouter(server.client);
    await router.setRoutes(canary, { primaryWeight: 70, canaryWeight: 30, mirror: false });
    await router.reconcile(canary);
    expect(server.stored()?.spec).toEqual({ primary: 70, canary: 30, mirror: false });
  });

  it('routes everything to the primary on an object it found, and keeps what it wrote on one it adopted', async () => {
    const first = apiserver(found(40));
    await new SplitRouter(first.client).reconcile(canary);
    expect(first.stored()?.spec.primary).toBe(100);
    // Adopting saves the original first.
    expect(first.jsonPatches).toHaveLength(1);

    const adopted = apiserver(found(40, true));
    await new SplitRouter(adopted.client).reconcile(canary);
    expect(adopted.stored()?.spec.primary).toBe(40);
  });

  it('refuses mirroring with a RouterConfigError unless the object can mirror', async () => {
    const routes = { primaryWeight: 100, canaryWeight: 0, mirror: true };
    const server = apiserver();
    const refusal = new SplitRouter(server.client).setRoutes(canary, routes);
    await expect(refusal).rejects.toThrow(RouterConfigError);
    await expect(refusal).rejects.toThrow('provider example cannot mirror traffic: remove analysis.mirror');
    expect(server.stored()).toBeUndefined();

    await new SplitRouter(server.client, true).setRoutes(canary, routes);
    expect(server.stored()?.spec.mirror).toBe(true);
  });

  it('checks the weights before writing anything', async () => {
    const server = apiserver();
    const routes = { primaryWeight: 60, canaryWeight: 30, mirror: false };
    await expect(new SplitRouter(server.client).setRoutes(canary, routes)).rejects.toThrow(RangeError);
    expect(server.stored()).toBeUndefined();
  });

  it('reads the routing back: missing, unreadable, not served, served', async () => {
    const missing = new SplitRouter(apiserver().client);
    expect(await missing.getRoutes(canary)).toEqual({
      applied: false,
      reason: 'Split test/podinfo does not exist',
    });

    const unreadable = new SplitRouter(
      apiserver({ ...found(40), spec: { primary: 40, canary: 0, mirror: false } }).client,
    );
    expect(await unreadable.getRoutes(canary)).toEqual({ applied: false, reason: 'Split weighs 40 + 0' });

    const weights = { primaryWeight: 40, canaryWeight: 60, mirrored: false };
    const rejected = new SplitRouter(apiserver({ ...found(40), status: { rejected: 'bad route' } }).client);
    expect(await rejected.getRoutes(canary)).toEqual({
      applied: false,
      reason: 'bad route',
      written: weights,
    });

    const served = await new SplitRouter(apiserver(found(40)).client).getRoutes(canary);
    expect(served).toMatchObject({ applied: true, ...weights, cookies: { sessionAffinityCookie: null } });
  });

  it('hands back an object it created, restores one it adopted, and leaves one it never wrote', async () => {
    const owned = apiserver();
    const router = new SplitRouter(owned.client);
    await router.reconcile(canary);
    await router.finalize(canary, { release: true });
    expect(router.handedOff).toEqual([{ uid: undefined, release: true }]);

    const adoptedServer = apiserver(found(40, true));
    const adopted = new SplitRouter(adoptedServer.client);
    await adopted.finalize(canary, { release: false });
    expect(adopted.handedOff).toEqual([]);
    expect(adoptedServer.jsonPatches).toEqual([
      expect.arrayContaining([{ op: 'replace', path: '/spec', value: {} }]),
    ]);

    const foreignServer = apiserver(found(40));
    const foreign = new SplitRouter(foreignServer.client);
    await foreign.finalize(canary, { release: false });
    expect(foreign.handedOff).toEqual([]);
    expect(foreignServer.jsonPatches).toEqual([]);
  });
});
