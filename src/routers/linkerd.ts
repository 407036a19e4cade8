import { MANAGE_VERBS } from '../kube/rbac.ts';
import { NO_ROUTING_FIELDS, type RouterDeclaration } from './declaration.ts';

// Linkerd: an SMI TrafficSplit between -primary and -canary (Flagger's linkerd provider).
// Declared so Flagger manifests apply; no router yet.

const inbound = 'namespace="{{ namespace }}",deployment="{{ target }}",direction="inbound"';

export const linkerdRouter: RouterDeclaration = {
  provider: 'linkerd',
  providers: ['linkerd'],
  availability: { state: 'planned' },
  objects: '`TrafficSplit <apex>` (`split.smi-spec.io`)',
  features: ['weighted', 'blueGreen'],
  ...NO_ROUTING_FIELDS,
  permissions: [{ apiGroup: 'split.smi-spec.io', resources: ['trafficsplits'], verbs: MANAGE_VERBS }],
  metrics: {
    requests: { series: 'response_total', selector: inbound, successMatcher: 'classification!="failure"' },
    latency: { kind: 'p99', buckets: 'response_latency_ms_bucket', selector: inbound, toMilliseconds: 1 },
    source:
      "The Linkerd proxy's inbound metrics of the canary Deployment; Linkerd itself classifies failures.",
  },
};
