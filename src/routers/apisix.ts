import { MANAGE_VERBS } from '../kube/rbac.ts';
import { NO_ROUTING_FIELDS, type RouterDeclaration } from './declaration.ts';

// Apache APISIX: an ApisixRoute with weighted backends built from spec.routeRef (Flagger's
// apisix provider). Declared so Flagger manifests apply; no router yet.

const canaryRoute = 'route=~"{{ namespace }}_{{ route }}-{{ target }}-canary_.+"';

export const apisixRouter: RouterDeclaration = {
  provider: 'apisix',
  providers: ['apisix'],
  availability: { state: 'planned' },
  objects: '`ApisixRoute <route>-<apex>-canary` (`apisix.apache.org/v2`)',
  features: ['weighted', 'blueGreen'],
  ...NO_ROUTING_FIELDS,
  refs: [{ field: 'routeRef', required: true }],
  permissions: [{ apiGroup: 'apisix.apache.org', resources: ['apisixroutes'], verbs: MANAGE_VERBS }],
  metrics: {
    requests: { series: 'apisix_http_status', selector: canaryRoute, successMatcher: 'code!~"5.."' },
    latency: {
      kind: 'p99',
      buckets: 'apisix_http_latency_bucket',
      selector: `type="request",${canaryRoute}`,
      toMilliseconds: 1,
    },
    source: "APISIX's Prometheus plugin, for the canary's route generated from spec.routeRef.",
  },
};
