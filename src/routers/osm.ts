import { MANAGE_VERBS } from '../kube/rbac.ts';
import { NO_ROUTING_FIELDS, type RouterDeclaration } from './declaration.ts';

// Open Service Mesh (archived upstream): an SMI TrafficSplit v1alpha2, as Flagger's osm
// provider writes. Declared so Flagger manifests apply; no router yet.

const destination =
  'destination_namespace="{{ namespace }}",destination_kind="Deployment",destination_name="{{ target }}"';

export const osmRouter: RouterDeclaration = {
  provider: 'osm',
  providers: ['osm'],
  availability: { state: 'planned' },
  objects: '`TrafficSplit <apex>` (`split.smi-spec.io/v1alpha2`)',
  features: ['weighted', 'blueGreen'],
  ...NO_ROUTING_FIELDS,
  permissions: [{ apiGroup: 'split.smi-spec.io', resources: ['trafficsplits'], verbs: MANAGE_VERBS }],
  metrics: {
    requests: { series: 'osm_request_total', selector: destination, successMatcher: 'response_code!~"5.."' },
    latency: {
      kind: 'p99',
      buckets: 'osm_request_duration_ms_bucket',
      selector: destination,
      toMilliseconds: 1,
    },
    source: "Open Service Mesh's request metrics for the canary Deployment as destination.",
  },
};
