import type { ABMatch, HTTPMatchRequest, NormalizedService } from '../api/index.ts';
// A leaf module of src/api: the API schema imports the router registry, so routers must not load it.
import { parseGoDuration } from '../api/duration.ts';
import {
  cookieMatch,
  escapeRegex,
  primaryCookieMaxAge,
  setCookieValue,
  type RouteState,
} from './httproute.ts';
import { routerObjectMetadata, type ObjectMeta } from './objects.ts';
import {
  RouterConfigError,
  requireService,
  serviceNames,
  type RoutableCanary,
  type RouteWeights,
  type ServiceNames,
  type SessionCookies,
} from './router.ts';

// Pure rendering and reading of Istio's VirtualService <apex> and DestinationRules
// <apex>-primary and <apex>-canary (networking.istio.io/v1). Fledge's block of
// spec.http, where S is spec.service.match (default: every request) and R the route
// settings from spec.service (rewrite, timeout, retries, corsPolicy, headers):
//
//   sticky      session affinity: requests carrying the canary (primary) cookie go to
//               the canary (primary); an earlier run's canary cookie goes to the primary
//               and is expired.
//   weighted    matches S (merged with analysis.match for A/B), R, destinations primary
//               and canary with the weights (+ mirror to the canary); with session
//               affinity the canary (and primary) destination adds a Set-Cookie.
//   default     A/B only: matches S, everything to the primary.
//
// Istio takes the first route that matches, so the sticky routes come first. With
// appProtocol tcp the block is one spec.tcp route instead. The weighted route is the
// only one naming both Services, which is how weights, mirroring and cookies are read
// back. Routes of an adopted VirtualService that name none of the three Services are
// the owner's: they are kept, and Fledge's block takes the place of the first route
// that sent traffic to the apex.

export const ISTIO_GROUP = 'networking.istio.io';
export const ISTIO_API_VERSION = `${ISTIO_GROUP}/v1`;
export const VIRTUAL_SERVICE_KIND = 'VirtualService';
export const DESTINATION_RULE_KIND = 'DestinationRule';
const MESH_GATEWAY = 'mesh';
// Istio matches header names in lower case only.
const COOKIE_HEADER = 'cookie';
const SET_COOKIE_HEADER = 'Set-Cookie';

export interface IstioStringMatch {
  exact?: string;
  prefix?: string;
  regex?: string;
}

export interface IstioMatch {
  name?: string;
  uri?: IstioStringMatch;
  scheme?: IstioStringMatch;
  method?: IstioStringMatch;
  authority?: IstioStringMatch;
  headers?: Record<string, IstioStringMatch>;
  withoutHeaders?: Record<string, IstioStringMatch>;
  queryParams?: Record<string, IstioStringMatch>;
  port?: number;
  sourceLabels?: Record<string, string>;
  sourceNamespace?: string;
  gateways?: string[];
  ignoreUriCase?: boolean;
}

export interface HeaderOperations {
  set?: Record<string, string>;
  add?: Record<string, string>;
  remove?: string[];
}

export interface IstioHeaders {
  request?: HeaderOperations;
  response?: HeaderOperations;
}

export interface Destination {
  host: string;
  subset?: string;
  port?: { number: number };
}

export interface RouteDestination {
  destination: Destination;
  weight?: number;
  headers?: IstioHeaders;
}

export interface IstioCorsPolicy {
  allowOrigins?: IstioStringMatch[];
  allowMethods?: string[];
  allowHeaders?: string[];
  exposeHeaders?: string[];
  maxAge?: string;
  allowCredentials?: boolean;
}

export interface IstioHTTPRoute {
  name?: string;
  match?: IstioMatch[];
  route?: RouteDestination[];
  delegate?: { name?: string; namespace?: string };
  rewrite?: { uri?: string; authority?: string };
  timeout?: string;
  retries?: { attempts?: number; perTryTimeout?: string; retryOn?: string };
  corsPolicy?: IstioCorsPolicy;
  headers?: IstioHeaders;
  mirror?: Destination;
  mirrorPercentage?: { value: number };
}

export interface IstioTCPRoute {
  match?: { port?: number; [other: string]: unknown }[];
  route?: RouteDestination[];
}

