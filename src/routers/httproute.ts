import type {
  ABMatch,
  HTTPMatchRequest,
  NormalizedService,
  NormalizedSessionAffinity,
  StringMatch,
} from '../api/index.ts';
// A leaf module of src/api: the API schema imports the router registry, so routers must not load it.
import { parseGoDuration } from '../api/duration.ts';
import { routerObjectMetadata, type ObjectMeta } from './objects.ts';
import {
  NO_SESSION_COOKIES,
  RouterConfigError,
  requireService,
  serviceNames,
  type DesiredRoutes,
  type RoutableCanary,
  type RouteWeights,
  type ServiceNames,
  type SessionCookies,
} from './router.ts';

// Pure rendering and reading of the Gateway API HTTPRoute (gateway.networking.k8s.io/v1,
// standard channel) that routes a canary. Layout of spec.rules, where S is
// spec.service.match (default: every path) and F the rule filters from spec.service:
//
//   weighted    matches S (merged with analysis.match for A/B), filters F (+ RequestMirror
//               to the canary when mirroring), backendRefs primary/canary with the weights;
//               with session affinity, the canary (and primary) backend adds a Set-Cookie.
//   default     A/B only: matches S, everything to the primary.
//   sticky      session affinity: requests carrying the canary (primary) cookie go to the
//               canary (primary); an earlier run's canary cookie goes to the primary and
//               is expired.
//
// The weighted rule is the only one naming both Services, which is how weights,
// mirroring and cookies are read back. Gateway API ranks rules by match specificity,
// so the extra header matches of the A/B and sticky rules win over the weighted rule.

export const GATEWAY_API_GROUP = 'gateway.networking.k8s.io';
export const HTTPROUTE_API_VERSION = `${GATEWAY_API_GROUP}/v1`;
export const HTTPROUTE_KIND = 'HTTPRoute';

export interface ParentReference {
  group?: string;
  kind?: string;
  namespace?: string;
  name: string;
  sectionName?: string;
  port?: number;
}

export interface BackendObjectReference {
  group?: string;
  kind?: string;
  name: string;
  namespace?: string;
  port?: number;
}

export interface HTTPHeader {
  name: string;
  value: string;
}

export interface HTTPHeaderFilter {
  set?: HTTPHeader[];
  add?: HTTPHeader[];
  remove?: string[];
}

export interface HTTPRouteFilter {
  type: 'RequestHeaderModifier' | 'ResponseHeaderModifier' | 'RequestMirror' | 'URLRewrite' | (string & {});
  requestHeaderModifier?: HTTPHeaderFilter;
  responseHeaderModifier?: HTTPHeaderFilter;
  requestMirror?: {
    backendRef: BackendObjectReference;
    percent?: number;
    fraction?: { numerator: number; denominator?: number };
  };
  urlRewrite?: {
    hostname?: string;
    path?: { type: string; replaceFullPath?: string; replacePrefixMatch?: string };
  };
}

export interface HTTPBackendRef extends BackendObjectReference {
  weight?: number;
  filters?: HTTPRouteFilter[];
}

export interface HTTPValueMatch {
  type?: 'Exact' | 'RegularExpression';
  name: string;
  value: string;
}

export interface HTTPRouteMatch {
  path?: { type?: 'Exact' | 'PathPrefix' | 'RegularExpression'; value?: string };
  headers?: HTTPValueMatch[];
  queryParams?: HTTPValueMatch[];
  method?: string;
}

export interface HTTPRouteRule {
  matches?: HTTPRouteMatch[];
  filters?: HTTPRouteFilter[];
  backendRefs?: HTTPBackendRef[];
  timeouts?: { request?: string; backendRequest?: string };
}

export interface RouteCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  observedGeneration?: number;
  lastTransitionTime: string;
}

export interface RouteParentStatus {
  parentRef: ParentReference;
  controllerName: string;
  conditions: RouteCondition[];
}

export interface HTTPRoute {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec: { parentRefs?: ParentReference[]; hostnames?: string[]; rules?: HTTPRouteRule[] };
  status?: { parents?: RouteParentStatus[] };
}

/** Everything a render needs beyond the Canary: the split, and the session cookies to use. */
export interface RouteState extends Omit<RouteWeights, 'mirrored'> {
  mirror: boolean;
  cookies: SessionCookies;
}

