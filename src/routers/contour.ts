import type { ABMatch, HTTPMatchRequest, NormalizedService } from '../api/index.ts';
import type { ObjectRef } from '../kube/client.ts';
import { MANAGE_VERBS } from '../kube/rbac.ts';
import { applyHandoff, type SpecObject } from './adoption.ts';
import type { RouterDeclaration } from './declaration.ts';
import { valueMatch } from './httproute.ts';
import { envoyMetrics } from './metrics.ts';
import { routerObjectMetadata } from './objects.ts';
import {
  RouterConfigError,
  requireService,
  serviceNames,
  type HandBack,
  type RoutableCanary,
  type RouteWeights,
  type ServiceNames,
  type WeightReadback,
} from './router.ts';
import { INITIAL_ROUTES, SingleObjectRouter, apexRef, type ObjectRoutes } from './single-object.ts';

// Contour: an HTTPProxy `<apex>` (projectcontour.io/v1) whose routes weigh the Services
// `<apex>-primary` and `<apex>-canary` (Flagger's contour provider). It has no virtual
// host: the user's root HTTPProxy includes it. Under A/B testing one route per
// analysis.match entry comes first (Contour ANDs the conditions of one route, so each
// entry gets its own, and a request matching any entry reaches the canary), then the
// default route. Mirroring adds the canary as a mirror service of the default route.

export const CONTOUR_PROVIDER = 'contour';
export const CONTOUR_API_VERSION = 'projectcontour.io/v1';
export const HTTPPROXY_KIND = 'HTTPProxy';

/** Apex annotations naming the ingress class, as Contour reads them; the first set one is the class. */
export const INGRESS_CLASS_ANNOTATIONS = ['projectcontour.io/ingress.class', 'kubernetes.io/ingress.class'];

/** retryOn conditions the HTTPProxy CRD accepts. */
const RETRY_ON = new Set([
  '5xx',
  'gateway-error',
  'reset',
  'reset-before-request',
  'connect-failure',
  'envoy-ratelimited',
  'retriable-4xx',
  'refused-stream',
  'retriable-status-codes',
  'retriable-headers',
  'http3-post-connect-failure',
  'cancelled',
  'deadline-exceeded',
  'internal',
  'resource-exhausted',
  'unavailable',
]);

export interface ContourMatchCondition {
  prefix?: string;
  exact?: string;
  regex?: string;
  header?: { name: string; exact?: string; regex?: string };
  queryParameter?: { name: string; exact?: string; prefix?: string; suffix?: string; regex?: string };
}

interface HeadersPolicy {
  set?: { name: string; value: string }[];
  remove?: string[];
}

export interface ContourService {
  name: string;
  port: number;
  weight?: number;
  mirror?: boolean;
  requestHeadersPolicy?: HeadersPolicy;
}

export interface ContourRoute {
  conditions?: ContourMatchCondition[];
  services: ContourService[];
  timeoutPolicy?: { response?: string; idle?: string };
  retryPolicy?: { count?: number; perTryTimeout?: string; retryOn?: string[] };
  requestHeadersPolicy?: HeadersPolicy;
  responseHeadersPolicy?: HeadersPolicy;
}

export interface HTTPProxySpec {
  ingressClassName?: string;
  routes?: ContourRoute[];
}

export interface HTTPProxyStatus {
  currentStatus?: string;
  description?: string;
  conditions?: { type: string; status?: string; observedGeneration?: number; message?: string }[];
}

export type HTTPProxy = SpecObject<HTTPProxySpec> & { status?: HTTPProxyStatus };

export const contourRouter: RouterDeclaration = {
  provider: CONTOUR_PROVIDER,
  providers: [CONTOUR_PROVIDER],
  availability: { state: 'available', create: (deps) => new ContourRouter(deps) },
  objects: '`HTTPProxy <apex>` (`projectcontour.io/v1`), included by your root HTTPProxy',
  features: ['weighted', 'abTesting', 'blueGreen', 'mirroring'],
  serviceFields: ['timeout', 'retries', 'match', 'headers'],
  ignoredServiceFields: [],
  requiredServiceFields: [],
  refs: [],
  alternatives:
    'use spec.analysis.stepWeight, iterations, A/B testing by headers, cookies or query parameters',
  checkExpressible: (spec) => {
    const identity = { name: 'preflight', namespace: 'preflight', uid: 'preflight' };
    renderHTTPProxy({ metadata: identity, spec }, INITIAL_ROUTES, true);
  },
  permissions: [{ apiGroup: 'projectcontour.io', resources: ['httpproxies'], verbs: MANAGE_VERBS }],
  crds: {
    module: 'github.com/projectcontour/contour',
    version: 'v1.33.8',
    paths: ['examples/contour/01-crds.yaml'],
  },
  metrics: envoyMetrics(
    'envoy_cluster_name=~"{{ namespace }}_{{ service }}-canary_[0-9a-zA-Z-]+"',
    "Envoy cluster metrics from Contour's Envoy; Contour names the canary's cluster `<namespace>_<service>-canary_<port>` in its statistics.",
  ),
};

