import { MANAGE_VERBS } from '../kube/rbac.ts';
import { NO_ROUTING_FIELDS, type RouterDeclaration } from './declaration.ts';
import {
  INGRESS_API_VERSION,
  INGRESS_KIND,
  canaryIngressMetadata,
  splitForCanary,
  type Ingress,
} from './ingress.ts';
import { CanaryIngressRouter, type CanaryIngressStyle, type CanaryIngressWeights } from './ingress-router.ts';
import { requireService, serviceNames, type RoutableCanary, type RouterDeps } from './router.ts';

// Skipper: a `<ingress>-canary` copy of spec.ingressRef in which every path to the apex
// Service goes to `-primary` and `-canary`, split by `zalando.org/backend-weights`
// (Flagger's skipper provider). The `Weight(100)` predicate makes Skipper prefer the
// copy's routes over the user's Ingress, whose own predicates the copy keeps. The copy's
// lifecycle is the shared one of ingress-router.ts.

export const SKIPPER_PROVIDER = 'skipper';
export const BACKEND_WEIGHTS = 'zalando.org/backend-weights';
export const SKIPPER_PREDICATE = 'zalando.org/skipper-predicate';
/** Ranks the copy's routes above the user's Ingress routes for the same path. */
export const PREFER_COPY = 'Weight(100)';

const canaryRoute =
  'route=~"kube(ew)?_{{ namespace }}__{{ ingress }}_canary__.*__{{ service }}_canary(_[0-9]+)?"';

/** Skipper replaces every non-word character of names with `_` in route ids. */
function skipperName(value: string): string {
  return value.replace(/\W/g, '_');
}

/** The user's predicates with `Weight(100)` first (Flagger's order), any earlier one dropped. */
export function preferCopy(predicates: string | undefined): string {
  const kept = (predicates ?? '')
    .split('&&')
    .map((p) => p.trim())
    .filter((p) => p !== '' && p !== PREFER_COPY && p !== 'False()');
  return [PREFER_COPY, ...kept].join(' && ');
}

/** The `<ingress>-canary` copy splitting the apex's paths between primary and canary. */
export function renderSkipperIngress(
  canary: RoutableCanary,
  user: Ingress,
  canaryWeight: number,
  owned: boolean,
): Ingress {
  const names = serviceNames(requireService(canary, SKIPPER_PROVIDER));
  const own = {
    [BACKEND_WEIGHTS]: JSON.stringify({ [names.primary]: 100 - canaryWeight, [names.canary]: canaryWeight }),
    [SKIPPER_PREDICATE]: preferCopy(user.metadata.annotations?.[SKIPPER_PREDICATE]),
  };
  return {
    apiVersion: INGRESS_API_VERSION,
    kind: INGRESS_KIND,
    metadata: canaryIngressMetadata(canary, user, own, owned, BACKEND_WEIGHTS),
    spec: splitForCanary(user, names.apex, names.primary, names.canary),
  };
}

/** The canary's share as Skipper reads the copy's backend weights (they are relative). */
export function readSkipperWeight(copy: Ingress | undefined, canary: RoutableCanary): CanaryIngressWeights {
  if (copy === undefined) return { ok: true, canaryWeight: 0 };
  const names = serviceNames(requireService(canary, SKIPPER_PROVIDER));
  const where = `Ingress ${copy.metadata.namespace ?? ''}/${copy.metadata.name ?? ''}`;
  const text = copy.metadata.annotations?.[BACKEND_WEIGHTS];
  let weights: Record<string, unknown>;
  try {
    weights = JSON.parse(text ?? '{}') as Record<string, unknown>;
  } catch {
    return { ok: false, reason: `${where} has an unreadable ${BACKEND_WEIGHTS} (not JSON)` };
  }
  const primary = weights[names.primary];
  const canaryWeight = weights[names.canary];
  if (typeof primary !== 'number' || typeof canaryWeight !== 'number' || primary < 0 || canaryWeight < 0) {
    return {
      ok: false,
      reason: `${where} has no ${BACKEND_WEIGHTS} for ${names.primary} and ${names.canary}`,
    };
  }
  if (primary + canaryWeight === 0)
    return { ok: false, reason: `${where} gives both ${names.primary} and ${names.canary} weight 0` };
  return { ok: true, canaryWeight: Math.round((100 * canaryWeight) / (primary + canaryWeight)) };
}

export const skipperStyle: CanaryIngressStyle = {
  provider: SKIPPER_PROVIDER,
  render: renderSkipperIngress,
  read: readSkipperWeight,
  // Weights and blue/green are all Skipper gets (capabilities refuse the rest before this).
  checkRoutes: () => undefined,
};

export class SkipperRouter extends CanaryIngressRouter {
  constructor(deps: RouterDeps) {
    super(deps, skipperStyle);
  }
}

export const skipperRouter: RouterDeclaration = {
  provider: SKIPPER_PROVIDER,
  providers: [SKIPPER_PROVIDER],
  availability: { state: 'available', create: (deps) => new SkipperRouter(deps) },
  objects:
    '`Ingress <ingress>-canary` (`networking.k8s.io/v1`) with `zalando.org/backend-weights`, while the canary gets traffic',
  features: ['weighted', 'blueGreen'],
  ...NO_ROUTING_FIELDS,
  alternatives: 'use spec.analysis.stepWeight or iterations',
  refs: [{ field: 'ingressRef', required: true }],
  permissions: [{ apiGroup: 'networking.k8s.io', resources: ['ingresses'], verbs: MANAGE_VERBS }],
  // Ingress is a core API: no CRD to install.
  metrics: {
    requests: {
      series: 'skipper_response_duration_seconds_bucket',
      selector: `${canaryRoute},le="+Inf"`,
      successMatcher: 'code!~"5.."',
    },
    latency: {
      kind: 'mean',
      summary: 'skipper_serve_route_duration_seconds',
      selector: canaryRoute,
      toMilliseconds: 1000,
    },
    source:
      "Skipper route metrics for the canary backend of the Canary's Ingress copy. Skipper replaces every non-word character of names with `_` in route ids, and so do these queries.",
    prepareVariables: (vars) => ({
      ...vars,
      name: skipperName(vars.name),
      namespace: skipperName(vars.namespace),
      target: skipperName(vars.target),
      service: skipperName(vars.service),
      ingress: vars.ingress === undefined ? undefined : skipperName(vars.ingress),
    }),
  },
};
