import type { ABMatch, UpstreamRef } from '../api/index.ts';
import type { ObjectRef } from '../kube/client.ts';
import { applyObject } from '../kube/patch.ts';
import { MANAGE_VERBS } from '../kube/rbac.ts';
import { applyAdopting, applyHandoff, describeRef, liveObject, type SpecObject } from './adoption.ts';
import type { RouterDeclaration } from './declaration.ts';
import { escapeRegex } from './httproute.ts';
import { envoyMetrics } from './metrics.ts';
import { routerObjectMetadata } from './objects.ts';
import {
  RouterConfigError,
  percentagesOf,
  requireService,
  serviceNames,
  type HandBack,
  type RoutableCanary,
  type RouteWeights,
  type WeightReadback,
} from './router.ts';
import { SingleObjectRouter, apexRef, type ObjectRoutes } from './single-object.ts';

// Gloo Edge (Flagger's gloo provider): a RouteTable `<apex>` that a VirtualService delegates
// to, weighing two Upstreams Fledge writes itself, `<namespace>-<apex>-primaryupstream-<port>`
// and `...-canaryupstream-<port>`, each a kube Upstream of the -primary or -canary Service
// (so Gloo's discovery may be off). spec.upstreamRef names an Upstream whose connection
// settings (TLS, circuit breakers, load balancing, HTTP/2, ...) both copies carry, kept in
// step on every reconcile. A/B routes matching requests by weight and the rest to the primary
// with a second route (Flagger's single route served matching requests only).

export const GLOO_PROVIDER = 'gloo';
export const ROUTE_TABLE_API_VERSION = 'gateway.solo.io/v1';
export const ROUTE_TABLE_KIND = 'RouteTable';
export const UPSTREAM_API_VERSION = 'gloo.solo.io/v1';
export const UPSTREAM_KIND = 'Upstream';

export interface GlooUpstreamRef {
  name: string;
  namespace?: string;
}

export interface GlooHeaderMatcher {
  name: string;
  value?: string;
  regex?: boolean;
}

export interface GlooMatcher {
  headers?: GlooHeaderMatcher[];
  queryParameters?: GlooHeaderMatcher[];
}

export interface GlooWeightedDestination {
  destination: { upstream: GlooUpstreamRef };
  weight?: number;
}

export interface GlooRoute {
  matchers?: GlooMatcher[];
  inheritablePathMatchers?: boolean;
  routeAction?: { multi?: { destinations?: GlooWeightedDestination[] } };
}

export type RouteTable = SpecObject<{ routes?: GlooRoute[] }> & {
  status?: GlooStatuses & { namespacedStatuses?: GlooStatuses };
};

interface GlooStatuses {
  statuses?: Record<string, { state?: string | number; reason?: string }>;
}

export type Upstream = SpecObject<Record<string, unknown>>;

/** The Upstream settings Flagger copies from spec.upstreamRef (everything but where it points). */
export const COPIED_UPSTREAM_FIELDS = [
  'labels',
  'sslConfig',
  'circuitBreakers',
  'connectionConfig',
  'loadBalancerConfig',
  'useHttp2',
  'initialStreamWindowSize',
  'initialConnectionWindowSize',
  'httpProxyHostname',
] as const;

const canaryUpstream =
  'envoy_cluster_name=~"{{ namespace }}-{{ target }}-canaryupstream-[0-9a-zA-Z-]+_[0-9a-zA-Z-]+"';

export const glooRouter: RouterDeclaration = {
  provider: GLOO_PROVIDER,
  providers: ['gloo'],
  availability: { state: 'available', create: (deps) => new GlooRouter(deps) },
  objects:
    '`RouteTable <apex>` (`gateway.solo.io/v1`), an `Upstream` (`gloo.solo.io/v1`) each for `-primary` and `-canary`',
  features: ['weighted', 'abTesting', 'blueGreen'],
  serviceFields: [],
  ignoredServiceFields: [],
  requiredServiceFields: [],
  refs: [{ field: 'upstreamRef', required: false }],
  alternatives: 'use spec.analysis.stepWeight, iterations, or A/B testing by headers and query parameters',
  checkExpressible: (spec) => {
    if (spec.analysis.match !== undefined) glooMatchers(spec.analysis.match);
  },
  permissions: [
    { apiGroup: 'gateway.solo.io', resources: ['routetables'], verbs: MANAGE_VERBS },
    { apiGroup: 'gloo.solo.io', resources: ['upstreams'], verbs: MANAGE_VERBS },
  ],
  metrics: envoyMetrics(
    canaryUpstream,
    "Envoy cluster metrics from Gloo's gateway proxy; the canary's cluster is its Upstream `<namespace>-<target>-canaryupstream-<port>` followed by `_<upstream namespace>`.",
  ),
};

