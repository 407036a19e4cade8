import type { RouterCapabilities } from './capabilities.ts';
import { GATEWAY_API_CAPABILITIES, GATEWAY_API_PROVIDER, GatewayApiRouter } from './gatewayapi.ts';
import { KUBERNETES_CAPABILITIES, KUBERNETES_PROVIDER, KubernetesRouter } from './kubernetes.ts';
import { RouterConfigError, type Router, type RouterDeps, type RouterFactory } from './router.ts';

/** Router implementations by canonical provider name. A new router is one entry here. */
export const routerFactories: Readonly<Record<string, RouterFactory>> = {
  [KUBERNETES_PROVIDER]: (deps) => new KubernetesRouter(deps),
  [GATEWAY_API_PROVIDER]: (deps) => new GatewayApiRouter(deps),
};

/** What each router can do, by canonical provider name; read by the controller's capability check. */
export const routerCapabilities: Readonly<Record<string, RouterCapabilities>> = {
  [KUBERNETES_PROVIDER]: KUBERNETES_CAPABILITIES,
  [GATEWAY_API_PROVIDER]: GATEWAY_API_CAPABILITIES,
};

/** The capabilities of a provider string's router; throws like resolveProvider for one without a router. */
export function capabilitiesOf(provider: string): RouterCapabilities {
  const canonical = resolveProvider(provider);
  const capabilities = routerCapabilities[canonical];
  if (capabilities === undefined)
    throw new RouterConfigError(`provider "${provider}" declares no capabilities`, 'ProviderUnavailable');
  return capabilities;
}

/**
 * Flagger's provider strings (spec.provider and its -mesh-provider flag) by the
 * router that serves them. Both Gateway API spellings write gateway.networking.k8s.io/v1,
 * which every Gateway API release since v1.0 serves.
 */
export const providerAliases: Readonly<Record<string, string>> = {
  kubernetes: KUBERNETES_PROVIDER,
  gatewayapi: GATEWAY_API_PROVIDER,
  'gatewayapi:v1': GATEWAY_API_PROVIDER,
  'gatewayapi:v1beta1': GATEWAY_API_PROVIDER,
};

/** Flagger providers Fledge accepts in a Canary but has no router for yet. */
export const PLANNED_PROVIDERS: readonly string[] = [
  'apisix',
  'appmesh',
  'appmesh:v1beta2',
  'contour',
  'gloo',
  'istio',
  'knative',
  'kuma',
  'linkerd',
  'nginx',
  'osm',
  'skipper',
  'smi:v1alpha1',
  'smi:v1alpha2',
  'smi:v1alpha3',
  'traefik',
];

/** The canonical router name for a provider string; an unknown or unavailable one is an error naming the known ones. */
export function resolveProvider(
  provider: string,
  factories: Readonly<Record<string, RouterFactory>> = routerFactories,
): string {
  const canonical = Object.hasOwn(providerAliases, provider) ? providerAliases[provider] : provider;
  if (canonical !== undefined && Object.hasOwn(factories, canonical)) return canonical;
  const available = Object.keys(providerAliases)
    .filter((alias) => Object.hasOwn(factories, providerAliases[alias] ?? ''))
    .join(', ');
  if (PLANNED_PROVIDERS.includes(provider) || provider.startsWith('smi:')) {
    throw new RouterConfigError(
      `provider "${provider}" has no router in this version of Fledge yet; available providers: ${available}`,
      'ProviderUnavailable',
    );
  }
  throw new RouterConfigError(
    `unknown provider "${provider}" in spec.provider; known providers: ${available}`,
    'ProviderUnavailable',
  );
}

export function createRouter(
  provider: string,
  deps: RouterDeps,
  factories: Readonly<Record<string, RouterFactory>> = routerFactories,
): Router {
  const factory = factories[resolveProvider(provider, factories)] as RouterFactory;
  return factory(deps);
}
