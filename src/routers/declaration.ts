import type { Permission } from '../kube/rbac.ts';
import type { RouterCapabilities } from './capabilities.ts';
import type { RouterMetrics } from './metrics.ts';
import type { RouterFactory } from './router.ts';

// Everything Fledge knows about one traffic router, in that router's own module. The
// registry, the admission enums and rules, --mesh-provider, the operator's RBAC, the
// chart's RBAC and values schema, fledge migrate's notes, the builtin queries and the
// tables in docs/routers.md are all derived from these declarations.

/** Canary fields naming an object of the router's own API (besides spec.service). */
export type RouteRefField = 'ingressRef' | 'routeRef' | 'upstreamRef';

export interface RouteRefUse {
  readonly field: RouteRefField;
  /** The router cannot work without it (admission rejects a Canary that leaves it out). */
  readonly required: boolean;
}

/** Upstream CustomResourceDefinitions, from the project's own Go module, that the router's tests install. */
export interface UpstreamCrds {
  readonly module: string;
  readonly version: string;
  /** Folders or files inside the module that hold the CRDs. */
  readonly paths: readonly string[];
}

/** Whether this version of Fledge can route through the provider. */
export type RouterAvailability =
  | { readonly state: 'available'; readonly create: RouterFactory }
  /** Accepted so Flagger manifests apply; refused with ProviderUnavailable until the router lands. */
  | { readonly state: 'planned' }
  /** Accepted so Flagger manifests apply; refused for good, with what to use instead. */
  | { readonly state: 'withdrawn'; readonly reason: string };

export interface RouterDeclaration extends RouterCapabilities {
  /** spec.provider (and --mesh-provider) strings that select this router, as Flagger spells them. */
  readonly providers: readonly string[];
  readonly availability: RouterAvailability;
  /** What the router writes, for docs/routers.md (Markdown). */
  readonly objects: string;
  /** Canary references the router reads. Any other one set in a Canary is rejected at admission. */
  readonly refs: readonly RouteRefUse[];
  /** API calls the router makes beyond the Services every Canary gets (RBAC). */
  readonly permissions: readonly Permission[];
  readonly crds?: UpstreamCrds;
  /** Where the data plane reports the canary's requests: the builtin metrics' source. */
  readonly metrics?: RouterMetrics;
}

/** For a router that reads no routing field of spec.service and no Canary reference. */
export const NO_ROUTING_FIELDS = {
  serviceFields: [],
  ignoredServiceFields: [],
  requiredServiceFields: [],
  refs: [],
  alternatives: 'remove the field',
} as const satisfies Partial<RouterDeclaration>;