export const INITIAL_ROUTE_STATE: Readonly<RouteState> = Object.freeze({
  primaryWeight: 100,
  canaryWeight: 0,
  mirror: false,
  cookies: NO_SESSION_COOKIES,
});

const COOKIE_HEADER = 'Cookie';
const SET_COOKIE_HEADER = 'Set-Cookie';
const MATCH_EVERYTHING: HTTPRouteMatch = { path: { type: 'PathPrefix', value: '/' } };

/** spec.service settings the Gateway API standard channel has no place for. */
const UNSUPPORTED_SERVICE_FIELDS = [
  'retries',
  'corsPolicy',
  'trafficPolicy',
  'delegation',
  'gateways',
  'meshName',
  'backends',
] as const;

// ------------------------------------------------------------------ matches

/** A literal inside an RE2 regular expression. */
export function escapeRegex(text: string): string {
  return text.replace(/[\\^$.|?*+()[\]{}]/g, '\\$&');
}

/**
 * One string condition as Gateway API can express it: exact and regex map
 * directly; prefix and suffix become anchored regular expressions, which read
 * the same whether the implementation matches whole values or substrings.
 */
export function valueMatch(
  name: string,
  match: StringMatch & { suffix?: string },
  field: string,
): HTTPValueMatch {
  if (match.exact !== undefined) return { type: 'Exact', name, value: match.exact };
  if (match.regex !== undefined) return { type: 'RegularExpression', name, value: match.regex };
  if (match.prefix !== undefined)
    return { type: 'RegularExpression', name, value: `^${escapeRegex(match.prefix)}.*` };
  if (match.suffix !== undefined)
    return { type: 'RegularExpression', name, value: `^.*${escapeRegex(match.suffix)}$` };
  throw new RouterConfigError(`${field} needs one of exact, prefix, suffix or regex`);
}

function valueMatches(
  entries: Record<string, StringMatch & { suffix?: string }> | undefined,
  field: string,
): HTTPValueMatch[] | undefined {
  if (entries === undefined) return undefined;
  return Object.entries(entries)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, match]) => valueMatch(name, match, `${field}.${name}`));
}

const UNSUPPORTED_MATCH_FIELDS = [
  'scheme',
  'authority',
  'withoutHeaders',
  'port',
  'sourceLabels',
  'sourceNamespace',
  'gateways',
  'ignoreUriCase',
] as const;

/** spec.service.match (Istio's HTTPMatchRequest) as HTTPRoute matches. */
export function serviceMatches(matches: readonly HTTPMatchRequest[] | undefined): HTTPRouteMatch[] {
  if (matches === undefined || matches.length === 0) return [structuredClone(MATCH_EVERYTHING)];
  return matches.map((request, i) => {
    const field = `spec.service.match[${i}]`;
    const unsupported = UNSUPPORTED_MATCH_FIELDS.filter((key) => request[key] !== undefined);
    if (unsupported.length > 0) {
      throw new RouterConfigError(
        `${field}.${unsupported.join(', ')}: not expressible in a Gateway API HTTPRoute; use uri, method, headers or queryParams`,
      );
    }
    const match: HTTPRouteMatch = {};
    if (request.uri !== undefined) match.path = pathMatch(request.uri, `${field}.uri`);
    if (request.method !== undefined) {
      if (request.method.exact === undefined) {
        throw new RouterConfigError(`${field}.method: Gateway API matches methods exactly; use method.exact`);
      }
      match.method = request.method.exact;
    }
    const headers = valueMatches(request.headers, `${field}.headers`);
    if (headers !== undefined) match.headers = headers;
    const queryParams = valueMatches(request.queryParams, `${field}.queryParams`);
    if (queryParams !== undefined) match.queryParams = queryParams;
    return match;
  });
}

function pathMatch(uri: StringMatch, field: string): NonNullable<HTTPRouteMatch['path']> {
  if (uri.exact !== undefined) return { type: 'Exact', value: uri.exact };
  if (uri.prefix !== undefined) return { type: 'PathPrefix', value: uri.prefix };
  if (uri.regex !== undefined) return { type: 'RegularExpression', value: uri.regex };
  throw new RouterConfigError(`${field} needs one of exact, prefix or regex`);
}

