import type { ObjectRef } from '../kube/client.ts';
import { applyObject } from '../kube/patch.ts';
import { MANAGE_VERBS } from '../kube/rbac.ts';
import type { SpecObject } from './adoption.ts';
import { NO_ROUTING_FIELDS, type RouterDeclaration } from './declaration.ts';
import { envoyMetrics } from './metrics.ts';
import { routerObjectMetadata, type ObjectMeta } from './objects.ts';
import {
  RouterConfigError,
  percentagesOf,
  requireService,
  serviceNames,
  type HandBack,
  type RoutableCanary,
  type WeightReadback,
} from './router.ts';
import { SingleObjectRouter, type ObjectRoutes } from './single-object.ts';

// Kuma (Flagger's kuma provider): the cluster-scoped TrafficRoute `<apex>` (kuma.io/v1alpha1)
// splitting the apex's Kuma service `<apex>_<namespace>_svc_<port>` between the -primary and
// -canary services. This is the object Flagger writes. Kuma 2.x prefers the targetRef policies
// (MeshHTTPRoute) for new meshes and calls TrafficRoute legacy, but still applies it on a mesh
// that uses the legacy policies, which is every mesh a Flagger user runs canaries on today;
// a MeshHTTPRoute router would need Kuma 2.x's CRDs, and the module proxy serves no such
// version here to test against.
//
// A cluster-scoped object cannot carry an owner reference to a namespaced Canary, so the
// Canary that created it is named in annotations, and finalize deletes it (or, under
// revertOnDeletion, leaves it sending everything to the apex service).

export const KUMA_PROVIDER = 'kuma';
export const TRAFFIC_ROUTE_API_VERSION = 'kuma.io/v1alpha1';
export const TRAFFIC_ROUTE_KIND = 'TrafficRoute';
const SERVICE_TAG = 'kuma.io/service';
/** The Canary annotation naming its mesh, as Flagger reads it. */
export const MESH_ANNOTATION = 'kuma.io/mesh';
/** On a TrafficRoute Fledge created: the Canary's uid, and its namespace/name for messages. */
export const CANARY_UID_ANNOTATION = 'fledge.dev/canary-uid';
export const CANARY_ANNOTATION = 'fledge.dev/canary';

export interface TrafficRouteSplit {
  weight?: number;
  destination: Record<string, string>;
}

export type TrafficRoute = SpecObject<{
  sources?: { match: Record<string, string> }[];
  destinations?: { match: Record<string, string> }[];
  conf?: { split?: TrafficRouteSplit[]; [field: string]: unknown };
}> & { mesh?: string };

export const kumaRouter: RouterDeclaration = {
  provider: KUMA_PROVIDER,
  providers: ['kuma'],
  availability: { state: 'available', create: (deps) => new KumaRouter(deps) },
  objects: '`TrafficRoute <apex>` (`kuma.io/v1alpha1`, cluster-scoped)',
  features: ['weighted', 'blueGreen'],
  ...NO_ROUTING_FIELDS,
  permissions: [{ apiGroup: 'kuma.io', resources: ['trafficroutes'], verbs: MANAGE_VERBS }],
  crds: {
    module: 'github.com/kumahq/kuma',
    version: 'v1.8.1',
    paths: ['deployments/charts/kuma/crds/kuma.io_trafficroutes.yaml'],
  },
  metrics: envoyMetrics(
    'service=~"{{ target }}-canary_{{ namespace }}_svc_[0-9a-zA-Z-]+"',
    "Envoy metrics of Kuma's data plane; Kuma names the canary service `<target>-canary_<namespace>_svc_<port>`.",
  ),
};

/** A Kubernetes Service's name in Kuma: `<service>_<namespace>_svc_<port>`. */
export function kumaService(canary: RoutableCanary, service: string): string {
  return `${service}_${canary.metadata.namespace}_svc_${requireService(canary, KUMA_PROVIDER).port}`;
}

/** The Canary's TrafficRoute: `owned` when it created it (annotations), `adopted` when it found it. */
export function trafficRouteOwnership(
  meta: ObjectMeta,
  canary: RoutableCanary,
  description: string,
): 'owned' | 'adopted' {
  const uid = meta.annotations?.[CANARY_UID_ANNOTATION];
  if (uid === undefined) return 'adopted';
  if (uid === canary.metadata.uid) return 'owned';
  throw new RouterConfigError(
    `${description} (cluster-scoped) is managed by Canary ${meta.annotations?.[CANARY_ANNOTATION] ?? uid}: ` +
      'TrafficRoutes are named after spec.service.name, so rename spec.service.name of one of the two Canaries',
  );
}

