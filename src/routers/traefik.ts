import type { ObjectRef } from '../kube/client.ts';
import { MANAGE_VERBS } from '../kube/rbac.ts';
import { applyHandoff, type SpecObject } from './adoption.ts';
import { NO_ROUTING_FIELDS, type RouterDeclaration } from './declaration.ts';
import { routerObjectMetadata } from './objects.ts';
import {
  RouterConfigError,
  requireService,
  serviceNames,
  type HandBack,
  type RoutableCanary,
  type WeightReadback,
} from './router.ts';
import { SingleObjectRouter, apexRef, type ObjectRoutes } from './single-object.ts';

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
  routes: ObjectRoutes,
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

/** The routing a TraefikService carries, as percentages (Traefik weights are relative). */
export function readTraefikService(live: TraefikService, canary: RoutableCanary): WeightReadback {
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

export class TraefikRouter extends SingleObjectRouter<TraefikService> {
  readonly provider = TRAEFIK_PROVIDER;

  protected ref(canary: RoutableCanary): ObjectRef {
    return apexRef(canary, TRAEFIK_PROVIDER, TRAEFIK_API_VERSION, TRAEFIK_SERVICE_KIND);
  }

  protected renderer(canary: RoutableCanary, routes: ObjectRoutes) {
    return (owned: boolean) => renderTraefikService(canary, routes, owned);
  }

  // A TraefikService has no status: Traefik serves it as written.
  protected read(live: TraefikService, canary: RoutableCanary): WeightReadback {
    return readTraefikService(live, canary);
  }

  // renderTraefikService refuses the mirroring Traefik cannot make.
  protected override mirrorRefusal(): undefined {
    return undefined;
  }

  protected async handOff(canary: RoutableCanary, _live: TraefikService, handBack: HandBack): Promise<void> {
    await applyHandoff(this.client, (owned) => renderHandoffTraefikService(canary, owned), handBack);
  }
}
