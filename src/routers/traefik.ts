import { MANAGE_VERBS } from '../kube/rbac.ts';
import { NO_ROUTING_FIELDS, type RouterDeclaration } from './declaration.ts';

// Traefik: a TraefikService with weighted services (Flagger's traefik provider). Declared
// so Flagger manifests apply; no router yet.

const canaryService = 'service=~"{{ namespace }}-{{ target }}-canary-[0-9a-zA-Z-]+@kubernetescrd"';

export const traefikRouter: RouterDeclaration = {
  provider: 'traefik',
  providers: ['traefik'],
  availability: { state: 'planned' },
  objects: '`TraefikService <apex>` (`traefik.io/v1alpha1`)',
  features: ['weighted', 'blueGreen'],
  ...NO_ROUTING_FIELDS,
  permissions: [{ apiGroup: 'traefik.io', resources: ['traefikservices'], verbs: MANAGE_VERBS }],
  metrics: {
    requests: {
      series: 'traefik_service_request_duration_seconds_bucket',
      selector: `${canaryService},le="+Inf"`,
      successMatcher: 'code!~"5.."',
    },
    latency: {
      kind: 'p99',
      buckets: 'traefik_service_request_duration_seconds_bucket',
      selector: canaryService,
      toMilliseconds: 1000,
    },
    source:
      'Traefik service metrics; the `+Inf` bucket of the duration histogram counts requests. The canary service is `<namespace>-<target>-canary-<port>@kubernetescrd`.',
  },
};
