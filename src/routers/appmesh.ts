import type { RouterDeclaration } from './declaration.ts';
import { CANARY_POD_NAME, envoyMetrics } from './metrics.ts';

// AWS App Mesh was discontinued in September 2026. The names stay accepted so Flagger
// manifests still apply; a Canary using them is refused, pointing at the Gateway API router.

export const appMeshRouter: RouterDeclaration = {
  provider: 'appmesh',
  providers: ['appmesh', 'appmesh:v1beta2'],
  availability: {
    state: 'withdrawn',
    reason:
      'AWS discontinued App Mesh in September 2026: move the Canary to provider gatewayapi:v1 with a Gateway API implementation (Envoy Gateway, Istio, Traefik, ...)',
  },
  objects: 'none: App Mesh is discontinued',
  features: ['weighted', 'abTesting', 'blueGreen'],
  serviceFields: ['meshName', 'backends'],
  ignoredServiceFields: [],
  requiredServiceFields: [],
  refs: [],
  alternatives: 'move the Canary to provider gatewayapi:v1',
  permissions: [],
  metrics: envoyMetrics(
    `kubernetes_namespace="{{ namespace }}",kubernetes_pod_name=~"${CANARY_POD_NAME}"`,
    'Envoy sidecar metrics of the canary pods, scraped with the `kubernetes_namespace` and `kubernetes_pod_name` target labels.',
  ),
};
