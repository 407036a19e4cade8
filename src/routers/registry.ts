import type { Permission } from '../kube/rbac.ts';
import { ROUTING_SERVICE_FIELDS, type RoutingFeature, type RoutingServiceField } from './capabilities.ts';
import type { RouteRefField, RouterDeclaration } from './declaration.ts';
import { apisixRouter } from './apisix.ts';
import { appMeshRouter } from './appmesh.ts';
import { contourRouter } from './contour.ts';
import { gatewayApiRouter } from './gatewayapi.ts';
import { glooRouter } from './gloo.ts';
import { istioRouter } from './istio.ts';
import { knativeRouter } from './knative.ts';
import { kubernetesRouter } from './kubernetes.ts';
import { kumaRouter } from './kuma.ts';
import { linkerdRouter } from './linkerd.ts';
import { nginxRouter } from './nginx.ts';
import { osmRouter } from './osm.ts';
import { skipperRouter } from './skipper.ts';
import { smiRouter } from './smi.ts';
import { traefikRouter } from './traefik.ts';
import { RouterConfigError, type Router, type RouterDeps } from './router.ts';

/** Every router Fledge knows, one declaration each. A new router is one line here. */
export const routerDeclarations: readonly RouterDeclaration[] = [
  kubernetesRouter,
  gatewayApiRouter,
  istioRouter,
  linkerdRouter,
  smiRouter,
  osmRouter,
  nginxRouter,
  contourRouter,
  glooRouter,
  traefikRouter,
  skipperRouter,
  apisixRouter,
  kumaRouter,
  appMeshRouter,
  knativeRouter,
];

const byProviderString = new Map<string, RouterDeclaration>();
for (const declaration of routerDeclarations) {
  for (const name of [declaration.provider, ...declaration.providers]) {
    const taken = byProviderString.get(name);
    if (taken !== undefined && taken !== declaration)
      throw new Error(`provider "${name}" is declared by both ${taken.provider} and ${declaration.provider}`);
    byProviderString.set(name, declaration);
  }
}

/** The spec.provider values admission accepts (and --mesh-provider), sorted. */
export const RouterProviders: readonly string[] = routerDeclarations.flatMap((d) => d.providers).sort();

/** The declaration behind a provider string, whatever its state; undefined for an unknown one. */
export function declarationOf(provider: string): RouterDeclaration | undefined {
  return byProviderString.get(provider);
}

/** Routers this version can route through. */
export function availableRouters(): RouterDeclaration[] {
  return routerDeclarations.filter((d) => d.availability.state === 'available');
}

/**
 * The declaration of a provider string's router; an unknown provider, or one without a
 * router in this version, is a ProviderUnavailable error naming what to do.
 */
export function routerFor(
  provider: string,
  declarations: readonly RouterDeclaration[] = routerDeclarations,
): RouterDeclaration {
  const declaration = declarations.find((d) => d.provider === provider || d.providers.includes(provider));
  const available = declarations
    .filter((d) => d.availability.state === 'available')
    .flatMap((d) => d.providers)
    .join(', ');
  if (declaration === undefined) {
    throw new RouterConfigError(
      `unknown provider "${provider}" in spec.provider; known providers: ${available}`,
      'ProviderUnavailable',
    );
  }
  const { availability } = declaration;
  if (availability.state === 'planned') {
    throw new RouterConfigError(
      `provider "${provider}" has no router in this version of Fledge yet; available providers: ${available}`,
      'ProviderUnavailable',
    );
  }
  if (availability.state === 'withdrawn') {
    throw new RouterConfigError(
      `provider "${provider}" is refused: ${availability.reason}`,
      'ProviderUnavailable',
    );
  }
  return declaration;
}

/** The canonical router name for a provider string; throws like routerFor. */
export function resolveProvider(provider: string): string {
  return routerFor(provider).provider;
}

/** The capabilities of a provider string's router; throws like routerFor. */
export const capabilitiesOf = (provider: string): RouterDeclaration => routerFor(provider);

export function createRouter(
  provider: string,
  deps: RouterDeps,
  declarations: readonly RouterDeclaration[] = routerDeclarations,
): Router {
  const { availability } = routerFor(provider, declarations);
  if (availability.state !== 'available') throw new Error('unreachable: routerFor returns available routers');
  return availability.create(deps);
}

// ------------------------------------------------- facts admission derives its rules from

/** spec.provider strings of the routers that can make a traffic shape. */
export function providersWith(feature: RoutingFeature): string[] {
  return routerDeclarations.filter((d) => d.features.includes(feature)).flatMap((d) => d.providers);
}

/** The routers that read a Canary reference, and those that cannot work without it. */
export function refUsers(field: RouteRefField): {
  users: RouterDeclaration[];
  requiring: RouterDeclaration[];
} {
  const users = routerDeclarations.filter((d) => d.refs.some((ref) => ref.field === field));
  return { users, requiring: users.filter((d) => d.refs.some((ref) => ref.field === field && ref.required)) };
}

/** Routing fields of spec.service that only this router applies. */
export function exclusiveServiceFields(declaration: RouterDeclaration): RoutingServiceField[] {
  const others = routerDeclarations.filter((d) => d !== declaration).flatMap((d) => d.serviceFields);
  return declaration.serviceFields.filter((field) => !others.includes(field));
}

/**
 * Routing fields of spec.service that a router neither applies nor ignores, leaving out
 * `covered`: the ones admission names with another rule (e.g. the Gateway API settings).
 */
export function unroutedServiceFields(
  declaration: RouterDeclaration,
  covered: readonly RoutingServiceField[],
): RoutingServiceField[] {
  return ROUTING_SERVICE_FIELDS.filter(
    (field) =>
      !declaration.serviceFields.includes(field) &&
      !declaration.ignoredServiceFields.includes(field) &&
      !covered.includes(field),
  );
}

/** What the routers of this version write, for the operator's RBAC. */
export function routerPermissions(): Permission[] {
  return availableRouters().flatMap((d) => d.permissions);
}