/** analysis.match (A/B conditions) as matches to merge with the service's. */
export function abMatches(matches: readonly ABMatch[]): HTTPRouteMatch[] {
  return matches.map((entry, i) => {
    const field = `analysis.match[${i}]`;
    if (entry.sourceLabels !== undefined) {
      throw new RouterConfigError(
        `${field}.sourceLabels is Istio-only: Gateway API routes by headers and queryParams`,
      );
    }
    const match: HTTPRouteMatch = {};
    const headers = valueMatches(entry.headers, `${field}.headers`);
    if (headers !== undefined) match.headers = headers;
    const queryParams = valueMatches(entry.queryParams, `${field}.queryParams`);
    if (queryParams !== undefined) match.queryParams = queryParams;
    return match;
  });
}

function mergeValueMatches(
  base: HTTPValueMatch[] | undefined,
  extra: HTTPValueMatch[] | undefined,
  caseInsensitive: boolean,
): HTTPValueMatch[] | undefined {
  if (extra === undefined) return base === undefined ? undefined : structuredClone(base);
  const key = (name: string) => (caseInsensitive ? name.toLowerCase() : name);
  const replaced = new Set(extra.map((m) => key(m.name)));
  return [...(base ?? []).filter((m) => !replaced.has(key(m.name))), ...structuredClone(extra)];
}

/**
 * Every combination of an extra condition with a base match: the request must
 * satisfy both. An extra condition on the same header or query parameter wins.
 */
export function mergeMatches(
  extra: readonly HTTPRouteMatch[],
  base: readonly HTTPRouteMatch[],
): HTTPRouteMatch[] {
  return extra.flatMap((condition) =>
    base.map((match) => {
      const merged: HTTPRouteMatch = structuredClone(match);
      const headers = mergeValueMatches(match.headers, condition.headers, true);
      if (headers !== undefined) merged.headers = headers;
      const queryParams = mergeValueMatches(match.queryParams, condition.queryParams, false);
      if (queryParams !== undefined) merged.queryParams = queryParams;
      return merged;
    }),
  );
}

// ------------------------------------------------------------------ cookies

function splitCookie(cookie: string): { name: string; value: string } {
  const at = cookie.indexOf('=');
  if (at <= 0) throw new Error(`session cookie "${cookie}" is not name=value`);
  return { name: cookie.slice(0, at), value: cookie.slice(at + 1) };
}

/** Matches requests whose Cookie header carries exactly `name=value`. */
export function cookieMatch(cookie: string): HTTPRouteMatch {
  const { name, value } = splitCookie(cookie);
  const pattern = `^(.*;\\s*)?${escapeRegex(name)}=${escapeRegex(value)}(\\s*;.*)?$`;
  return { headers: [{ type: 'RegularExpression', name: COOKIE_HEADER, value: pattern }] };
}

/** A Set-Cookie value; maxAge 0 expires the cookie. Path defaults to / so the cookie covers the whole host. */
export function setCookieValue(cookie: string, affinity: NormalizedSessionAffinity, maxAge: number): string {
  const attributes = [cookie, `Max-Age=${maxAge}`, `Path=${affinity.path ?? '/'}`];
  if (affinity.domain !== undefined) attributes.push(`Domain=${affinity.domain}`);
  if (affinity.httpOnly === true) attributes.push('HttpOnly');
  if (affinity.secure === true) attributes.push('Secure');
  if (affinity.sameSite !== undefined) attributes.push(`SameSite=${affinity.sameSite}`);
  if (affinity.partitioned === true) attributes.push('Partitioned');
  return attributes.join('; ');
}

/**
 * The primary cookie lives one analysis interval (as in Flagger): a user pinned to the
 * primary is balanced again once it expires, so the canary's share of users grows with
 * its weight instead of freezing at the first assignment.
 */
export function primaryCookieMaxAge(interval: string): number {
  return Math.floor(parseGoDuration(interval, 'spec.analysis.interval') / 1000);
}

function setCookieFilter(value: string): HTTPRouteFilter {
  // add, not set: the application's own Set-Cookie headers must survive.
  return {
    type: 'ResponseHeaderModifier',
    responseHeaderModifier: { add: [{ name: SET_COOKIE_HEADER, value }] },
  };
}