export interface VirtualService {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec: {
    hosts?: string[];
    gateways?: string[];
    http?: IstioHTTPRoute[];
    tcp?: IstioTCPRoute[];
    [other: string]: unknown;
  };
  status?: {
    observedGeneration?: number | string;
    validationMessages?: { level?: string; type?: { code?: string }; description?: string }[];
  };
}

export interface DestinationRule {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec: { host: string; trafficPolicy?: unknown; [other: string]: unknown };
}

// ------------------------------------------------------------------ checks

/** Whether the Canary routes TCP (Flagger: appProtocol tcp). */
export function isTcp(service: NormalizedService): boolean {
  return service.appProtocol?.toLowerCase() === 'tcp';
}

const HTTP_ONLY_SERVICE_FIELDS = ['timeout', 'retries', 'rewrite', 'headers', 'corsPolicy'] as const;

/** What a VirtualService cannot carry as the spec asks; throws a RouterConfigError naming the field. */
export function checkIstioSpec(canary: RoutableCanary): void {
  const service = requireService(canary, 'istio');
  const { analysis } = canary.spec;
  if (service.delegation === true && (service.hosts?.length || service.gateways?.length)) {
    throw new RouterConfigError(
      'spec.service.delegation: a delegate VirtualService has no hosts or gateways (the root VirtualService ' +
        'names them); remove spec.service.hosts and spec.service.gateways, or delegation',
    );
  }
  if (service.rewrite?.type === 'ReplaceFullPath') {
    throw new RouterConfigError(
      'spec.service.rewrite.type ReplaceFullPath: Istio rewrite.uri replaces the matched prefix; ' +
        'remove rewrite.type or set it to ReplacePrefixMatch',
    );
  }
  if (!isTcp(service)) return;
  const where = 'with spec.service.appProtocol tcp the VirtualService routes TCP, which has no';
  const httpOnly = HTTP_ONLY_SERVICE_FIELDS.filter((key) => service[key] !== undefined);
  if (httpOnly.length > 0)
    throw new RouterConfigError(
      `spec.service.${httpOnly.join(', ')}: ${where} such settings; remove ${httpOnly.length === 1 ? 'it' : 'them'}`,
    );
  (service.match ?? []).forEach((match, i) => {
    const other = Object.keys(match).filter((key) => key !== 'port' && key !== 'name');
    if (other.length > 0)
      throw new RouterConfigError(
        `spec.service.match[${i}].${other.join(', ')}: ${where} request matches; match on port only`,
      );
  });
  if (analysis.match !== undefined && analysis.match.length > 0)
    throw new RouterConfigError(`spec.analysis.match: ${where} request matches for A/B testing`);
  if (analysis.mirror) throw new RouterConfigError(`spec.analysis.mirror: ${where} mirroring`);
  if (analysis.sessionAffinity !== undefined)
    throw new RouterConfigError(`spec.analysis.sessionAffinity: ${where} cookies`);
}

// ------------------------------------------------------------------ conversions

/** A Go duration in protobuf's JSON form (seconds, `1.5s`), which istiod parses. */
export function istioDuration(text: string, field: string): string {
  const ms = parseGoDuration(text, field);
  if (ms < 1) throw new RouterConfigError(`${field}: Istio needs at least 1ms, got "${text}"`);
  return `${Number((ms / 1000).toFixed(9))}s`;
}

/** Header matches: suffix (Flagger's extension) becomes an anchored regex; Istio needs lower-case names. */
function stringMatches(
  entries: Record<string, IstioStringMatch & { suffix?: string }> | undefined,
  lowerCase: boolean,
): Record<string, IstioStringMatch> | undefined {
  if (entries === undefined) return undefined;
  return Object.fromEntries(
    Object.entries(entries).map(([name, match]) => {
      const key = lowerCase ? name.toLowerCase() : name;
      if (match.suffix !== undefined) return [key, { regex: `.*${escapeRegex(match.suffix)}` }];
      return [key, structuredClone(match)];
    }),
  );
}

/** spec.service.match as Istio's HTTPMatchRequest (the schema already is Istio's). */
function serviceMatch(request: HTTPMatchRequest): IstioMatch {
  const match = structuredClone(request) as IstioMatch;
  const headers = stringMatches(request.headers, true);
  if (headers !== undefined) match.headers = headers;
  const without = stringMatches(request.withoutHeaders, true);
  if (without !== undefined) match.withoutHeaders = without;
  return match;
}