/** Flagger's header for Linkerd behind Contour: the destination Service of each backend. */
function linkerdOverride(canary: RoutableCanary, service: string, port: number): HeadersPolicy {
  const value = `${service}.${canary.metadata.namespace}.svc.cluster.local:${port}`;
  return { set: [{ name: 'l5d-dst-override', value }] };
}

function pathCondition(match: HTTPMatchRequest | undefined): ContourMatchCondition {
  const uri = match?.uri;
  if (uri?.exact !== undefined) return { exact: uri.exact };
  if (uri?.regex !== undefined) return { regex: uri.regex };
  return { prefix: uri?.prefix ?? '/' };
}

function headerConditions(headers: ABMatch['headers'], field: string): ContourMatchCondition[] {
  return Object.entries(headers ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, match]) => {
      const value = valueMatch(name, match, `${field}.${name}`);
      return {
        header: value.type === 'Exact' ? { name, exact: value.value } : { name, regex: value.value },
      };
    });
}

function queryConditions(query: ABMatch['queryParams']): ContourMatchCondition[] {
  return Object.entries(query ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, match]) => ({ queryParameter: { name, ...match } }));
}

const UNSUPPORTED_SERVICE_MATCH = [
  'scheme',
  'method',
  'authority',
  'withoutHeaders',
  'port',
  'sourceLabels',
  'sourceNamespace',
  'gateways',
  'ignoreUriCase',
] as const;

/** The conditions of spec.service.match, which every route carries: at most one entry. */
function serviceConditions(service: NormalizedService): ContourMatchCondition[] {
  const matches = service.match ?? [];
  if (matches.length > 1) {
    throw new RouterConfigError(
      `spec.service.match: provider ${CONTOUR_PROVIDER} routes the Service by one match entry; merge them into one`,
    );
  }
  const [match] = matches;
  for (const key of UNSUPPORTED_SERVICE_MATCH) {
    if (match?.[key] !== undefined) {
      throw new RouterConfigError(
        `spec.service.match[0].${key}: an HTTPProxy route matches on the path, headers and query parameters only; remove ${key}`,
      );
    }
  }
  return [
    pathCondition(match),
    ...headerConditions(match?.headers, 'spec.service.match[0].headers'),
    ...queryConditions(match?.queryParams),
  ];
}

function abConditions(entry: ABMatch, index: number): ContourMatchCondition[] {
  const field = `spec.analysis.match[${index}]`;
  if (entry.sourceLabels !== undefined) {
    throw new RouterConfigError(
      `${field}.sourceLabels: Contour cannot route by source workload; match on headers, cookies or query parameters`,
    );
  }
  const conditions = [
    ...headerConditions(entry.headers, `${field}.headers`),
    ...queryConditions(entry.queryParams),
  ];
  if (conditions.length === 0)
    throw new RouterConfigError(`${field}: give at least one header, cookie or query parameter`);
  return conditions;
}

function headersPolicy(
  operations: { set?: Record<string, string>; add?: Record<string, string>; remove?: string[] } | undefined,
  field: string,
): HeadersPolicy | undefined {
  if (operations === undefined) return undefined;
  if (operations.add !== undefined) {
    throw new RouterConfigError(
      `${field}.add: Contour's header policies set and remove headers, they cannot append: use ${field}.set`,
    );
  }
  const policy: HeadersPolicy = {};
  const set = Object.entries(operations.set ?? {}).map(([name, value]) => ({ name, value }));
  if (set.length > 0) policy.set = set;
  if (operations.remove !== undefined && operations.remove.length > 0) policy.remove = [...operations.remove];
  return policy;
}

