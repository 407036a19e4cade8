import { MANAGE_VERBS } from '../kube/rbac.ts';
import { NO_ROUTING_FIELDS, type RouterDeclaration } from './declaration.ts';

// Skipper: a `<ingress>-canary` copy of spec.ingressRef with `zalando.org/backend-weights`
// (Flagger's skipper provider). Declared so Flagger manifests apply; no router yet.

const canaryRoute =
  'route=~"kube(ew)?_{{ namespace }}__{{ ingress }}_canary__.*__{{ service }}_canary(_[0-9]+)?"';

/** Skipper replaces every non-word character of names with `_` in route ids. */
function skipperName(value: string): string {
  return value.replace(/\W/g, '_');
}

export const skipperRouter: RouterDeclaration = {
  provider: 'skipper',
  providers: ['skipper'],
  availability: { state: 'planned' },
  objects: '`Ingress <ingress>-canary` (`networking.k8s.io/v1`) with `zalando.org/backend-weights`',
  features: ['weighted', 'blueGreen'],
  ...NO_ROUTING_FIELDS,
  refs: [{ field: 'ingressRef', required: true }],
  permissions: [{ apiGroup: 'networking.k8s.io', resources: ['ingresses'], verbs: MANAGE_VERBS }],
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
      "Skipper route metrics for the canary backend of the Canary's Ingress. Skipper replaces every non-word character of names with `_` in route ids, and so do these queries.",
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
