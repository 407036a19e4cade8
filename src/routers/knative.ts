import { NO_ROUTING_FIELDS, type RouterDeclaration } from './declaration.ts';
import { envoyMetrics } from './metrics.ts';

// Knative: the target is a Knative Service whose traffic block is split between the
// last good and the latest revision (Flagger's knative provider). Declared so Flagger
// manifests apply; no router yet.

export const knativeRouter: RouterDeclaration = {
  provider: 'knative',
  providers: ['knative'],
  availability: { state: 'planned' },
  objects: "the Knative Service's `spec.traffic` (`serving.knative.dev/v1`)",
  features: ['weighted', 'blueGreen'],
  ...NO_ROUTING_FIELDS,
  permissions: [
    { apiGroup: 'serving.knative.dev', resources: ['services'], verbs: ['get', 'list', 'watch', 'patch'] },
  ],
  metrics: envoyMetrics(
    'envoy_cluster_name="{{ namespace }}/{{ route }}"',
    "Envoy metrics of Knative's ingress; the cluster of the canary is `<namespace>/<revision>`, with the revision as `route`.",
  ),
};