function abMatch(entry: ABMatch): IstioMatch {
  const match: IstioMatch = {};
  const headers = stringMatches(entry.headers, true);
  if (headers !== undefined) match.headers = headers;
  const queryParams = stringMatches(entry.queryParams, false);
  if (queryParams !== undefined) match.queryParams = queryParams;
  if (entry.sourceLabels !== undefined) match.sourceLabels = { ...entry.sourceLabels };
  return match;
}

/**
 * Every combination of an extra condition with a base match: the request must satisfy
 * both; the extra condition wins on the same header, query parameter or source labels.
 */
export function mergeIstioMatches(extra: readonly IstioMatch[], base: readonly IstioMatch[]): IstioMatch[] {
  if (base.length === 0) return structuredClone([...extra]);
  return extra.flatMap((condition) =>
    base.map((match) => {
      const merged = structuredClone(match);
      if (condition.headers !== undefined) merged.headers = { ...match.headers, ...condition.headers };
      if (condition.queryParams !== undefined)
        merged.queryParams = { ...match.queryParams, ...condition.queryParams };
      if (condition.sourceLabels !== undefined) merged.sourceLabels = { ...condition.sourceLabels };
      return merged;
    }),
  );
}

function istioCookieMatch(cookie: string): IstioMatch {
  const pattern = cookieMatch(cookie).headers?.[0]?.value as string;
  return { headers: { [COOKIE_HEADER]: { regex: pattern } } };
}

function corsPolicy(service: NormalizedService): IstioCorsPolicy | undefined {
  const cors = service.corsPolicy;
  if (cors === undefined) return undefined;
  const policy: IstioCorsPolicy = {};
  // allowOrigin (before Istio 1.5) is exact origins; Istio ignores it today.
  const origins = [
    ...(cors.allowOrigin ?? []).map((exact) => ({ exact })),
    ...structuredClone(cors.allowOrigins ?? []),
  ];
  if (origins.length > 0) policy.allowOrigins = origins;
  if (cors.allowMethods !== undefined) policy.allowMethods = [...cors.allowMethods];
  if (cors.allowHeaders !== undefined) policy.allowHeaders = [...cors.allowHeaders];
  if (cors.exposeHeaders !== undefined) policy.exposeHeaders = [...cors.exposeHeaders];
  if (cors.maxAge !== undefined) policy.maxAge = istioDuration(cors.maxAge, 'spec.service.corsPolicy.maxAge');
  if (cors.allowCredentials !== undefined) policy.allowCredentials = cors.allowCredentials;
  return policy;
}

/** The settings every route of Fledge's block carries. */
function routeSettings(service: NormalizedService): Omit<IstioHTTPRoute, 'match' | 'route'> {
  const settings: Omit<IstioHTTPRoute, 'match' | 'route'> = {};
  const { rewrite } = service;
  if (rewrite !== undefined && (rewrite.uri !== undefined || rewrite.authority !== undefined)) {
    settings.rewrite = {};
    if (rewrite.uri !== undefined) settings.rewrite.uri = rewrite.uri;
    if (rewrite.authority !== undefined) settings.rewrite.authority = rewrite.authority;
  }
  if (service.timeout !== undefined)
    settings.timeout = istioDuration(service.timeout, 'spec.service.timeout');
  if (service.retries !== undefined) {
    const { attempts, perTryTimeout, retryOn } = service.retries;
    settings.retries = {};
    if (attempts !== undefined) settings.retries.attempts = attempts;
    if (perTryTimeout !== undefined)
      settings.retries.perTryTimeout = istioDuration(perTryTimeout, 'spec.service.retries.perTryTimeout');
    if (retryOn !== undefined) settings.retries.retryOn = retryOn;
  }
  const cors = corsPolicy(service);
  if (cors !== undefined) settings.corsPolicy = cors;
  if (service.headers !== undefined) settings.headers = structuredClone(service.headers);
  return settings;
}

// ------------------------------------------------------------------ render

/**
 * A destination: with portDiscovery the Services expose several ports, so a route from a
 * gateway (or a delegate) names the main one, as Flagger does; inside the mesh each port
 * keeps going to itself.
 */
