import { MANAGE_VERBS } from '../kube/rbac.ts';
import { NO_ROUTING_FIELDS, type RouterDeclaration } from './declaration.ts';
import { envoyMetrics } from './metrics.ts';

// Kuma: a cluster-scoped TrafficRoute (Flagger's kuma provider). Declared so Flagger
// manifests apply; no router yet.

export const kumaRouter: RouterDeclaration = {
  provider: 'kuma',
  providers: ['kuma'],
  availability: { state: 'planned' },
  objects: '`TrafficRoute <apex>` (`kuma.io/v1alpha1`, cluster-scoped)',
  features: ['weighted', 'blueGreen'],
  ...NO_ROUTING_FIELDS,
  permissions: [{ apiGroup: 'kuma.io', resources: ['trafficroutes'], verbs: MANAGE_VERBS }],
  metrics: envoyMetrics(
    'service=~"{{ target }}-canary_{{ namespace }}_svc_[0-9a-zA-Z-]+"',
    "Envoy metrics of Kuma's data plane; Kuma names the canary service `<target>-canary_<namespace>_svc_<port>`.",
  ),
};