/**
 * The cookies a route with this canary weight needs. While the canary gets
 * traffic, its cookie (and the primary's, when primaryCookieName is set) is kept
 * from `known` if it has the configured name, else minted. At weight 0 the canary
 * cookie becomes the previous one, which the route expires.
 */
export function nextSessionCookies(
  affinity: NormalizedSessionAffinity | undefined,
  canaryWeight: number,
  known: SessionCookies,
  randomToken: () => string,
): SessionCookies {
  if (affinity === undefined) return { ...NO_SESSION_COOKIES };
  const named = (cookie: string | null, name: string): string | null =>
    cookie !== null && splitCookie(cookie).name === name ? cookie : null;
  if (canaryWeight === 0) {
    return {
      sessionAffinityCookie: null,
      primarySessionAffinityCookie: null,
      previousSessionAffinityCookie: known.sessionAffinityCookie ?? known.previousSessionAffinityCookie,
    };
  }
  const keepOrMint = (cookie: string | null, name: string) =>
    named(cookie, name) ?? `${name}=${randomToken()}`;
  const primaryName = affinity.primaryCookieName;
  return {
    sessionAffinityCookie: keepOrMint(known.sessionAffinityCookie, affinity.cookieName),
    primarySessionAffinityCookie:
      primaryName === undefined ? null : keepOrMint(known.primarySessionAffinityCookie, primaryName),
    previousSessionAffinityCookie: known.previousSessionAffinityCookie,
  };
}

/** The cookies recorded in Canary status, for when no route carries them. */
export function statusCookies(canary: RoutableCanary): SessionCookies {
  const status = canary.status;
  return {
    sessionAffinityCookie: status?.sessionAffinityCookie ?? null,
    primarySessionAffinityCookie: status?.primarySessionAffinityCookie ?? null,
    previousSessionAffinityCookie: status?.previousSessionAffinityCookie ?? null,
  };
}

/**
 * What a reconcile writes: the route as Fledge last wrote it (`read`), else a new one at 100%
 * primary, with its cookies re-derived so a renamed or removed cookie takes effect.
 */
export function keptRouteState(
  canary: RoutableCanary,
  read: RouteState | undefined,
  randomToken: () => string,
): RouteState {
  const current = read ?? { ...INITIAL_ROUTE_STATE, cookies: statusCookies(canary) };
  const affinity = canary.spec.analysis.sessionAffinity;
  return {
    ...current,
    cookies: nextSessionCookies(affinity, current.canaryWeight, current.cookies, randomToken),
  };
}

/** The cookies setRoutes writes: the caller's, else derived from the route's (or status's) current ones. */
export function cookiesForRoutes(
  canary: RoutableCanary,
  routes: DesiredRoutes,
  read: RouteState | undefined,
  randomToken: () => string,
): SessionCookies {
  const known = read?.cookies ?? statusCookies(canary);
  return (
    routes.cookies ??
    nextSessionCookies(canary.spec.analysis.sessionAffinity, routes.canaryWeight, known, randomToken)
  );
}

// ------------------------------------------------------------------ filters and timeouts

function headers(entries: Record<string, string> | undefined): HTTPHeader[] | undefined {
  if (entries === undefined || Object.keys(entries).length === 0) return undefined;
  return Object.entries(entries)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, value]) => ({ name, value }));
}

function headerFilter(
  operations: { set?: Record<string, string>; add?: Record<string, string>; remove?: string[] } | undefined,
): HTTPHeaderFilter | undefined {
  if (operations === undefined) return undefined;
  const filter: HTTPHeaderFilter = {};
  const set = headers(operations.set);
  if (set !== undefined) filter.set = set;
  const add = headers(operations.add);
  if (add !== undefined) filter.add = add;
  if (operations.remove !== undefined && operations.remove.length > 0) filter.remove = [...operations.remove];
  return Object.keys(filter).length === 0 ? undefined : filter;
}

