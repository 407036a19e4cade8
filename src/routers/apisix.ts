import type { ObjectRef } from '../kube/client.ts';
import { MANAGE_VERBS } from '../kube/rbac.ts';
import { describeRef, liveObject, refOf, type SpecObject } from './adoption.ts';
import { NO_ROUTING_FIELDS, type RouterDeclaration } from './declaration.ts';
import { routerObjectMetadata } from './objects.ts';
import {
  ORIGINAL_CONFIGURATION_ANNOTATION,
  RouterConfigError,
  percentagesOf,
  requireService,
  serviceNames,
  type RoutableCanary,
  type WeightReadback,
} from './router.ts';
import { SingleObjectRouter, type ObjectRoutes } from './single-object.ts';

// Apache APISIX (Flagger's apisix provider): the user's ApisixRoute (spec.routeRef) is only
// read. Fledge writes `<route>-<apex>-canary`, a copy holding the one http route of it whose
// backend is the apex Service, at a priority above the user's, with that backend split into
// the -primary and -canary Services by weight. The copy goes when the Canary does, and the
// user's route serves again.

export const APISIX_PROVIDER = 'apisix';
export const APISIX_ROUTE_API_VERSION = 'apisix.apache.org/v2';
export const APISIX_ROUTE_KIND = 'ApisixRoute';
/** Above any priority a user's route has, so APISIX picks the copy (Flagger's value). */
export const CANARY_ROUTE_PRIORITY = 10000;
/** APISIX's ingress controller gives a backend without a weight this one. */
const DEFAULT_BACKEND_WEIGHT = 100;

export interface ApisixBackend {
  serviceName: string;
  servicePort: number | string;
  resolveGranularity?: string;
  weight?: number;
  subset?: string;
}

/** One entry of spec.http; the fields Fledge does not touch (match, plugins, ...) are copied as they are. */
export interface ApisixHttpRoute {
  name: string;
  priority?: number;
  backends?: ApisixBackend[];
  [field: string]: unknown;
}

interface ApisixCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  observedGeneration?: number;
}

export type ApisixRoute = SpecObject<{ ingressClassName?: string; http?: ApisixHttpRoute[] }> & {
  status?: { conditions?: ApisixCondition[] };
};

/** Annotations of the user's route that never go onto the copy. */
const NOT_COPIED = ['kubectl.kubernetes.io/last-applied-configuration', ORIGINAL_CONFIGURATION_ANNOTATION];

const canaryRoute = 'route=~"{{ namespace }}_{{ route }}-{{ target }}-canary_.+"';

export const apisixRouter: RouterDeclaration = {
  provider: APISIX_PROVIDER,
  providers: ['apisix'],
  availability: { state: 'available', create: (deps) => new ApisixRouter(deps) },
  objects: '`ApisixRoute <route>-<apex>-canary` (`apisix.apache.org/v2`)',
  features: ['weighted', 'blueGreen'],
  ...NO_ROUTING_FIELDS,
  refs: [{ field: 'routeRef', required: true }],
  permissions: [{ apiGroup: 'apisix.apache.org', resources: ['apisixroutes'], verbs: MANAGE_VERBS }],
  crds: {
    module: 'github.com/apache/apisix-ingress-controller',
    version: 'v1.7.0',
    paths: ['samples/deploy/crd/v1/ApisixRoute.yaml'],
  },
  metrics: {
    requests: { series: 'apisix_http_status', selector: canaryRoute, successMatcher: 'code!~"5.."' },
    latency: {
      kind: 'p99',
      buckets: 'apisix_http_latency_bucket',
      selector: `type="request",${canaryRoute}`,
      toMilliseconds: 1,
    },
    source:
      "APISIX's Prometheus plugin; the ingress controller names the canary's route `<namespace>_<route>-<target>-canary_<http route>`.",
  },
};

export function canaryRouteName(route: string, apex: string): string {
  return `${route}-${apex}-canary`;
}

/** The http route of the user's ApisixRoute that sends to the apex Service, with its one backend. */
function apexRoute(user: ApisixRoute, apex: string): { route: ApisixHttpRoute; backend: ApisixBackend } {
  const where = `spec.routeRef: ApisixRoute ${user.metadata.namespace ?? ''}/${user.metadata.name ?? ''}`;
  const route = (user.spec.http ?? []).find((r) => (r.backends ?? []).some((b) => b.serviceName === apex));
  if (route === undefined) {
    throw new RouterConfigError(
      `${where} has no http route with a backend on Service ${apex}: point one at ${apex} (spec.service.name), or fix spec.routeRef`,
    );
  }
  const [backend, ...others] = route.backends ?? [];
  if (backend === undefined || others.length > 0) {
    throw new RouterConfigError(
      `${where}: http route "${route.name}" has ${route.backends?.length ?? 0} backends; Fledge splits a route with exactly one, the Service ${apex}`,
    );
  }
  return { route, backend };
}

