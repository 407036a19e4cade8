import { MANAGE_VERBS } from '../kube/rbac.ts';
import { NO_ROUTING_FIELDS, type RouterDeclaration } from './declaration.ts';
import { SPLIT_GROUP, TrafficSplitRouter } from './trafficsplit.ts';

// Open Service Mesh (archived upstream): an SMI TrafficSplit v1alpha2, as Flagger's osm
// provider writes. OSM serves no later TrafficSplit, so A/B testing is refused.

const destination =
  'destination_namespace="{{ namespace }}",destination_kind="Deployment",destination_name="{{ target }}"';

export const osmRouter: RouterDeclaration = {
  provider: 'osm',
  providers: ['osm'],
  availability: {
    state: 'available',
    create: (deps) => new TrafficSplitRouter(deps, { provider: 'osm', versionOf: () => 'v1alpha2' }),
  },
  objects: '`TrafficSplit <apex>` (`split.smi-spec.io/v1alpha2`)',
  features: ['weighted', 'blueGreen'],
  ...NO_ROUTING_FIELDS,
  alternatives: 'use spec.analysis.stepWeight or iterations; Open Service Mesh is archived upstream',
  permissions: [{ apiGroup: SPLIT_GROUP, resources: ['trafficsplits'], verbs: MANAGE_VERBS }],
  // OSM's last release; its TrafficSplit CRD serves v1alpha2 only. The SMI tests start from
  // these files (see test/integration/routers/smi.test.ts).
  crds: {
    module: 'github.com/openservicemesh/osm',
    version: 'v1.2.4',
    paths: [
      'cmd/osm-bootstrap/crds/smi_traffic_split.yaml',
      'cmd/osm-bootstrap/crds/smi_http_route_group.yaml',
    ],
  },
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
