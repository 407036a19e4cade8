import type { KubeObjectClient, ObjectRef } from '../kube/client.ts';
import { MANAGE_VERBS } from '../kube/rbac.ts';
import {
  applyAdopting,
  describeRef,
  handBackObject,
  liveObject,
  writtenByFledge,
  type SpecObject,
} from './adoption.ts';
import { NO_ROUTING_FIELDS, type RouterDeclaration } from './declaration.ts';
import { routerObjectMetadata } from './objects.ts';
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
  type RouteWeights,
  type Router,
  type RouterDeps,
  type SetRoutesResult,
} from './router.ts';

// Traefik: a TraefikService `<apex>` (Flagger's traefik provider). It weighs the Services
// `<apex>-primary` and `<apex>-canary`, or, while mirroring, sends every request to the
// primary and a copy to the canary. An IngressRoute the user writes points at it.

export const TRAEFIK_PROVIDER = 'traefik';
export const TRAEFIK_API_VERSION = 'traefik.io/v1alpha1';
export const TRAEFIK_SERVICE_KIND = 'TraefikService';

export interface TraefikBackend {
  name: string;
  port: number;
  weight?: number;
}

export interface TraefikMirror {
  name: string;
  port: number;
  percent: number;
}

export interface TraefikServiceSpec {
  weighted?: { services: TraefikBackend[] };
  mirroring?: { name: string; port: number; mirrors: TraefikMirror[] };
}

export type TraefikService = SpecObject<TraefikServiceSpec>;

type TraefikRoutes = Pick<RouteWeights, 'primaryWeight' | 'canaryWeight'> & { mirror: boolean };

const canaryService = 'service=~"{{ namespace }}-{{ target }}-canary-[0-9a-zA-Z-]+@kubernetescrd"';

export const traefikRouter: RouterDeclaration = {
  provider: TRAEFIK_PROVIDER,
  providers: [TRAEFIK_PROVIDER],
  availability: { state: 'available', create: (deps) => new TraefikRouter(deps) },
  objects: '`TraefikService <apex>` (`traefik.io/v1alpha1`)',
  features: ['weighted', 'blueGreen', 'mirroring'],
  ...NO_ROUTING_FIELDS,
  permissions: [{ apiGroup: 'traefik.io', resources: ['traefikservices'], verbs: MANAGE_VERBS }],
  crds: {
    module: 'github.com/traefik/traefik/v3',
    version: 'v3.6.12',
    paths: ['docs/content/reference/dynamic-configuration/kubernetes-crd-definition-v1.yml'],
  },
  metrics: {
    requests: {
      series: 'traefik_service_request_duration_seconds_bucket',
      selector: `${canaryService},le="+Inf"`,
      successMatcher: 'code!~"5.."',
    },
    latency: {
      kind: 'p99',
      buckets: 'traefik_service_request_duration_seconds_bucket',
      selector: canaryService,
      toMilliseconds: 1000,
    },
    source:
      'Traefik service metrics; the `+Inf` bucket of the duration histogram counts requests. The canary service is `<namespace>-<target>-canary-<port>@kubernetescrd`.',
  },
};

/** The TraefikService `<apex>`: weighted primary and canary, or the primary mirrored to the canary. */
export function renderTraefikService(
  canary: RoutableCanary,
  routes: TraefikRoutes,
  owned: boolean,
): TraefikService {
  const service = requireService(canary, TRAEFIK_PROVIDER);
  const names = serviceNames(service);
  const port = service.port;
  let spec: TraefikServiceSpec;
  if (routes.mirror) {
    // A mirroring TraefikService sends every request to one service; a split would need a second object.
    if (routes.canaryWeight !== 0) {
      throw new RouterConfigError(
        `provider ${TRAEFIK_PROVIDER} mirrors only while the primary takes all traffic: ` +
          'use analysis.mirror with iterations (blue/green), not with stepWeight',
      );
    }
    spec = {
      mirroring: { name: names.primary, port, mirrors: [{ name: names.canary, port, percent: 100 }] },
    };
  } else {
    spec = {
      weighted: {
        services: [
          { name: names.primary, port, weight: routes.primaryWeight },
          { name: names.canary, port, weight: routes.canaryWeight },
        ],
      },
    };
  }
  return {
    apiVersion: TRAEFIK_API_VERSION,
    kind: TRAEFIK_SERVICE_KIND,
    metadata: routerObjectMetadata(canary, service.name, service.apex, owned, true),
    spec,
  };
}

/** What a deleted Canary hands back: everything to the apex Service, without Flux's opt-out marks. */
export function renderHandoffTraefikService(canary: RoutableCanary, owned: boolean): TraefikService {
  const service = requireService(canary, TRAEFIK_PROVIDER);
  return {
    apiVersion: TRAEFIK_API_VERSION,
    kind: TRAEFIK_SERVICE_KIND,
    metadata: routerObjectMetadata(canary, service.name, service.apex, owned, false),
    spec: { weighted: { services: [{ name: service.name, port: service.port, weight: 100 }] } },
  };
}