/** Upstream names, as Flagger spells them (its builtin queries select on them). */
export function upstreamNames(canary: RoutableCanary): { primary: string; canary: string; apex: string } {
  const service = requireService(canary, GLOO_PROVIDER);
  const prefix = `${canary.metadata.namespace}-${service.name}`;
  return {
    primary: `${prefix}-primaryupstream-${service.port}`,
    canary: `${prefix}-canaryupstream-${service.port}`,
    apex: `${prefix}-apexupstream-${service.port}`,
  };
}

/** A condition as a Gloo matcher value: exact stays a value, the rest become RE2 regexes. */
function matcherFor(
  name: string,
  match: { exact?: string; prefix?: string; suffix?: string; regex?: string },
) {
  if (match.exact !== undefined) return { name, value: match.exact };
  if (match.regex !== undefined) return { name, value: match.regex, regex: true };
  if (match.prefix !== undefined) return { name, value: `${escapeRegex(match.prefix)}.*`, regex: true };
  return { name, value: `.*${escapeRegex(match.suffix ?? '')}`, regex: true };
}

/** analysis.match as Gloo matchers: one per entry (any matches), its conditions all required. */
export function glooMatchers(matches: readonly ABMatch[]): GlooMatcher[] {
  return matches.map((entry, i) => {
    if (entry.sourceLabels !== undefined) {
      throw new RouterConfigError(
        `spec.analysis.match[${i}].sourceLabels: a Gloo route matches requests, not their source workload; remove it`,
      );
    }
    const matcher: GlooMatcher = {};
    const headers = Object.entries(entry.headers ?? {}).map(([name, m]) => matcherFor(name, m));
    const query = Object.entries(entry.queryParams ?? {}).map(([name, m]) => matcherFor(name, m));
    if (headers.length > 0) matcher.headers = headers;
    if (query.length > 0) matcher.queryParameters = query;
    return matcher;
  });
}

function destinations(
  names: { primary: string; canary: string },
  namespace: string,
  primaryWeight: number,
): GlooWeightedDestination[] {
  return [
    { destination: { upstream: { name: names.primary, namespace } }, weight: primaryWeight },
    { destination: { upstream: { name: names.canary, namespace } }, weight: 100 - primaryWeight },
  ];
}

/** The RouteTable `<apex>`: the weighted route, and for A/B a second one sending the rest to the primary. */
export function renderRouteTable(
  canary: RoutableCanary,
  routes: Pick<RouteWeights, 'primaryWeight'>,
  owned: boolean,
): RouteTable {
  const service = requireService(canary, GLOO_PROVIDER);
  const { namespace } = canary.metadata;
  const names = upstreamNames(canary);
  const weighted: GlooRoute = {
    inheritablePathMatchers: true,
    routeAction: { multi: { destinations: destinations(names, namespace, routes.primaryWeight) } },
  };
  const matches = canary.spec.analysis.match ?? [];
  const table: GlooRoute[] = [weighted];
  if (matches.length > 0) {
    weighted.matchers = glooMatchers(matches);
    table.push({
      inheritablePathMatchers: true,
      routeAction: { multi: { destinations: destinations(names, namespace, 100) } },
    });
  }
  return {
    apiVersion: ROUTE_TABLE_API_VERSION,
    kind: ROUTE_TABLE_KIND,
    metadata: routerObjectMetadata(canary, service.name, service.apex, owned, true),
    spec: { routes: table },
  };
}

/** What a deleted Canary hands back: every request to the apex Service's Upstream. */
export function renderHandoffRouteTable(canary: RoutableCanary, owned: boolean): RouteTable {
  const service = requireService(canary, GLOO_PROVIDER);
  const upstream = { name: upstreamNames(canary).apex, namespace: canary.metadata.namespace };
  return {
    apiVersion: ROUTE_TABLE_API_VERSION,
    kind: ROUTE_TABLE_KIND,
    metadata: routerObjectMetadata(canary, service.name, service.apex, owned, false),
    spec: {
      routes: [
        {
          inheritablePathMatchers: true,
          routeAction: { multi: { destinations: [{ destination: { upstream }, weight: 100 }] } },
        },
      ],
    },
  };
}

/** A kube Upstream of one of the Canary's Services, with the settings copied from spec.upstreamRef. */
export function renderUpstream(
  canary: RoutableCanary,
  name: string,
  serviceName: string,
  config: Upstream | undefined,
  owned: boolean,
  managed = true,
): Upstream {
  const service = requireService(canary, GLOO_PROVIDER);
  const spec: Record<string, unknown> = {};
  for (const field of COPIED_UPSTREAM_FIELDS) {
    if (config?.spec[field] !== undefined) spec[field] = config.spec[field];
  }
  spec.kube = { serviceName, serviceNamespace: canary.metadata.namespace, servicePort: service.port };
  return {
    apiVersion: UPSTREAM_API_VERSION,
    kind: UPSTREAM_KIND,
    metadata: routerObjectMetadata(canary, name, undefined, owned, managed),
    spec,
  };
}

