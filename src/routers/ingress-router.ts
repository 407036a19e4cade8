import type { KubeObjectClient, ObjectRef } from '../kube/client.ts';
import { applyAdopting, isOwned, liveObject, refOf, restoreAdopted } from './adoption.ts';
import { INGRESS_API_VERSION, INGRESS_KIND, canaryIngressName, type Ingress } from './ingress.ts';
import { getService } from './services.ts';
import {
  NO_SESSION_COOKIES,
  RouterConfigError,
  requireService,
  serviceNames,
  validateWeights,
  type DesiredRoutes,
  type RoutableCanary,
  type RouteReadback,
  type Router,
  type RouterDeps,
  type SetRoutesResult,
} from './router.ts';

// The lifecycle shared by the routers that copy the Ingress named by spec.ingressRef into
// `<ingress>-canary` (ingress-nginx, Skipper). The user's Ingress is only read. The copy
// exists only while the canary gets traffic: it is deleted when the weight returns to 0
// (promotion, rollback) and on Canary deletion, so no stale copy ever routes a request.
// Each data plane says how the copy is made and read.

export type CanaryIngressWeights =
  { ok: true; canaryWeight: number } | { ok: false; reason: string; canaryWeight?: number };

export interface CanaryIngressStyle {
  readonly provider: string;
  /**
   * The copy sending the canary `canaryWeight` percent; pure. Throws a RouterConfigError when
   * the user's Ingress or the spec cannot be expressed, so it also checks them (weight 0).
   */
  render(canary: RoutableCanary, user: Ingress, canaryWeight: number, owned: boolean): Ingress;
  /** The canary's share as the data plane reads the copy; no copy is 0. */
  read(copy: Ingress | undefined, canary: RoutableCanary): CanaryIngressWeights;
  /** Throws a RouterConfigError for routes the data plane cannot make from the copy. */
  checkRoutes(canary: RoutableCanary, routes: DesiredRoutes): void;
}

export class CanaryIngressRouter implements Router {
  readonly provider: string;
  readonly #client: KubeObjectClient;
  readonly #style: CanaryIngressStyle;

  constructor(deps: RouterDeps, style: CanaryIngressStyle) {
    this.#client = deps.client;
    this.#style = style;
    this.provider = style.provider;
  }

  /** Checks the user's Ingress can be copied and keeps an existing copy in step with it. */
  async reconcile(canary: RoutableCanary): Promise<void> {
    const user = await this.#userIngress(canary);
    const live = await liveObject<Ingress>(this.#client, this.#canaryRef(canary));
    const current = live === undefined || !isOwned(live, canary) ? undefined : this.#style.read(live, canary);
    const weight = current?.ok === true ? current.canaryWeight : 0;
    if (weight === 0) {
      this.#style.render(canary, user, 0, true);
      return;
    }
    await applyAdopting(this.#client, this.#canaryRef(canary), live, canary, (owned) =>
      this.#style.render(canary, user, weight, owned),
    );
  }

  async setRoutes(canary: RoutableCanary, routes: DesiredRoutes): Promise<SetRoutesResult> {
    validateWeights(routes);
    if (routes.mirror)
      throw new RouterConfigError(`provider ${this.provider} cannot mirror traffic: remove analysis.mirror`);
    this.#style.checkRoutes(canary, routes);
    const user = await this.#userIngress(canary);
    const live = await liveObject<Ingress>(this.#client, this.#canaryRef(canary));
    if (routes.canaryWeight === 0) {
      this.#style.render(canary, user, 0, true);
      await this.#remove(canary, live);
    } else {
      await applyAdopting(this.#client, this.#canaryRef(canary), live, canary, (owned) =>
        this.#style.render(canary, user, routes.canaryWeight, owned),
      );
    }
    return { cookies: { ...NO_SESSION_COOKIES } };
  }

  async getRoutes(canary: RoutableCanary): Promise<RouteReadback> {
    const live = await liveObject<Ingress>(this.#client, this.#canaryRef(canary));
    if (live === undefined) {
      // No copy is the resting state; it routes only once the Ingress can be copied and the Services exist.
      const unready = await this.#unready(canary);
      if (unready !== undefined) return { applied: false, reason: unready };
    }
    const read = this.#style.read(live, canary);
    if (!read.ok) return { applied: false, reason: read.reason };
    // No copy: the data plane sends everything through the user's Ingress to the primary.
    return {
      applied: true,
      primaryWeight: 100 - read.canaryWeight,
      canaryWeight: read.canaryWeight,
      mirrored: false,
      cookies: { ...NO_SESSION_COOKIES },
    };
  }

  async finalize(canary: RoutableCanary): Promise<void> {
    await this.#remove(canary, await liveObject<Ingress>(this.#client, this.#canaryRef(canary)));
  }

  /** Why the user's Ingress does not reach the primary through Fledge's Services yet, if it does not. */
  async #unready(canary: RoutableCanary): Promise<string | undefined> {
    const { namespace } = canary.metadata;
    const names = serviceNames(requireService(canary, this.provider));
    for (const name of [names.apex, names.primary, names.canary]) {
      if ((await getService(this.#client, namespace, name)) === undefined)
        return `Service ${namespace}/${name} does not exist yet`;
    }
    try {
      this.#style.render(canary, await this.#userIngress(canary), 0, true);
    } catch (error) {
      return (error as Error).message;
    }
    return undefined;
  }

  /** Deletes the copy Fledge created, or gives an adopted one its original back. */
  async #remove(canary: RoutableCanary, live: Ingress | undefined): Promise<void> {
    if (live === undefined) return;
    if (await restoreAdopted(this.#client, live)) return;
    if (isOwned(live, canary)) await this.#client.delete(refOf(live), { uid: live.metadata.uid ?? '' });
  }

  async #userIngress(canary: RoutableCanary): Promise<Ingress> {
    const ref = this.#userRef(canary);
    const user = await liveObject<Ingress>(this.#client, ref);
    if (user === undefined) {
      // Not terminal: the Ingress may be applied just after the Canary.
      throw new Error(`spec.ingressRef: Ingress ${ref.namespace ?? ''}/${ref.name} not found: create it`);
    }
    return user;
  }

  #userRef(canary: RoutableCanary): ObjectRef & { name: string } {
    const name = canary.spec.ingressRef?.name;
    if (name === undefined) {
      throw new RouterConfigError(
        `provider ${this.provider} needs spec.ingressRef: the Ingress to copy`,
        'RouteRefMissing',
      );
    }
    return {
      apiVersion: INGRESS_API_VERSION,
      kind: INGRESS_KIND,
      namespace: canary.metadata.namespace,
      name,
    };
  }

  #canaryRef(canary: RoutableCanary): ObjectRef {
    const user = this.#userRef(canary);
    return { ...user, name: canaryIngressName(user.name) };
  }
}