export type TraefikReadback = { ok: true; weights: RouteWeights } | { ok: false; reason: string };

/** The routing a TraefikService carries, as percentages (Traefik weights are relative). */
export function readTraefikService(live: TraefikService, canary: RoutableCanary): TraefikReadback {
  const names = serviceNames(requireService(canary, TRAEFIK_PROVIDER));
  const where = `${TRAEFIK_SERVICE_KIND} ${live.metadata.namespace ?? canary.metadata.namespace}/${names.apex}`;
  const mirroring = live.spec.mirroring;
  if (mirroring !== undefined) {
    const mirrorsCanary = mirroring.mirrors.some((m) => m.name === names.canary && m.percent === 100);
    if (mirroring.name !== names.primary || !mirrorsCanary) {
      return { ok: false, reason: `${where} does not mirror ${names.primary} to ${names.canary}` };
    }
    return { ok: true, weights: { primaryWeight: 100, canaryWeight: 0, mirrored: true } };
  }
  const services = live.spec.weighted?.services ?? [];
  // Traefik's default weight for a listed service is 1.
  const weightOf = (name: string) => {
    const entry = services.find((s) => s.name === name);
    return entry === undefined ? undefined : (entry.weight ?? 1);
  };
  const primary = weightOf(names.primary);
  const canaryWeight = weightOf(names.canary);
  if (primary === undefined || canaryWeight === undefined) {
    const missing = primary === undefined ? names.primary : names.canary;
    return { ok: false, reason: `${where} does not weigh service ${missing}` };
  }
  if (primary + canaryWeight === 0) {
    return { ok: false, reason: `${where} gives both ${names.primary} and ${names.canary} weight 0` };
  }
  const percent = Math.round((100 * canaryWeight) / (primary + canaryWeight));
  return { ok: true, weights: { primaryWeight: 100 - percent, canaryWeight: percent, mirrored: false } };
}

export class TraefikRouter implements Router {
  readonly provider = TRAEFIK_PROVIDER;
  readonly #client: KubeObjectClient;

  constructor(deps: RouterDeps) {
    this.#client = deps.client;
  }

  async reconcile(canary: RoutableCanary): Promise<void> {
    const live = await liveObject<TraefikService>(this.#client, this.#ref(canary));
    const current = live === undefined ? undefined : this.#readable(canary, live);
    await this.#write(canary, live, current ?? { primaryWeight: 100, canaryWeight: 0, mirror: false });
  }

  async setRoutes(canary: RoutableCanary, routes: DesiredRoutes): Promise<SetRoutesResult> {
    validateWeights(routes);
    const live = await liveObject<TraefikService>(this.#client, this.#ref(canary));
    await this.#write(canary, live, routes);
    return { cookies: { ...NO_SESSION_COOKIES } };
  }

  async getRoutes(canary: RoutableCanary): Promise<RouteReadback> {
    const live = await liveObject<TraefikService>(this.#client, this.#ref(canary));
    if (live === undefined)
      return { applied: false, reason: `${describeRef(this.#ref(canary))} does not exist` };
    const read = readTraefikService(live, canary);
    if (!read.ok) return { applied: false, reason: read.reason };
    // A TraefikService has no status: Traefik serves it as written.
    return { applied: true, ...read.weights, cookies: { ...NO_SESSION_COOKIES } };
  }

  async finalize(canary: RoutableCanary, handBack: HandBack): Promise<void> {
    const handoff = (owned: boolean) => renderHandoffTraefikService(canary, owned);
    await handBackObject(this.#client, this.#ref(canary), canary, handoff, handBack);
  }

  /** The routing an object Fledge has written carries; undefined for one it has not written yet. */
  #readable(canary: RoutableCanary, live: TraefikService): TraefikRoutes | undefined {
    if (!writtenByFledge(live, canary, describeRef(this.#ref(canary)))) return undefined;
    const read = readTraefikService(live, canary);
    if (!read.ok) return undefined;
    const { primaryWeight, canaryWeight, mirrored } = read.weights;
    return { primaryWeight, canaryWeight, mirror: mirrored };
  }

  async #write(
    canary: RoutableCanary,
    live: TraefikService | undefined,
    routes: TraefikRoutes,
  ): Promise<void> {
    await applyAdopting(this.#client, this.#ref(canary), live, canary, (owned) =>
      renderTraefikService(canary, routes, owned),
    );
  }

  #ref(canary: RoutableCanary): ObjectRef {
    const { apex } = serviceNames(requireService(canary, TRAEFIK_PROVIDER));
    return {
      apiVersion: TRAEFIK_API_VERSION,
      kind: TRAEFIK_SERVICE_KIND,
      namespace: canary.metadata.namespace,
      name: apex,
    };
  }
}