/** Filters every rule carries: header operations, URL rewrite and extra mirrors from spec.service. */
export function ruleFilters(service: NormalizedService): HTTPRouteFilter[] {
  const filters: HTTPRouteFilter[] = [];
  const request = headerFilter(service.headers?.request);
  if (request !== undefined) filters.push({ type: 'RequestHeaderModifier', requestHeaderModifier: request });
  const response = headerFilter(service.headers?.response);
  if (response !== undefined)
    filters.push({ type: 'ResponseHeaderModifier', responseHeaderModifier: response });
  const rewrite = service.rewrite;
  if (rewrite !== undefined && (rewrite.uri !== undefined || rewrite.authority !== undefined)) {
    const urlRewrite: NonNullable<HTTPRouteFilter['urlRewrite']> = {};
    if (rewrite.authority !== undefined) urlRewrite.hostname = rewrite.authority;
    if (rewrite.uri !== undefined) {
      const type = rewrite.type ?? 'ReplacePrefixMatch';
      urlRewrite.path =
        type === 'ReplaceFullPath'
          ? { type, replaceFullPath: rewrite.uri }
          : { type, replacePrefixMatch: rewrite.uri };
    }
    filters.push({ type: 'URLRewrite', urlRewrite });
  }
  for (const mirror of service.mirror ?? []) {
    filters.push({
      type: 'RequestMirror',
      requestMirror: { backendRef: structuredClone(mirror.backendRef) },
    });
  }
  return filters;
}

/**
 * A Go duration in Gateway API's duration format (`1h30m`, `250ms`: whole units,
 * at most five digits each). Sub-millisecond precision cannot be expressed.
 */
export function gatewayDuration(text: string, field: string): string {
  const exact = parseGoDuration(text, field);
  // Decimal fractions ("1.005s") carry float noise; anything within a nanosecond of a whole ms is that ms.
  const ms = Math.round(exact);
  if (Math.abs(exact - ms) > 1e-6) {
    throw new RouterConfigError(
      `${field}: Gateway API durations have millisecond precision; "${text}" is finer`,
    );
  }
  if (ms === 0) return '0s';
  let rest = ms;
  let formatted = '';
  for (const [unit, size] of [
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
    ['ms', 1],
  ] as const) {
    const amount = Math.floor(rest / size);
    rest -= amount * size;
    if (amount === 0) continue;
    if (amount > 99_999)
      throw new RouterConfigError(`${field}: "${text}" is too long for a Gateway API duration`);
    formatted += `${amount}${unit}`;
  }
  return formatted;
}

export function ruleTimeouts(service: NormalizedService): HTTPRouteRule['timeouts'] {
  const timeouts: NonNullable<HTTPRouteRule['timeouts']> = {};
  if (service.timeout !== undefined)
    timeouts.request = gatewayDuration(service.timeout, 'spec.service.timeout');
  if (service.backendTimeout !== undefined) {
    timeouts.backendRequest = gatewayDuration(service.backendTimeout, 'spec.service.backendTimeout');
  }
  if (service.timeout !== undefined && service.backendTimeout !== undefined) {
    const request = parseGoDuration(service.timeout);
    if (parseGoDuration(service.backendTimeout) > request) {
      throw new RouterConfigError(
        `spec.service.backendTimeout (${service.backendTimeout}) must not exceed spec.service.timeout (${service.timeout})`,
      );
    }
  }
  return Object.keys(timeouts).length === 0 ? undefined : timeouts;
}

// ------------------------------------------------------------------ render

function serviceBackend(
  name: string,
  port: number,
  weight?: number,
  filters?: HTTPRouteFilter[],
): HTTPBackendRef {
  const ref: HTTPBackendRef = { group: '', kind: 'Service', name, port };
  if (weight !== undefined) ref.weight = weight;
  if (filters !== undefined && filters.length > 0) ref.filters = filters;
  return ref;
}

function rejectUnsupportedSettings(service: NormalizedService): void {
  const unsupported = UNSUPPORTED_SERVICE_FIELDS.filter((key) => service[key] !== undefined);
  if (unsupported.length > 0) {
    throw new RouterConfigError(
      `spec.service.${unsupported.join(', ')}: not supported by the gatewayapi provider (not in the Gateway API ` +
        `standard channel, or Istio-only); remove ${unsupported.length === 1 ? 'it' : 'them'}`,
    );
  }
}

function gatewayRefs(service: NormalizedService): ParentReference[] {
  if (service.gatewayRefs === undefined || service.gatewayRefs.length === 0) {
    throw new RouterConfigError(
      'provider gatewayapi needs spec.service.gatewayRefs: the Gateway(s) the HTTPRoute attaches to',
      'RouteRefMissing',
    );
  }
  return service.gatewayRefs.map((ref) => structuredClone(ref));
}