/** The primary and canary weights of the RouteTable's first route, as percentages. */
export function readRouteTable(live: RouteTable, canary: RoutableCanary): WeightReadback {
  const names = upstreamNames(canary);
  const listed = live.spec.routes?.[0]?.routeAction?.multi?.destinations ?? [];
  // Gloo (and Flagger, which omits zero) reads a missing weight as 0.
  const weightOf = (name: string) => {
    const entry = listed.find((d) => d.destination.upstream.name === name);
    return { name, weight: entry === undefined ? undefined : (entry.weight ?? 0) };
  };
  return percentagesOf(
    `${ROUTE_TABLE_KIND} ${live.metadata.namespace ?? canary.metadata.namespace}/${live.metadata.name ?? ''}`,
    weightOf(names.primary),
    weightOf(names.canary),
    (upstream) => `does not route to Upstream ${upstream} in its first route`,
  );
}

/** Why Gloo refuses the RouteTable, when one of its reporters says so (Gloo's statuses carry no generation). */
export function routeTableRejection(live: RouteTable): string | undefined {
  const statuses = { ...live.status?.statuses, ...live.status?.namespacedStatuses?.statuses };
  for (const [reporter, status] of Object.entries(statuses)) {
    // Gloo writes the state as a name, or as its enum number (2: Rejected).
    if (status.state === 'Rejected' || status.state === 2) {
      return `Gloo (${reporter}) rejected RouteTable ${live.metadata.namespace ?? ''}/${live.metadata.name ?? ''}: ${status.reason ?? 'no reason given'}`;
    }
  }
  return undefined;
}

export class GlooRouter extends SingleObjectRouter<RouteTable> {
  readonly provider = GLOO_PROVIDER;

  protected ref(canary: RoutableCanary): ObjectRef {
    return apexRef(canary, GLOO_PROVIDER, ROUTE_TABLE_API_VERSION, ROUTE_TABLE_KIND);
  }

  protected renderer(canary: RoutableCanary, routes: ObjectRoutes) {
    return (owned: boolean) => renderRouteTable(canary, routes, owned);
  }

  protected read(live: RouteTable, canary: RoutableCanary): WeightReadback {
    return readRouteTable(live, canary);
  }

  protected override notServed(live: RouteTable): string | undefined {
    return routeTableRejection(live);
  }

  protected async handOff(canary: RoutableCanary, _live: RouteTable, handBack: HandBack): Promise<void> {
    // The handed-back table routes to the apex Service: its Upstream must exist first.
    const names = upstreamNames(canary);
    const { apex } = serviceNames(requireService(canary, GLOO_PROVIDER));
    const config = await this.#config(canary);
    await applyObject(
      this.client,
      renderUpstream(canary, names.apex, apex, config, !handBack.release, false),
    );
    await applyHandoff(this.client, (owned) => renderHandoffRouteTable(canary, owned), handBack);
  }

  /** The Upstreams the RouteTable weighs. */
  protected override async prepare(canary: RoutableCanary): Promise<void> {
    const config = await this.#config(canary);
    const names = upstreamNames(canary);
    const services = serviceNames(requireService(canary, GLOO_PROVIDER));
    for (const [name, serviceName] of [
      [names.primary, services.primary],
      [names.canary, services.canary],
    ] as const) {
      const ref = this.#ref(canary, UPSTREAM_API_VERSION, UPSTREAM_KIND, name);
      const live = await liveObject<Upstream>(this.client, ref);
      await applyAdopting(this.client, ref, live, canary, (owned) =>
        renderUpstream(canary, name, serviceName, config, owned),
      );
    }
  }

  /** The Upstream spec.upstreamRef names, if any. */
  async #config(canary: RoutableCanary): Promise<Upstream | undefined> {
    const upstreamRef: UpstreamRef | undefined = canary.spec.upstreamRef;
    if (upstreamRef === undefined) return undefined;
    const ref = {
      ...this.#ref(canary, UPSTREAM_API_VERSION, UPSTREAM_KIND, upstreamRef.name),
      namespace: upstreamRef.namespace ?? canary.metadata.namespace,
    };
    const config = await liveObject<Upstream>(this.client, ref);
    if (config === undefined) {
      // Not terminal: the Upstream may be applied just after the Canary.
      throw new Error(`spec.upstreamRef: ${describeRef(ref)} not found: create it or fix the reference`);
    }
    return config;
  }

  #ref(canary: RoutableCanary, apiVersion: string, kind: string, name: string): ObjectRef {
    return { apiVersion, kind, namespace: canary.metadata.namespace, name };
  }
}