function splits(canary: RoutableCanary, routes: { name: string; weight: number }[]): TrafficRouteSplit[] {
  return routes.map(({ name, weight }) => ({
    weight,
    destination: { [SERVICE_TAG]: kumaService(canary, name) },
  }));
}

/** The TrafficRoute `<apex>`: requests from any service to the apex split between primary and canary. */
export function renderTrafficRoute(
  canary: RoutableCanary,
  primaryWeight: number,
  owned: boolean,
  live?: TrafficRoute,
): TrafficRoute {
  const service = requireService(canary, KUMA_PROVIDER);
  const names = serviceNames(service);
  return {
    apiVersion: TRAFFIC_ROUTE_API_VERSION,
    kind: TRAFFIC_ROUTE_KIND,
    // An adopted route stays in its mesh.
    mesh: live?.mesh ?? canary.metadata.annotations?.[MESH_ANNOTATION] ?? 'default',
    metadata: trafficRouteMetadata(canary, owned, true),
    spec: {
      sources: [{ match: { [SERVICE_TAG]: '*' } }],
      destinations: [{ match: { [SERVICE_TAG]: kumaService(canary, names.apex) } }],
      conf: {
        split: splits(canary, [
          { name: names.primary, weight: primaryWeight },
          { name: names.canary, weight: 100 - primaryWeight },
        ]),
      },
    },
  };
}

function trafficRouteMetadata(canary: RoutableCanary, owned: boolean, managed: boolean): ObjectMeta {
  const service = requireService(canary, KUMA_PROVIDER);
  const metadata = routerObjectMetadata(canary, service.name, service.apex, false, managed);
  delete metadata.namespace;
  if (owned) {
    const { namespace, name, uid } = canary.metadata;
    metadata.annotations = {
      ...metadata.annotations,
      [CANARY_UID_ANNOTATION]: uid,
      [CANARY_ANNOTATION]: `${namespace}/${name}`,
    };
  }
  return metadata;
}

/** What a released TrafficRoute keeps: everything to the apex service, no Canary named on it. */
export function renderHandoffTrafficRoute(canary: RoutableCanary, mesh: string | undefined): TrafficRoute {
  const routed = renderTrafficRoute(canary, 100, false);
  const { apex } = serviceNames(requireService(canary, KUMA_PROVIDER));
  return {
    ...routed,
    mesh: mesh ?? routed.mesh,
    metadata: trafficRouteMetadata(canary, false, false),
    spec: { ...routed.spec, conf: { split: splits(canary, [{ name: apex, weight: 100 }]) } },
  };
}

/** The primary and canary weights of the split, as percentages. */
export function readTrafficRoute(live: TrafficRoute, canary: RoutableCanary): WeightReadback {
  const names = serviceNames(requireService(canary, KUMA_PROVIDER));
  const weightOf = (name: string) => {
    const entry = live.spec.conf?.split?.find(
      (s) => s.destination[SERVICE_TAG] === kumaService(canary, name),
    );
    return { name: kumaService(canary, name), weight: entry === undefined ? undefined : (entry.weight ?? 0) };
  };
  return percentagesOf(
    `${TRAFFIC_ROUTE_KIND} ${live.metadata.name ?? ''}`,
    weightOf(names.primary),
    weightOf(names.canary),
    (service) => `does not split to ${SERVICE_TAG} ${service}`,
  );
}

export class KumaRouter extends SingleObjectRouter<TrafficRoute> {
  readonly provider = KUMA_PROVIDER;
  protected override readonly ownership = trafficRouteOwnership;

  protected ref(canary: RoutableCanary): ObjectRef {
    const { apex } = serviceNames(requireService(canary, KUMA_PROVIDER));
    return { apiVersion: TRAFFIC_ROUTE_API_VERSION, kind: TRAFFIC_ROUTE_KIND, name: apex };
  }

  protected renderer(canary: RoutableCanary, routes: ObjectRoutes, live: TrafficRoute | undefined) {
    return (owned: boolean) => renderTrafficRoute(canary, routes.primaryWeight, owned, live);
  }

  // A TrafficRoute has no status: Kuma's control plane serves it as written.
  protected read(live: TrafficRoute, canary: RoutableCanary): WeightReadback {
    return readTrafficRoute(live, canary);
  }

  /** Deletes the TrafficRoute, or under revertOnDeletion leaves it sending everything to the apex service. */
  protected async handOff(canary: RoutableCanary, live: TrafficRoute, handBack: HandBack): Promise<void> {
    if (handBack.release) await applyObject(this.client, renderHandoffTrafficRoute(canary, live.mesh));
    else await this.client.delete(this.ref(canary), { uid: live.metadata.uid ?? '' });
  }
}