function routeSpec(service: NormalizedService, rules: HTTPRouteRule[]): HTTPRoute['spec'] {
  const spec: HTTPRoute['spec'] = { parentRefs: gatewayRefs(service), rules };
  if (service.hosts !== undefined && service.hosts.length > 0) spec.hostnames = [...service.hosts];
  return spec;
}

/** A rule with the service's matches, filters and timeouts; `matches` and `extraFilters` refine it. */
function rule(
  service: NormalizedService,
  matches: HTTPRouteMatch[],
  backendRefs: HTTPBackendRef[],
  extraFilters: HTTPRouteFilter[] = [],
): HTTPRouteRule {
  const result: HTTPRouteRule = { matches, backendRefs };
  const filters = [...ruleFilters(service), ...extraFilters];
  if (filters.length > 0) result.filters = filters;
  const timeouts = ruleTimeouts(service);
  if (timeouts !== undefined) result.timeouts = timeouts;
  return result;
}

/**
 * The HTTPRoute `<apex>` routing the canary as `state` says. `owned` routes carry an
 * owner reference to the Canary; an adopted route (it existed before) does not.
 */
export function renderHTTPRoute(canary: RoutableCanary, state: RouteState, owned: boolean): HTTPRoute {
  const service = requireService(canary, 'gatewayapi');
  rejectUnsupportedSettings(service);
  const names = serviceNames(service);
  const { analysis } = canary.spec;
  const affinity = analysis.sessionAffinity;
  const base = serviceMatches(service.match);
  const { cookies } = state;

  const backendCookie = (cookie: string | null, side: 'primary' | 'canary'): HTTPRouteFilter[] => {
    if (affinity === undefined || cookie === null) return [];
    const maxAge = side === 'primary' ? primaryCookieMaxAge(analysis.interval) : affinity.maxAge;
    return [setCookieFilter(setCookieValue(cookie, affinity, maxAge))];
  };
  const mirror: HTTPRouteFilter[] = state.mirror
    ? [
        {
          type: 'RequestMirror',
          requestMirror: {
            backendRef: { group: '', kind: 'Service', name: names.canary, port: service.port },
            ...(analysis.mirrorWeight === undefined ? {} : { percent: analysis.mirrorWeight }),
          },
        },
      ]
    : [];
  const weighted = rule(
    service,
    analysis.match === undefined ? base : mergeMatches(abMatches(analysis.match), base),
    [
      serviceBackend(
        names.primary,
        service.port,
        state.primaryWeight,
        backendCookie(cookies.primarySessionAffinityCookie, 'primary'),
      ),
      serviceBackend(
        names.canary,
        service.port,
        state.canaryWeight,
        backendCookie(cookies.sessionAffinityCookie, 'canary'),
      ),
    ],
    mirror,
  );

  const rules: HTTPRouteRule[] = [];
  if (affinity !== undefined) {
    if (cookies.sessionAffinityCookie !== null) {
      const sticky = mergeMatches([cookieMatch(cookies.sessionAffinityCookie)], base);
      rules.push(rule(service, sticky, [serviceBackend(names.canary, service.port)]));
    }
    if (cookies.primarySessionAffinityCookie !== null) {
      const sticky = mergeMatches([cookieMatch(cookies.primarySessionAffinityCookie)], base);
      rules.push(rule(service, sticky, [serviceBackend(names.primary, service.port)]));
    }
    const previous = cookies.previousSessionAffinityCookie;
    if (previous !== null) {
      const expire = [setCookieFilter(setCookieValue(previous, affinity, 0))];
      const matches = mergeMatches([cookieMatch(previous)], base);
      rules.push(rule(service, matches, [serviceBackend(names.primary, service.port, undefined, expire)]));
    }
  }
  rules.push(weighted);
  if (analysis.match !== undefined)
    rules.push(rule(service, base, [serviceBackend(names.primary, service.port)]));

  return {
    apiVersion: HTTPROUTE_API_VERSION,
    kind: HTTPROUTE_KIND,
    metadata: routerObjectMetadata(canary, serviceNames(service).apex, service.apex, owned, true),
    spec: routeSpec(service, rules),
  };
}