/** The copy of the user's route the canary is split in. */
export function renderCanaryRoute(
  canary: RoutableCanary,
  user: ApisixRoute,
  primaryWeight: number,
  owned: boolean,
): ApisixRoute {
  const names = serviceNames(requireService(canary, APISIX_PROVIDER));
  const { route, backend } = apexRoute(user, names.apex);
  const split = (serviceName: string, weight: number): ApisixBackend => {
    const entry: ApisixBackend = { serviceName, servicePort: backend.servicePort, weight };
    if (backend.resolveGranularity !== undefined) entry.resolveGranularity = backend.resolveGranularity;
    if (backend.subset !== undefined) entry.subset = backend.subset;
    return entry;
  };
  const annotations = Object.fromEntries(
    Object.entries(user.metadata.annotations ?? {}).filter(([key]) => !NOT_COPIED.includes(key)),
  );
  const metadata = routerObjectMetadata(
    canary,
    canaryRouteName(user.metadata.name ?? '', names.apex),
    { labels: user.metadata.labels ?? {}, annotations },
    owned,
    true,
  );
  const spec: ApisixRoute['spec'] = {
    http: [
      {
        ...structuredClone(route),
        priority: CANARY_ROUTE_PRIORITY,
        backends: [split(names.primary, primaryWeight), split(names.canary, 100 - primaryWeight)],
      },
    ],
  };
  if (user.spec.ingressClassName !== undefined) spec.ingressClassName = user.spec.ingressClassName;
  return { apiVersion: APISIX_ROUTE_API_VERSION, kind: APISIX_ROUTE_KIND, metadata, spec };
}

/** The weights of the copy's route holding the -primary backend, as percentages. */
export function readCanaryRoute(live: ApisixRoute, canary: RoutableCanary): WeightReadback {
  const names = serviceNames(requireService(canary, APISIX_PROVIDER));
  const route = (live.spec.http ?? []).find((r) =>
    (r.backends ?? []).some((b) => b.serviceName === names.primary),
  );
  const weightOf = (name: string) => {
    const backend = route?.backends?.find((b) => b.serviceName === name);
    return { name, weight: backend === undefined ? undefined : (backend.weight ?? DEFAULT_BACKEND_WEIGHT) };
  };
  return percentagesOf(
    `${APISIX_ROUTE_KIND} ${live.metadata.namespace ?? ''}/${live.metadata.name ?? ''}`,
    weightOf(names.primary),
    weightOf(names.canary),
    (service) => `has no http route with a backend on Service ${service}`,
  );
}

/** Why the ingress controller has not synced the copy's current generation to APISIX, when it says so. */
export function canaryRouteNotSynced(live: ApisixRoute): string | undefined {
  const condition = live.status?.conditions?.find((c) => c.type === 'ResourcesAvailable');
  if (condition === undefined || condition.status === 'True') return undefined;
  if (condition.observedGeneration !== undefined && condition.observedGeneration !== live.metadata.generation)
    return undefined;
  return `the APISIX ingress controller did not sync ${APISIX_ROUTE_KIND} ${live.metadata.namespace ?? ''}/${live.metadata.name ?? ''}: ${condition.reason ?? ''} ${condition.message ?? ''}`.trimEnd();
}

export class ApisixRouter extends SingleObjectRouter<ApisixRoute> {
  readonly provider = APISIX_PROVIDER;

  protected ref(canary: RoutableCanary): ObjectRef {
    const { apex } = serviceNames(requireService(canary, APISIX_PROVIDER));
    return this.#ref(canary, canaryRouteName(this.#userName(canary), apex));
  }

  protected async renderer(canary: RoutableCanary, routes: ObjectRoutes) {
    const user = await this.#userRoute(canary);
    return (owned: boolean) => renderCanaryRoute(canary, user, routes.primaryWeight, owned);
  }

  protected read(live: ApisixRoute, canary: RoutableCanary): WeightReadback {
    return readCanaryRoute(live, canary);
  }

  protected override notServed(live: ApisixRoute): string | undefined {
    return canaryRouteNotSynced(live);
  }

  /** Deletes the copy Fledge created: the user's route serves again. */
  protected async handOff(_canary: RoutableCanary, live: ApisixRoute): Promise<void> {
    await this.client.delete(refOf(live), { uid: live.metadata.uid ?? '' });
  }

  async #userRoute(canary: RoutableCanary): Promise<ApisixRoute> {
    const ref = this.#ref(canary, this.#userName(canary));
    const user = await liveObject<ApisixRoute>(this.client, ref);
    if (user === undefined) {
      // Not terminal: the route may be applied just after the Canary.
      throw new Error(`spec.routeRef: ${describeRef(ref)} not found: create it`);
    }
    return user;
  }

  #userName(canary: RoutableCanary): string {
    const name = canary.spec.routeRef?.name;
    if (name === undefined) {
      throw new RouterConfigError(
        'provider apisix needs spec.routeRef: the ApisixRoute to copy',
        'RouteRefMissing',
      );
    }
    return name;
  }

  #ref(canary: RoutableCanary, name: string): ObjectRef {
    return {
      apiVersion: APISIX_ROUTE_API_VERSION,
      kind: APISIX_ROUTE_KIND,
      namespace: canary.metadata.namespace,
      name,
    };
  }
}
