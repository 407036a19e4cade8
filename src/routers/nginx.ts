import type { ABMatch } from '../api/index.ts';
import { MANAGE_VERBS } from '../kube/rbac.ts';
import { NO_ROUTING_FIELDS, type RouterDeclaration } from './declaration.ts';
import { escapeRegex } from './httproute.ts';
import {
  INGRESS_API_VERSION,
  INGRESS_KIND,
  canaryIngressMetadata,
  cloneForCanary,
  type Ingress,
} from './ingress.ts';
import { CanaryIngressRouter, type CanaryIngressStyle, type CanaryIngressWeights } from './ingress-router.ts';
import {
  RouterConfigError,
  requireService,
  serviceNames,
  type RoutableCanary,
  type RouterDeps,
} from './router.ts';

// ingress-nginx: a `<ingress>-canary` copy of spec.ingressRef whose backends are the
// `-canary` Service, carrying the canary annotations (Flagger's nginx provider). The
// copy's lifecycle is the shared one of ingress-router.ts.

export const NGINX_PROVIDER = 'nginx';
const PREFIX = 'nginx.ingress.kubernetes.io/';
export const CANARY = `${PREFIX}canary`;
export const CANARY_WEIGHT = `${PREFIX}canary-weight`;
export const CANARY_WEIGHT_TOTAL = `${PREFIX}canary-weight-total`;
export const CANARY_BY_HEADER = `${PREFIX}canary-by-header`;
export const CANARY_BY_HEADER_VALUE = `${PREFIX}canary-by-header-value`;
export const CANARY_BY_HEADER_PATTERN = `${PREFIX}canary-by-header-pattern`;
export const CANARY_BY_COOKIE = `${PREFIX}canary-by-cookie`;

const canaryIngress = 'namespace="{{ namespace }}",ingress="{{ ingress }}",canary!=""';

/**
 * analysis.match as ingress-nginx's A/B annotations. ingress-nginx knows one header and one
 * cookie, either of which sends a request to the canary, so each entry must hold exactly
 * one condition: at most one on a header and one on the `cookie` header.
 */
export function abAnnotations(matches: readonly ABMatch[]): Record<string, string> {
  const annotations: Record<string, string> = {};
  matches.forEach((entry, i) => {
    const field = `spec.analysis.match[${i}]`;
    if (entry.queryParams !== undefined || entry.sourceLabels !== undefined) {
      throw new RouterConfigError(
        `${field}: ingress-nginx routes the canary by one header or one cookie; remove queryParams and sourceLabels`,
      );
    }
    const headers = Object.entries(entry.headers ?? {});
    const [condition] = headers;
    if (condition === undefined || headers.length > 1) {
      throw new RouterConfigError(
        `${field}: ingress-nginx cannot require several conditions at once; give each match entry exactly one header`,
      );
    }
    const [name, match] = condition;
    const taken = (key: string, what: string) => {
      if (annotations[key] !== undefined)
        throw new RouterConfigError(`${field}: ingress-nginx routes the canary by one ${what} only`);
    };
    if (name.toLowerCase() === 'cookie') {
      taken(CANARY_BY_COOKIE, 'cookie');
      if (match.exact === undefined) {
        throw new RouterConfigError(
          `${field}.headers.cookie: give the cookie name as exact (requests with <name>=always go to the canary)`,
        );
      }
      annotations[CANARY_BY_COOKIE] = match.exact;
      return;
    }
    taken(CANARY_BY_HEADER, 'header');
    annotations[CANARY_BY_HEADER] = name;
    if (match.exact !== undefined) annotations[CANARY_BY_HEADER_VALUE] = match.exact;
    else if (match.regex !== undefined) annotations[CANARY_BY_HEADER_PATTERN] = match.regex;
    else if (match.prefix !== undefined)
      annotations[CANARY_BY_HEADER_PATTERN] = `^${escapeRegex(match.prefix)}`;
    else if (match.suffix !== undefined)
      annotations[CANARY_BY_HEADER_PATTERN] = `${escapeRegex(match.suffix)}$`;
  });
  return annotations;
}

function isABTesting(canary: RoutableCanary): boolean {
  return (canary.spec.analysis.match?.length ?? 0) > 0;
}