/**
 * The route a deleted Canary hands back: everything to the apex Service (which then
 * selects the target's pods), without Flux's opt-out marks. `owned: false` releases it
 * from the Canary (revertOnDeletion); an owned one goes with it.
 */
export function renderHandoffRoute(canary: RoutableCanary, owned: boolean): HTTPRoute {
  // No check for unsupported settings: the handoff writes none of them, and it must not block a deletion.
  const service = requireService(canary, 'gatewayapi');
  const { apex } = serviceNames(service);
  const rules = [rule(service, serviceMatches(service.match), [serviceBackend(apex, service.port)])];
  return {
    apiVersion: HTTPROUTE_API_VERSION,
    kind: HTTPROUTE_KIND,
    metadata: routerObjectMetadata(canary, serviceNames(service).apex, service.apex, owned, false),
    spec: routeSpec(service, rules),
  };
}

// ------------------------------------------------------------------ read back

function isServiceRef(ref: BackendObjectReference, name: string): boolean {
  return (
    ref.name === name && (ref.group ?? '') === '' && (ref.kind ?? 'Service') === 'Service' && !ref.namespace
  );
}

function cookieSetBy(
  filters: readonly HTTPRouteFilter[] | undefined,
): { cookie: string; maxAge?: number } | undefined {
  for (const filter of filters ?? []) {
    if (filter.type !== 'ResponseHeaderModifier') continue;
    const header = filter.responseHeaderModifier?.add?.find((h) => h.name.toLowerCase() === 'set-cookie');
    if (header === undefined) continue;
    const [cookie = '', ...attributes] = header.value.split(';').map((part) => part.trim());
    const maxAge = attributes.find((a) => a.toLowerCase().startsWith('max-age='))?.slice('max-age='.length);
    return maxAge === undefined ? { cookie } : { cookie, maxAge: Number(maxAge) };
  }
  return undefined;
}

export type RouteStateReadback =
  { ok: true; weights: RouteWeights; cookies: SessionCookies } | { ok: false; reason: string };

/** Weights, mirroring and session cookies as the route carries them. */
export function readRouteState(route: HTTPRoute, names: ServiceNames): RouteStateReadback {
  const where = `HTTPRoute ${route.metadata.namespace}/${route.metadata.name}`;
  const rules = route.spec.rules ?? [];
  const weightedRules = rules.filter((r) => {
    const refs = r.backendRefs ?? [];
    return (
      refs.some((ref) => isServiceRef(ref, names.primary)) &&
      refs.some((ref) => isServiceRef(ref, names.canary))
    );
  });
  if (weightedRules.length !== 1) {
    return {
      ok: false,
      reason: `${where} has ${weightedRules.length} rules sending traffic to both ${names.primary} and ${names.canary}; expected exactly 1`,
    };
  }
  const weighted = weightedRules[0] as HTTPRouteRule;
  const refs = weighted.backendRefs ?? [];
  const primaryRef = refs.find((ref) => isServiceRef(ref, names.primary)) as HTTPBackendRef;
  const canaryRef = refs.find((ref) => isServiceRef(ref, names.canary)) as HTTPBackendRef;
  // Gateway API weights are relative (default 1); Fledge writes percentages.
  const primary = primaryRef.weight ?? 1;
  const canary = canaryRef.weight ?? 1;
  if (primary + canary === 0)
    return { ok: false, reason: `${where} gives both ${names.primary} and ${names.canary} weight 0` };
  const canaryWeight = Math.round((100 * canary) / (primary + canary));
  const mirrored = (weighted.filters ?? []).some(
    (f) =>
      f.type === 'RequestMirror' &&
      f.requestMirror !== undefined &&
      isServiceRef(f.requestMirror.backendRef, names.canary),
  );
  const previous = rules
    .filter((r) => r !== weighted)
    .flatMap((r) => (r.backendRefs ?? []).map((ref) => cookieSetBy(ref.filters)))
    .find((set) => set !== undefined && set.maxAge !== undefined && set.maxAge <= 0);
  return {
    ok: true,
    weights: { primaryWeight: 100 - canaryWeight, canaryWeight, mirrored },
    cookies: {
      sessionAffinityCookie: cookieSetBy(canaryRef.filters)?.cookie ?? null,
      primarySessionAffinityCookie: cookieSetBy(primaryRef.filters)?.cookie ?? null,
      previousSessionAffinityCookie: previous?.cookie ?? null,
    },
  };
}

