import { MANAGE_VERBS } from '../kube/rbac.ts';
import { NO_ROUTING_FIELDS, type RouterDeclaration } from './declaration.ts';

// ingress-nginx: a `<ingress>-canary` copy of spec.ingressRef carrying the canary
// annotations (Flagger's nginx provider). Declared so Flagger manifests apply; no router yet.

const canaryIngress = 'namespace="{{ namespace }}",ingress="{{ ingress }}",canary!=""';

export const nginxRouter: RouterDeclaration = {
  provider: 'nginx',
  providers: ['nginx'],
  availability: { state: 'planned' },
  objects: '`Ingress <ingress>-canary` (`networking.k8s.io/v1`) with the `canary*` annotations',
  features: ['weighted', 'abTesting', 'blueGreen'],
  ...NO_ROUTING_FIELDS,
  refs: [{ field: 'ingressRef', required: true }],
  permissions: [{ apiGroup: 'networking.k8s.io', resources: ['ingresses'], verbs: MANAGE_VERBS }],
  metrics: {
    requests: {
      series: 'nginx_ingress_controller_requests',
      selector: canaryIngress,
      successMatcher: 'status!~"5.."',
    },
    latency: {
      kind: 'mean',
      summary: 'nginx_ingress_controller_response_duration_seconds',
      selector: canaryIngress,
      toMilliseconds: 1000,
    },
    source:
      'ingress-nginx metrics of the Canary\'s Ingress (spec.ingressRef); `canary!=""` keeps requests the canary backend served.',
  },
};
