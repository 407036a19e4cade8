// Public surface of the routers area: the Router contract, the registry, the
// Services every Deployment/DaemonSet canary gets, and the two routers.
export * from './router.ts';
export * from './registry.ts';
export * from './declaration.ts';
export { routableCanary } from './routable.ts';
export * from './capabilities.ts';
export {
  SIDECAR_CONTAINERS,
  applyServices,
  discoverPorts,
  finalizeServices,
  getService,
  mainServicePort,
  renderServices,
  servicePorts,
  type ApexTarget,
  type PodTemplateShape,
  type RenderedServices,
  type ServiceInputs,
  type ServiceObject,
  type ServicePort,
  type ServiceSelectors,
} from './services.ts';
export { KUBERNETES_PROVIDER, KubernetesRouter, kubernetesRouter } from './kubernetes.ts';
export { GATEWAY_API_PROVIDER, GatewayApiRouter, gatewayApiRouter } from './gatewayapi.ts';
export {
  HTTPROUTE_API_VERSION,
  HTTPROUTE_KIND,
  readRouteState,
  renderHTTPRoute,
  routeAcceptance,
  type HTTPRoute,
} from './httproute.ts';
export * from './metrics.ts';
export { ISTIO_PROVIDER, IstioRouter, istioRouter } from './istio.ts';
export {
  ISTIO_API_VERSION,
  readVirtualService,
  renderDestinationRule,
  renderVirtualService,
  type DestinationRule,
  type VirtualService,
} from './virtualservice.ts';
export {
  KNATIVE_API_VERSION,
  KNATIVE_PROVIDER,
  KnativeRouter,
  knativeRouter,
  type KnativeService,
  type TrafficTarget,
} from './knative.ts';
