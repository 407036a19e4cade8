import type { KubeObjectClient, ObjectRef } from '../kube/client.ts';
import {
  applyAdopting,
  describeRef,
  finalizeObject,
  liveObject,
  writtenByFledge,
  type Ownership,
  type RoutingObject,
} from './adoption.ts';
import { ownershipOf } from './objects.ts';
import {
  NO_SESSION_COOKIES,
  RouterConfigError,
  requireService,
  serviceNames,
  validateWeights,
  type DesiredRoutes,
  type HandBack,
  type RoutableCanary,
  type RouteReadback,
  type Router,
  type RouterDeps,
  type SetRoutesResult,
  type WeightReadback,
} from './router.ts';

// The flow shared by the routers whose routing is one object (a TrafficRoute, an HTTPProxy,
// a TrafficSplit, ...): reconcile keeps the routing the object carries, setRoutes writes
// the asked one, getRoutes reads it back, finalize restores an adopted object or hands back
// one Fledge created. Each provider says which object, how to render and read it, and what
// its status says.

/** The routing an object is rendered with; these routers set no session cookies. */
export type ObjectRoutes = Pick<DesiredRoutes, 'primaryWeight' | 'canaryWeight' | 'mirror'>;

/** A new object's routing: everything to the primary. */
export const INITIAL_ROUTES: Readonly<ObjectRoutes> = Object.freeze({
  primaryWeight: 100,
  canaryWeight: 0,
  mirror: false,
});

/** The object as the Canary's own (`owned`: with its owner reference) or as one it adopted. */
type Render<T> = (owned: boolean) => T;

/** The object `<apex>` of a kind in the Canary's namespace, the name most of these routers write. */
export function apexRef(
  canary: RoutableCanary,
  provider: string,
  apiVersion: string,
  kind: string,
): ObjectRef {
  const { apex } = serviceNames(requireService(canary, provider));
  return { apiVersion, kind, namespace: canary.metadata.namespace, name: apex };
}

export abstract class SingleObjectRouter<T extends RoutingObject> implements Router {
  abstract readonly provider: string;
  protected readonly client: KubeObjectClient;
  /** Tells an object the Canary created from one it found. */
  protected readonly ownership: Ownership = ownershipOf;

  constructor(deps: RouterDeps) {
    this.client = deps.client;
  }

  protected abstract ref(canary: RoutableCanary): ObjectRef;

  /** Reads (or writes) what the object needs first, then renders it at `routes`. */
  protected abstract renderer(
    canary: RoutableCanary,
    routes: ObjectRoutes,
    live: T | undefined,
  ): Render<T> | Promise<Render<T>>;

  protected abstract read(live: T, canary: RoutableCanary): WeightReadback;

  /** Hands back an object the Canary created. */
  protected abstract handOff(canary: RoutableCanary, live: T, handBack: HandBack): Promise<unknown>;

  /** Why the data plane does not serve the object as written, when its status says so. */
  protected notServed(_live: T): string | undefined {
    return undefined;
  }

  /** Why setRoutes refuses analysis.mirror; undefined for an object that can mirror (render decides). */
  protected mirrorRefusal(): string | undefined {
    return `provider ${this.provider} cannot mirror traffic: remove analysis.mirror`;
  }

  /** Writes the objects the route object points at, before it is read. */
  protected async prepare(_canary: RoutableCanary): Promise<void> {}

  async reconcile(canary: RoutableCanary): Promise<void> {
    await this.prepare(canary);
    const live = await liveObject<T>(this.client, this.ref(canary));
    await this.#write(canary, live, (live && this.#written(canary, live)) ?? INITIAL_ROUTES);
  }

  async setRoutes(canary: RoutableCanary, routes: DesiredRoutes): Promise<SetRoutesResult> {
    validateWeights(routes);
    const refusal = routes.mirror ? this.mirrorRefusal() : undefined;
    if (refusal !== undefined) throw new RouterConfigError(refusal);
    await this.prepare(canary);
    const live = await liveObject<T>(this.client, this.ref(canary));
    await this.#write(canary, live, routes);
    return { cookies: { ...NO_SESSION_COOKIES } };
  }

  async getRoutes(canary: RoutableCanary): Promise<RouteReadback> {
    const ref = this.ref(canary);
    const live = await liveObject<T>(this.client, ref);
    if (live === undefined) return { applied: false, reason: `${describeRef(ref)} does not exist` };
    const read = this.read(live, canary);
    if (!read.ok) return { applied: false, reason: read.reason };
    const notServed = this.notServed(live);
    if (notServed !== undefined) return { applied: false, reason: notServed, written: read.weights };
    return { applied: true, ...read.weights, cookies: { ...NO_SESSION_COOKIES } };
  }

  async finalize(canary: RoutableCanary, handBack: HandBack): Promise<void> {
    const handOff = (live: T) => this.handOff(canary, live, handBack);
    await finalizeObject(this.client, this.ref(canary), canary, handOff, this.ownership);
  }

  /** The routing an object Fledge has written carries; undefined for one it has not written yet. */
  #written(canary: RoutableCanary, live: T): ObjectRoutes | undefined {
    if (!writtenByFledge(live, canary, describeRef(this.ref(canary)), this.ownership)) return undefined;
    const read = this.read(live, canary);
    if (!read.ok) return undefined;
    const { primaryWeight, canaryWeight, mirrored } = read.weights;
    return { primaryWeight, canaryWeight, mirror: mirrored };
  }

  async #write(canary: RoutableCanary, live: T | undefined, routes: ObjectRoutes): Promise<void> {
    const render = await this.renderer(canary, routes, live);
    await applyAdopting(this.client, this.ref(canary), live, canary, render, this.ownership);
  }
}