/** timeout, retries and headers of spec.service, on every route. */
function routePolicies(service: NormalizedService): Omit<ContourRoute, 'services' | 'conditions'> {
  const policies: Omit<ContourRoute, 'services' | 'conditions'> = {};
  // Flagger's idle timeout alongside the response timeout.
  if (service.timeout !== undefined) policies.timeoutPolicy = { response: service.timeout, idle: '5m' };
  const retries = service.retries;
  if (retries !== undefined) {
    const retryPolicy: NonNullable<ContourRoute['retryPolicy']> = {};
    if (retries.attempts !== undefined) retryPolicy.count = retries.attempts;
    if (retries.perTryTimeout !== undefined) retryPolicy.perTryTimeout = retries.perTryTimeout;
    if (retries.retryOn !== undefined) {
      const retryOn = retries.retryOn.split(',').map((s) => s.trim());
      const unknown = retryOn.filter((condition) => !RETRY_ON.has(condition));
      if (unknown.length > 0) {
        throw new RouterConfigError(
          `spec.service.retries.retryOn: Contour does not retry on ${unknown.join(', ')}; use any of ${[...RETRY_ON].join(', ')}`,
        );
      }
      retryPolicy.retryOn = retryOn;
    }
    policies.retryPolicy = retryPolicy;
  }
  const request = headersPolicy(service.headers?.request, 'spec.service.headers.request');
  if (request !== undefined) policies.requestHeadersPolicy = request;
  const response = headersPolicy(service.headers?.response, 'spec.service.headers.response');
  if (response !== undefined) policies.responseHeadersPolicy = response;
  return policies;
}

function backends(
  canary: RoutableCanary,
  names: ServiceNames,
  port: number,
  weights: Pick<RouteWeights, 'primaryWeight' | 'canaryWeight'>,
): ContourService[] {
  return [
    {
      name: names.primary,
      port,
      weight: weights.primaryWeight,
      requestHeadersPolicy: linkerdOverride(canary, names.primary, port),
    },
    {
      name: names.canary,
      port,
      weight: weights.canaryWeight,
      requestHeadersPolicy: linkerdOverride(canary, names.canary, port),
    },
  ];
}

/** The class named by the apex annotations Contour reads, if any. */
export function ingressClassOf(service: NormalizedService): string | undefined {
  const annotations = service.apex?.annotations ?? {};
  return INGRESS_CLASS_ANNOTATIONS.map((key) => annotations[key]).find((value) => value !== undefined);
}

/** The HTTPProxy `<apex>` routing as asked. */
export function renderHTTPProxy(canary: RoutableCanary, routes: ObjectRoutes, owned: boolean): HTTPProxy {
  const service = requireService(canary, CONTOUR_PROVIDER);
  const names = serviceNames(service);
  const port = service.port;
  const base = serviceConditions(service);
  const policies = routePolicies(service);
  const matches = canary.spec.analysis.match ?? [];
  if (routes.mirror && (routes.canaryWeight !== 0 || matches.length > 0)) {
    throw new RouterConfigError(
      `provider ${CONTOUR_PROVIDER} mirrors only while the primary takes all traffic: ` +
        'use analysis.mirror with iterations (blue/green), without stepWeight or match',
    );
  }
  const abRoutes: ContourRoute[] = matches.map((entry, i) => ({
    conditions: [...base, ...abConditions(entry, i)],
    ...policies,
    services: backends(canary, names, port, routes),
  }));
  // Outside A/B testing the default route carries the split; under it, everyone else stays on the primary.
  const split = matches.length > 0 ? INITIAL_ROUTES : routes;
  const services = backends(canary, names, port, split);
  if (routes.mirror) {
    const mirror: ContourService = { name: names.canary, port, mirror: true };
    const percent = canary.spec.analysis.mirrorWeight;
    if (percent !== undefined) mirror.weight = percent;
    services.splice(1, 1, mirror);
  }
  return httpProxy(canary, [...abRoutes, { conditions: base, ...policies, services }], owned, true);
}

/** The HTTPProxy `<apex>` with `routes`; `managed`: with Flux's opt-out marks. */
function httpProxy(
  canary: RoutableCanary,
  routes: ContourRoute[],
  owned: boolean,
  managed: boolean,
): HTTPProxy {
  const service = requireService(canary, CONTOUR_PROVIDER);
  const spec: HTTPProxySpec = { routes };
  const ingressClass = ingressClassOf(service);
  if (ingressClass !== undefined) spec.ingressClassName = ingressClass;
  return {
    apiVersion: CONTOUR_API_VERSION,
    kind: HTTPPROXY_KIND,
    metadata: routerObjectMetadata(canary, service.name, service.apex, owned, managed),
    spec,
  };
}

