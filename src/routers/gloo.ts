import { MANAGE_VERBS } from '../kube/rbac.ts';
import { NO_ROUTING_FIELDS, type RouterDeclaration } from './declaration.ts';
import { envoyMetrics } from './metrics.ts';

// Gloo Edge: a RouteTable and the Upstreams copied from spec.upstreamRef (Flagger's gloo
// provider). Declared so Flagger manifests apply; no router yet.

export const glooRouter: RouterDeclaration = {
  provider: 'gloo',
  providers: ['gloo'],
  availability: { state: 'planned' },
  objects: '`RouteTable <apex>` (`gateway.solo.io/v1`) and `Upstream`s copied from `spec.upstreamRef`',
  features: ['weighted', 'abTesting', 'blueGreen'],
  ...NO_ROUTING_FIELDS,
  refs: [{ field: 'upstreamRef', required: false }],
  permissions: [
    { apiGroup: 'gateway.solo.io', resources: ['routetables'], verbs: MANAGE_VERBS },
    { apiGroup: 'gloo.solo.io', resources: ['upstreams'], verbs: MANAGE_VERBS },
  ],
  metrics: envoyMetrics(
    'envoy_cluster_name=~"{{ namespace }}-{{ target }}-canaryupstream-[0-9a-zA-Z-]+_[0-9a-zA-Z-]+"',
    "Envoy cluster metrics from Gloo's gateway; the canary Upstream is `<namespace>-<target>-canaryupstream-<port>`.",
  ),
};