function sameParent(status: ParentReference, spec: ParentReference, routeNamespace: string): boolean {
  return (
    status.name === spec.name &&
    (status.group ?? GATEWAY_API_GROUP) === (spec.group ?? GATEWAY_API_GROUP) &&
    (status.kind ?? 'Gateway') === (spec.kind ?? 'Gateway') &&
    (status.namespace ?? routeNamespace) === (spec.namespace ?? routeNamespace) &&
    status.sectionName === spec.sectionName &&
    status.port === spec.port
  );
}

function describeParent(ref: ParentReference, routeNamespace: string): string {
  const section = ref.sectionName === undefined ? '' : `/${ref.sectionName}`;
  return `${ref.kind ?? 'Gateway'} ${ref.namespace ?? routeNamespace}/${ref.name}${section}`;
}

/** Gateway controllers that apply no `backendRefs[].filters`, by controllerName: where the affinity cookies are set. */
const BACKEND_FILTERS_IGNORED: ReadonlyMap<string, string> = new Map([
  ['traefik.io/gateway-controller', "Traefik's Gateway API provider"],
]);

/**
 * What the controllers that reported on the route are known to ignore of what Fledge writes
 * there: session affinity, whose cookies ride on backend filters that Traefik never applies,
 * so it would otherwise be silently absent.
 */
export function ignoredByGateways(
  route: HTTPRoute,
  affinity: NormalizedSessionAffinity | undefined,
): { field: string; message: string }[] {
  if (affinity === undefined) return [];
  const controllers = new Set((route.status?.parents ?? []).map((parent) => parent.controllerName));
  return [...controllers].flatMap((controller) => {
    const implementation = BACKEND_FILTERS_IGNORED.get(controller);
    if (implementation === undefined) return [];
    return [
      {
        field: 'spec.analysis.sessionAffinity',
        message:
          `spec.analysis.sessionAffinity is ignored by ${implementation} (${controller}): it applies no ` +
          'backend filters, so no affinity cookie is handed out and every request is balanced by weight; ' +
          'remove the field, or serve the route with a Gateway implementation that applies backend filters',
      },
    ];
  });
}

/**
 * Whether the data plane has taken the route as it is now: every parent in
 * spec.parentRefs reports Accepted=True for the route's current generation (and
 * no parent reports ResolvedRefs=False for it).
 */
export function routeAcceptance(route: HTTPRoute): { accepted: true } | { accepted: false; reason: string } {
  const namespace = route.metadata.namespace ?? '';
  const generation = route.metadata.generation;
  const parents = route.spec.parentRefs ?? [];
  if (parents.length === 0) return { accepted: false, reason: 'the HTTPRoute has no parentRefs' };
  for (const parent of parents) {
    const name = describeParent(parent, namespace);
    const reports = (route.status?.parents ?? []).filter((s) => sameParent(s.parentRef, parent, namespace));
    if (reports.length === 0) {
      return {
        accepted: false,
        reason: `${name} has not reported on the HTTPRoute yet (is its Gateway controller running?)`,
      };
    }
    for (const report of reports) {
      const accepted = report.conditions.find((c) => c.type === 'Accepted');
      if (accepted === undefined)
        return {
          accepted: false,
          reason: `${name} (${report.controllerName}) has not accepted the HTTPRoute yet`,
        };
      if (accepted.observedGeneration !== generation) {
        return {
          accepted: false,
          reason: `${name} (${report.controllerName}) last reported on generation ${accepted.observedGeneration ?? 'unknown'}, the HTTPRoute is at ${generation}`,
        };
      }
      if (accepted.status !== 'True') {
        return {
          accepted: false,
          reason: `${name} did not accept the HTTPRoute: ${accepted.reason}: ${accepted.message}`,
        };
      }
      const resolved = report.conditions.find((c) => c.type === 'ResolvedRefs');
      if (resolved?.status === 'False' && resolved.observedGeneration === generation) {
        return {
          accepted: false,
          reason: `${name} cannot resolve the HTTPRoute's backends: ${resolved.reason}: ${resolved.message}`,
        };
      }
    }
  }
  return { accepted: true };
}
