import { MANAGE_VERBS } from '../kube/rbac.ts';
import { NO_ROUTING_FIELDS, type RouterDeclaration } from './declaration.ts';
import { SPLIT_GROUP, TrafficSplitRouter } from './trafficsplit.ts';

// Linkerd: an SMI TrafficSplit v1alpha1 between -primary and -canary, as Flagger's linkerd
// provider writes (served by the linkerd-smi extension). v1alpha1 splits cannot match
// requests, so A/B testing is refused; Flagger users route Linkerd A/B through gatewayapi.

const inbound = 'namespace="{{ namespace }}",deployment="{{ target }}",direction="inbound"';

export const linkerdRouter: RouterDeclaration = {
  provider: 'linkerd',
  providers: ['linkerd'],
  availability: {
    state: 'available',
    create: (deps) => new TrafficSplitRouter(deps, { provider: 'linkerd', versionOf: () => 'v1alpha1' }),
  },
  objects: '`TrafficSplit <apex>` (`split.smi-spec.io/v1alpha1`)',
  features: ['weighted', 'blueGreen'],
  ...NO_ROUTING_FIELDS,
  alternatives:
    'use spec.analysis.stepWeight or iterations, or set spec.provider to gatewayapi:v1 (Linkerd serves HTTPRoutes)',
  permissions: [{ apiGroup: SPLIT_GROUP, resources: ['trafficsplits'], verbs: MANAGE_VERBS }],
  // No CRD for it here: the tests install TrafficSplit v1alpha1 from test/fixtures/crds (see smiRouter).
  metrics: {
    requests: { series: 'response_total', selector: inbound, successMatcher: 'classification!="failure"' },
    latency: { kind: 'p99', buckets: 'response_latency_ms_bucket', selector: inbound, toMilliseconds: 1 },
    source:
      "The Linkerd proxy's inbound metrics of the canary Deployment; Linkerd itself classifies failures.",
  },
};