function destination(service: NormalizedService, host: string): Destination {
  const gateways = service.gateways ?? [];
  const fromGateway = gateways.some((g) => g !== MESH_GATEWAY) || service.delegation === true;
  return service.portDiscovery === true && fromGateway ? { host, port: { number: service.port } } : { host };
}

function setCookie(value: string): IstioHeaders {
  return { response: { add: { [SET_COOKIE_HEADER]: value } } };
}

/** Fledge's block of spec.http (or spec.tcp) for `state`. */
export function renderFledgeRoutes(
  canary: RoutableCanary,
  state: RouteState,
): { http: IstioHTTPRoute[]; tcp: IstioTCPRoute[] } {
  const service = requireService(canary, 'istio');
  checkIstioSpec(canary);
  const names = serviceNames(service);
  const to = (host: string, weight?: number, headers?: IstioHeaders): RouteDestination => ({
    destination: destination(service, host),
    ...(weight === undefined ? {} : { weight }),
    ...(headers === undefined ? {} : { headers }),
  });
  if (isTcp(service)) {
    const ports = (service.match ?? []).filter((m) => m.port !== undefined).map((m) => ({ port: m.port }));
    const route: IstioTCPRoute = {
      route: [to(names.primary, state.primaryWeight), to(names.canary, state.canaryWeight)],
    };
    if (ports.length > 0) route.match = ports;
    return { http: [], tcp: [route] };
  }
  const { analysis } = canary.spec;
  const affinity = analysis.sessionAffinity;
  const { cookies } = state;
  const base = (service.match ?? []).map(serviceMatch);
  const settings = routeSettings(service);
  const httpRoute = (name: string, match: IstioMatch[], route: RouteDestination[]): IstioHTTPRoute => ({
    name,
    ...(match.length > 0 ? { match } : {}),
    ...structuredClone(settings),
    route,
  });
  const cookieHeaders = (cookie: string | null, side: 'primary' | 'canary'): IstioHeaders | undefined => {
    if (affinity === undefined || cookie === null) return undefined;
    const maxAge = side === 'primary' ? primaryCookieMaxAge(analysis.interval) : affinity.maxAge;
    return setCookie(setCookieValue(cookie, affinity, maxAge));
  };

  const http: IstioHTTPRoute[] = [];
  if (affinity !== undefined) {
    if (cookies.sessionAffinityCookie !== null) {
      const match = mergeIstioMatches([istioCookieMatch(cookies.sessionAffinityCookie)], base);
      http.push(httpRoute('fledge-sticky-canary', match, [to(names.canary)]));
    }
    if (cookies.primarySessionAffinityCookie !== null) {
      const match = mergeIstioMatches([istioCookieMatch(cookies.primarySessionAffinityCookie)], base);
      http.push(httpRoute('fledge-sticky-primary', match, [to(names.primary)]));
    }
    const previous = cookies.previousSessionAffinityCookie;
    if (previous !== null) {
      const match = mergeIstioMatches([istioCookieMatch(previous)], base);
      const expire = setCookie(setCookieValue(previous, affinity, 0));
      http.push(httpRoute('fledge-expire-cookie', match, [to(names.primary, undefined, expire)]));
    }
  }
  const abTesting = analysis.match !== undefined && analysis.match.length > 0;
  const weighted = httpRoute(
    'fledge-weighted',
    abTesting ? mergeIstioMatches((analysis.match ?? []).map(abMatch), base) : base,
    [
      to(names.primary, state.primaryWeight, cookieHeaders(cookies.primarySessionAffinityCookie, 'primary')),
      to(names.canary, state.canaryWeight, cookieHeaders(cookies.sessionAffinityCookie, 'canary')),
    ],
  );
  if (state.mirror) {
    weighted.mirror = destination(service, names.canary);
    if (analysis.mirrorWeight !== undefined) weighted.mirrorPercentage = { value: analysis.mirrorWeight };
  }
  http.push(weighted);
  if (abTesting) http.push(httpRoute('fledge-default', base, [to(names.primary, 100)]));
  return { http, tcp: [] };
}

