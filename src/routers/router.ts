import type { CanaryStatus, NormalizedCanarySpec, NormalizedService } from '../api/index.ts';
import type { KubeObjectClient } from '../kube/client.ts';

// The contract every available router fills. Weights are always read back from the
// router's own object, never from Canary status, so a restart can never leave status
// and routing disagreeing. A router never writes Canary status: what
// status must remember (session cookies) is returned to the caller.

/** A Canary as routers see it: identity, normalised spec and (read-only) status. */
export interface RoutableCanary {
  metadata: { name: string; namespace: string; uid: string; annotations?: Record<string, string> };
  spec: NormalizedCanarySpec;
  status?: CanaryStatus;
}

/** What the caller asks the router to route. primaryWeight + canaryWeight must be 100. */
export interface DesiredRoutes {
  primaryWeight: number;
  canaryWeight: number;
  /** Copy the primary's requests to the canary (responses discarded). */
  mirror: boolean;
  /**
   * Session-affinity cookie values decided by the caller (the engine derives them
   * from status, so a restart re-derives the same ones). When absent the router
   * keeps the cookies it finds and mints missing ones.
   */
  cookies?: SessionCookies;
}

/**
 * Session-affinity cookies as `name=value`, named like the CanaryStatus fields
 * they belong in. null means the field must be cleared (null in a merge patch).
 */
export interface SessionCookies {
  sessionAffinityCookie: string | null;
  primarySessionAffinityCookie: string | null;
  previousSessionAffinityCookie: string | null;
}

export const NO_SESSION_COOKIES: Readonly<SessionCookies> = Object.freeze({
  sessionAffinityCookie: null,
  primarySessionAffinityCookie: null,
  previousSessionAffinityCookie: null,
});

export interface SetRoutesResult {
  /** Write these into Canary status with the same reconcile's status patch. */
  cookies: SessionCookies;
}

export interface RouteWeights {
  primaryWeight: number;
  canaryWeight: number;
  mirrored: boolean;
}

/**
 * What the router object says. `applied: false` means the data plane has not (yet)
 * taken the route: the object is missing, unreadable, or its controller has not
 * accepted the current generation. `written` then holds the weights the object
 * carries, when they could be read.
 */
export type RouteReadback =
  | ({
      applied: true;
      cookies: SessionCookies;
      /**
       * Fields of the spec the data plane that took the route is known to ignore (its
       * controller is named on the routing object): reported like other ignored fields.
       */
      ignored?: readonly { field: string; message: string }[];
    } & RouteWeights)
  | { applied: false; reason: string; written?: RouteWeights };

export interface Router {
  /** Provider name as resolved by the registry (e.g. `gatewayapi` for `gatewayapi:v1beta1`). */
  readonly provider: string;
  /**
   * Creates or updates the routing objects. A new object routes 100% to the
   * primary; an existing one keeps the weights, mirroring and session cookies it
   * carries (a cookie whose name the spec changed is replaced), so a reconcile never
   * moves traffic. Only setRoutes does.
   */
  reconcile(canary: RoutableCanary): Promise<void>;
  /** Routes traffic as asked. Throws a RouterConfigError for a split this router cannot make. */
  setRoutes(canary: RoutableCanary, routes: DesiredRoutes): Promise<SetRoutesResult>;
  /**
   * Reads the routing back from the router's object, the source of truth for the
   * weight. Its cookies are what Canary status should hold.
   */
  getRoutes(canary: RoutableCanary): Promise<RouteReadback>;
  /**
   * Hands traffic back on Canary deletion, once the target serves again: restores an
   * adopted object from its saved original, or routes everything to the apex Service
   * (which then selects the target's pods).
   */
  finalize(canary: RoutableCanary, handBack: HandBack): Promise<void>;
}

/** How a deleted Canary's objects are handed back. */
export interface HandBack {
  /**
   * revertOnDeletion: the objects Fledge created lose the Canary's owner reference and
   * outlive it; otherwise they go with it (garbage collection), once they point at the target.
   */
  release: boolean;
}

export interface RouterDeps {
  client: KubeObjectClient;
  /** Random token for session cookie values; injectable for tests. */
  randomToken?: () => string;
}

export type RouterFactory = (deps: RouterDeps) => Router;

/**
 * Why a router refuses a Canary: its provider has no router (`ProviderUnavailable`), the spec
 * asks for routing the router cannot make (`CapabilityMissing`), or a reference it needs is
 * missing (`RouteRefMissing`).
 */
export type RouterRefusal = 'ProviderUnavailable' | 'CapabilityMissing' | 'RouteRefMissing';

/** A Canary asks for something its router cannot do; retrying will not help until the spec changes. */
export class RouterConfigError extends Error {
  readonly reason: RouterRefusal;

  constructor(message: string, reason: RouterRefusal = 'CapabilityMissing') {
    super(message);
    this.name = 'RouterConfigError';
    this.reason = reason;
  }
}

/**
 * On an object Fledge adopted (it existed before the Canary): its original
 * configuration as JSON, restored by finalize.
 */
export const ORIGINAL_CONFIGURATION_ANNOTATION = 'fledge.dev/original-configuration';

export interface ServiceNames {
  apex: string;
  primary: string;
  canary: string;
}

/** The normalised spec.service; every router and the Services need it. */
export function requireService(canary: RoutableCanary, provider: string): NormalizedService {
  const service = canary.spec.service;
  if (service === undefined) {
    throw new RouterConfigError(`provider ${provider} needs spec.service: set at least spec.service.port`);
  }
  return service;
}

export function serviceNames(service: Pick<NormalizedService, 'name'>): ServiceNames {
  return { apex: service.name, primary: `${service.name}-primary`, canary: `${service.name}-canary` };
}

/** Throws unless the weights are whole percentages adding up to 100. */
export function validateWeights(routes: DesiredRoutes): void {
  const { primaryWeight, canaryWeight } = routes;
  for (const [field, value] of [
    ['primaryWeight', primaryWeight],
    ['canaryWeight', canaryWeight],
  ] as const) {
    if (!Number.isInteger(value) || value < 0 || value > 100) {
      throw new RangeError(`${field} must be an integer from 0 to 100, got ${value}`);
    }
  }
  if (primaryWeight + canaryWeight !== 100) {
    throw new RangeError(`primaryWeight + canaryWeight must be 100, got ${primaryWeight} + ${canaryWeight}`);
  }
}

export type WeightReadback = { ok: true; weights: RouteWeights } | { ok: false; reason: string };

/**
 * Two relative backend weights (undefined: the backend is not there) as percentages, for
 * routers whose objects weigh the -primary and -canary backends. `where` names the object,
 * `missing` says what lacks a backend.
 */
export function percentagesOf(
  where: string,
  primary: { name: string; weight: number | undefined },
  canary: { name: string; weight: number | undefined },
  missing: (backend: string) => string,
): WeightReadback {
  if (primary.weight === undefined || canary.weight === undefined) {
    return {
      ok: false,
      reason: `${where} ${missing(primary.weight === undefined ? primary.name : canary.name)}`,
    };
  }
  const total = primary.weight + canary.weight;
  if (total === 0)
    return { ok: false, reason: `${where} gives both ${primary.name} and ${canary.name} weight 0` };
  const percent = Math.round((100 * canary.weight) / total);
  return { ok: true, weights: { primaryWeight: 100 - percent, canaryWeight: percent, mirrored: false } };
}