/** What a deleted Canary hands back: everything to the apex Service, without Flux's opt-out marks. */
export function renderHandoffHTTPProxy(canary: RoutableCanary, owned: boolean): HTTPProxy {
  const service = requireService(canary, CONTOUR_PROVIDER);
  const route: ContourRoute = {
    conditions: serviceConditions(service),
    ...routePolicies(service),
    services: [{ name: service.name, port: service.port, weight: 100 }],
  };
  return httpProxy(canary, [route], owned, false);
}

/** The status the HTTPProxy CRD gives an object until a Contour reports on it. */
const NOT_RECONCILED = 'NotReconciled';

/**
 * The routing an HTTPProxy carries, as percentages (Contour weights are relative). The
 * first route decides: under A/B testing that is the route of the matching requests.
 */
export function readHTTPProxy(live: HTTPProxy, names: ServiceNames): WeightReadback {
  const where = `${HTTPPROXY_KIND} ${live.metadata.namespace ?? ''}/${live.metadata.name ?? ''}`;
  const [first] = live.spec.routes ?? [];
  const weighted = (first?.services ?? []).filter((s) => s.mirror !== true);
  const weightOf = (name: string) => weighted.find((s) => s.name === name)?.weight;
  const primary = weightOf(names.primary);
  if (primary === undefined) return { ok: false, reason: `${where} does not weigh service ${names.primary}` };
  // A mirrored canary is not weighed: it gets a copy of the primary's requests.
  const canaryWeight = weightOf(names.canary) ?? 0;
  if (primary + canaryWeight === 0) {
    return { ok: false, reason: `${where} gives both ${names.primary} and ${names.canary} weight 0` };
  }
  const percent = Math.round((100 * canaryWeight) / (primary + canaryWeight));
  const mirrored = (live.spec.routes ?? []).some((route) =>
    route.services.some((s) => s.name === names.canary && s.mirror === true),
  );
  return { ok: true, weights: { primaryWeight: 100 - percent, canaryWeight: percent, mirrored } };
}

/**
 * Whether Contour serves the current generation, where it reports: `valid` on the current
 * generation is served; `orphaned` (no root HTTPProxy includes it) and `invalid` are not.
 * `NotReconciled` (the CRD's default status) or none: no Contour has looked at it (none
 * runs, or it serves another class), so it is taken as written.
 */
export function httpProxyAcceptance(
  proxy: HTTPProxy,
): { accepted: true } | { accepted: false; reason: string } {
  const where = `${HTTPPROXY_KIND} ${proxy.metadata.namespace ?? ''}/${proxy.metadata.name ?? ''}`;
  const status = proxy.status;
  if (status?.currentStatus === undefined || status.currentStatus === NOT_RECONCILED)
    return { accepted: true };
  const observed = status.conditions?.find((c) => c.type === 'Valid')?.observedGeneration;
  if (observed !== undefined && observed !== proxy.metadata.generation) {
    return {
      accepted: false,
      reason: `Contour last reported on generation ${observed} of ${where}, which is at ${proxy.metadata.generation}`,
    };
  }
  const detail = status.description === undefined ? '' : `: ${status.description}`;
  if (status.currentStatus === 'orphaned') {
    return {
      accepted: false,
      reason: `${where} is orphaned${detail}: include it from your root HTTPProxy (spec.includes)`,
    };
  }
  if (status.currentStatus !== 'valid')
    return { accepted: false, reason: `Contour reports ${where} ${status.currentStatus}${detail}` };
  return { accepted: true };
}

export class ContourRouter extends SingleObjectRouter<HTTPProxy> {
  readonly provider = CONTOUR_PROVIDER;

  protected ref(canary: RoutableCanary): ObjectRef {
    return apexRef(canary, CONTOUR_PROVIDER, CONTOUR_API_VERSION, HTTPPROXY_KIND);
  }

  protected renderer(canary: RoutableCanary, routes: ObjectRoutes) {
    return (owned: boolean) => renderHTTPProxy(canary, routes, owned);
  }

  protected read(live: HTTPProxy, canary: RoutableCanary): WeightReadback {
    return readHTTPProxy(live, serviceNames(requireService(canary, CONTOUR_PROVIDER)));
  }

  protected override notServed(live: HTTPProxy): string | undefined {
    const acceptance = httpProxyAcceptance(live);
    return acceptance.accepted ? undefined : acceptance.reason;
  }

  // renderHTTPProxy refuses the mirroring Contour cannot make.
  protected override mirrorRefusal(): undefined {
    return undefined;
  }

  protected async handOff(canary: RoutableCanary, _live: HTTPProxy, handBack: HandBack): Promise<void> {
    await applyHandoff(this.client, (owned) => renderHandoffHTTPProxy(canary, owned), handBack);
  }
}