/** Hosts: spec.service.hosts plus the apex (unless `*` covers it); none for a delegate. */
function hostsAndGateways(service: NormalizedService): Pick<VirtualService['spec'], 'hosts' | 'gateways'> {
  if (service.delegation === true) return {};
  const { apex } = serviceNames(service);
  const hosts = [...(service.hosts ?? [])];
  if (!hosts.includes(apex) && !hosts.includes('*')) hosts.push(apex);
  const gateways =
    service.gateways !== undefined && service.gateways.length > 0 ? service.gateways : [MESH_GATEWAY];
  return { hosts, gateways: [...gateways] };
}

function namesHost(host: string, names: ServiceNames, namespace: string): keyof ServiceNames | undefined {
  for (const key of ['apex', 'primary', 'canary'] as const) {
    const name = names[key];
    if (host === name || host === `${name}.${namespace}` || host.startsWith(`${name}.${namespace}.svc`))
      return key;
  }
  return undefined;
}

function touches(route: { route?: RouteDestination[] }, names: ServiceNames, namespace: string): boolean {
  return (route.route ?? []).some((d) => namesHost(d.destination.host, names, namespace) !== undefined);
}

/** `live` routes naming none of the Services kept, with `fledge` taking the place of the first that does. */
function spliceRoutes<T extends { route?: RouteDestination[] }>(
  live: readonly T[] | undefined,
  fledge: T[],
  names: ServiceNames,
  namespace: string,
): T[] {
  const routes = live ?? [];
  const at = routes.findIndex((r) => touches(r, names, namespace));
  const foreign = (list: readonly T[]) => structuredClone(list.filter((r) => !touches(r, names, namespace)));
  if (at < 0) return [...foreign(routes), ...fledge];
  return [...foreign(routes.slice(0, at)), ...fledge, ...foreign(routes.slice(at))];
}

/**
 * The VirtualService `<apex>` routing the canary as `state` says. `live` is the object as
 * it is now: the owner's own routes in it are kept. `owned` ones carry an owner reference.
 */
export function renderVirtualService(
  canary: RoutableCanary,
  state: RouteState,
  owned: boolean,
  live?: VirtualService,
): VirtualService {
  const service = requireService(canary, 'istio');
  const names = serviceNames(service);
  const { namespace } = canary.metadata;
  const fledge = renderFledgeRoutes(canary, state);
  const spec: VirtualService['spec'] = { ...hostsAndGateways(service) };
  const http = spliceRoutes(live?.spec.http, fledge.http, names, namespace);
  if (http.length > 0) spec.http = http;
  const tcp = spliceRoutes(live?.spec.tcp, fledge.tcp, names, namespace);
  if (tcp.length > 0) spec.tcp = tcp;
  return {
    apiVersion: ISTIO_API_VERSION,
    kind: VIRTUAL_SERVICE_KIND,
    metadata: routerObjectMetadata(canary, names.apex, service.apex, owned, true),
    spec,
  };
}

/**
 * The VirtualService a deleted Canary hands back: everything to the apex Service (which
 * then selects the target's pods), without Flux's opt-out marks. `owned: false` releases
 * it from the Canary (revertOnDeletion); an owned one goes with it.
 */
export function renderHandoffVirtualService(canary: RoutableCanary, owned: boolean): VirtualService {
  // No checks: the handoff writes none of the refused settings, and it must not block a deletion.
  const service = requireService(canary, 'istio');
  const { apex } = serviceNames(service);
  const spec: VirtualService['spec'] = { ...hostsAndGateways(service) };
  const to = [{ destination: destination(service, apex) }];
  if (isTcp(service)) spec.tcp = [{ route: to }];
  else spec.http = [{ name: 'fledge-handoff', route: to }];
  return {
    apiVersion: ISTIO_API_VERSION,
    kind: VIRTUAL_SERVICE_KIND,
    metadata: routerObjectMetadata(canary, apex, service.apex, owned, false),
    spec,
  };
}

/** DestinationRule `<host>` with spec.service.trafficPolicy. */
export function renderDestinationRule(
  canary: RoutableCanary,
  host: string,
  owned: boolean,
  managed = true,
): DestinationRule {
  const service = requireService(canary, 'istio');
  const spec: DestinationRule['spec'] = { host };
  if (service.trafficPolicy !== undefined) spec.trafficPolicy = structuredClone(service.trafficPolicy);
  return {
    apiVersion: ISTIO_API_VERSION,
    kind: DESTINATION_RULE_KIND,
    metadata: routerObjectMetadata(canary, host, undefined, owned, managed),
    spec,
  };
}