/** The canary annotations for a canary that gets traffic. */
export function canaryAnnotations(canary: RoutableCanary, canaryWeight: number): Record<string, string> {
  const matches = canary.spec.analysis.match;
  // A/B: matching requests all go to the canary, every other one to the primary.
  if (matches !== undefined && matches.length > 0)
    return { [CANARY]: 'true', [CANARY_WEIGHT]: '0', ...abAnnotations(matches) };
  return { [CANARY]: 'true', [CANARY_WEIGHT]: String(canaryWeight) };
}

/** The `<ingress>-canary` copy of the user's Ingress with the canary annotations. */
export function renderCanaryIngress(
  canary: RoutableCanary,
  user: Ingress,
  canaryWeight: number,
  owned: boolean,
): Ingress {
  const names = serviceNames(requireService(canary, NGINX_PROVIDER));
  return {
    apiVersion: INGRESS_API_VERSION,
    kind: INGRESS_KIND,
    metadata: canaryIngressMetadata(canary, user, canaryAnnotations(canary, canaryWeight), owned, CANARY),
    spec: cloneForCanary(user, names.apex, names.canary),
  };
}

/** The canary's share as ingress-nginx reads the copy's annotations. */
export function readCanaryWeight(ingress: Ingress | undefined): CanaryIngressWeights {
  const annotations = ingress?.metadata.annotations ?? {};
  if (ingress === undefined || annotations[CANARY] !== 'true') return { ok: true, canaryWeight: 0 };
  // A/B: every matching request goes to the canary (Flagger reads it the same way).
  if (annotations[CANARY_BY_HEADER] !== undefined || annotations[CANARY_BY_COOKIE] !== undefined)
    return { ok: true, canaryWeight: 100 };
  const where = `Ingress ${ingress.metadata.namespace ?? ''}/${ingress.metadata.name ?? ''}`;
  const weight = Number(annotations[CANARY_WEIGHT] ?? '0');
  const total = Number(annotations[CANARY_WEIGHT_TOTAL] ?? '100');
  if (!Number.isInteger(weight) || !Number.isInteger(total) || total <= 0 || weight < 0 || weight > total) {
    return {
      ok: false,
      reason: `${where} has an unreadable ${CANARY_WEIGHT} "${annotations[CANARY_WEIGHT] ?? ''}" (total ${total})`,
    };
  }
  return { ok: true, canaryWeight: Math.round((100 * weight) / total) };
}

export const nginxRouter: RouterDeclaration = {
  provider: NGINX_PROVIDER,
  providers: ['nginx'],
  availability: { state: 'available', create: (deps) => new NginxRouter(deps) },
  objects:
    '`Ingress <ingress>-canary` (`networking.k8s.io/v1`) with the `canary*` annotations, while the canary gets traffic',
  features: ['weighted', 'abTesting', 'blueGreen'],
  ...NO_ROUTING_FIELDS,
  refs: [{ field: 'ingressRef', required: true }],
  alternatives: 'use spec.analysis.stepWeight, iterations, or A/B testing by one header or cookie',
  checkExpressible: (spec) => {
    if (spec.analysis.match !== undefined) abAnnotations(spec.analysis.match);
  },
  permissions: [{ apiGroup: 'networking.k8s.io', resources: ['ingresses'], verbs: MANAGE_VERBS }],
  // Ingress is a core API: no CRD to install.
  metrics: {
    requests: {
      series: 'nginx_ingress_controller_requests',
      selector: canaryIngress,
      successMatcher: 'status!~"5.."',
    },
    latency: {
      kind: 'mean',
      summary: 'nginx_ingress_controller_response_duration_seconds',
      selector: canaryIngress,
      toMilliseconds: 1000,
    },
    source:
      'ingress-nginx metrics of the Canary\'s Ingress (spec.ingressRef); `canary!=""` keeps requests the canary backend served.',
  },
};

export const nginxStyle: CanaryIngressStyle = {
  provider: NGINX_PROVIDER,
  render: renderCanaryIngress,
  read: (copy) => readCanaryWeight(copy),
  checkRoutes: (canary, { canaryWeight }) => {
    if (isABTesting(canary) && canaryWeight !== 0 && canaryWeight !== 100) {
      throw new RouterConfigError(
        `provider nginx sends requests matching spec.analysis.match all to the canary or all to the primary; ` +
          `got canary weight ${canaryWeight}`,
      );
    }
  },
};

export class NginxRouter extends CanaryIngressRouter {
  constructor(deps: RouterDeps) {
    super(deps, nginxStyle);
  }
}
