import { MANAGE_VERBS } from '../kube/rbac.ts';
import { NO_ROUTING_FIELDS, type RouterDeclaration } from './declaration.ts';
import { envoyMetrics } from './metrics.ts';

// Contour: an HTTPProxy with weighted services (Flagger's contour provider). Declared so
// Flagger manifests apply; no router yet.

export const contourRouter: RouterDeclaration = {
  provider: 'contour',
  providers: ['contour'],
  availability: { state: 'planned' },
  objects: '`HTTPProxy <apex>` (`projectcontour.io/v1`)',
  features: ['weighted', 'abTesting', 'blueGreen'],
  ...NO_ROUTING_FIELDS,
  permissions: [{ apiGroup: 'projectcontour.io', resources: ['httpproxies'], verbs: MANAGE_VERBS }],
  metrics: envoyMetrics(
    'envoy_cluster_name=~"{{ namespace }}_{{ target }}-canary_[0-9a-zA-Z-]+"',
    "Envoy cluster metrics from Contour's Envoy; Contour names the canary cluster `<namespace>_<target>-canary_<port>`.",
  ),
};