// ------------------------------------------------------------------ read back

function setCookieOf(headers: IstioHeaders | undefined): { cookie: string; maxAge?: number } | undefined {
  const entry = Object.entries(headers?.response?.add ?? {}).find(
    ([name]) => name.toLowerCase() === 'set-cookie',
  );
  if (entry === undefined) return undefined;
  const [cookie = '', ...attributes] = entry[1].split(';').map((part) => part.trim());
  const maxAge = attributes.find((a) => a.toLowerCase().startsWith('max-age='))?.slice('max-age='.length);
  return maxAge === undefined ? { cookie } : { cookie, maxAge: Number(maxAge) };
}

export type VirtualServiceReadback =
  { ok: true; weights: RouteWeights; cookies: SessionCookies } | { ok: false; reason: string };

/** Weights, mirroring and session cookies as the VirtualService carries them. */
export function readVirtualService(
  vs: VirtualService,
  names: ServiceNames,
  tcp: boolean,
): VirtualServiceReadback {
  const namespace = vs.metadata.namespace ?? '';
  const where = `VirtualService ${namespace}/${vs.metadata.name}`;
  const routes: { route?: RouteDestination[] }[] = (tcp ? vs.spec.tcp : vs.spec.http) ?? [];
  const side = (d: RouteDestination) => namesHost(d.destination.host, names, namespace);
  const both = routes.filter(
    (r) =>
      (r.route ?? []).some((d) => side(d) === 'primary') && (r.route ?? []).some((d) => side(d) === 'canary'),
  );
  if (both.length !== 1) {
    return {
      ok: false,
      reason: `${where} has ${both.length} ${tcp ? 'tcp' : 'http'} routes sending traffic to both ${names.primary} and ${names.canary}; expected exactly 1`,
    };
  }
  const weighted = both[0] as IstioHTTPRoute;
  const destinations = weighted.route ?? [];
  const primary = destinations.find((d) => side(d) === 'primary') as RouteDestination;
  const canary = destinations.find((d) => side(d) === 'canary') as RouteDestination;
  const total = (primary.weight ?? 0) + (canary.weight ?? 0);
  if (total === 0)
    return { ok: false, reason: `${where} gives both ${names.primary} and ${names.canary} weight 0` };
  const canaryWeight = Math.round((100 * (canary.weight ?? 0)) / total);
  const mirrored =
    weighted.mirror !== undefined && namesHost(weighted.mirror.host, names, namespace) === 'canary';
  const previous = (vs.spec.http ?? [])
    .filter((r) => r !== weighted)
    .flatMap((r) => (r.route ?? []).map((d) => setCookieOf(d.headers)))
    .find((set) => set !== undefined && set.maxAge !== undefined && set.maxAge <= 0);
  return {
    ok: true,
    weights: { primaryWeight: 100 - canaryWeight, canaryWeight, mirrored },
    cookies: {
      sessionAffinityCookie: setCookieOf(canary.headers)?.cookie ?? null,
      primarySessionAffinityCookie: setCookieOf(primary.headers)?.cookie ?? null,
      previousSessionAffinityCookie: previous?.cookie ?? null,
    },
  };
}

/**
 * Whether istiod has taken the current generation, where it reports (status is written
 * only when istiod's status reporting is on): a lagging observedGeneration or an
 * Error validation message means not yet.
 */
export function virtualServiceAcceptance(
  vs: VirtualService,
): { accepted: true } | { accepted: false; reason: string } {
  const where = `VirtualService ${vs.metadata.namespace}/${vs.metadata.name}`;
  const errors = (vs.status?.validationMessages ?? []).filter((m) => m.level?.toUpperCase() === 'ERROR');
  if (errors.length > 0) {
    const text = errors.map((m) => `${m.type?.code ?? 'error'}: ${m.description ?? ''}`.trim()).join('; ');
    return { accepted: false, reason: `istiod reports errors on ${where}: ${text}` };
  }
  const observed = vs.status?.observedGeneration;
  if (observed !== undefined && Number(observed) !== vs.metadata.generation) {
    return {
      accepted: false,
      reason: `istiod last reported on generation ${observed} of ${where}, which is at ${vs.metadata.generation}`,
    };
  }
  return { accepted: true };
}
