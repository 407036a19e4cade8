import type { KubeObjectClient } from '../kube/client.ts';
import { applyGuardedJsonPatch } from '../kube/patch.ts';
import type { RouterDeclaration } from './declaration.ts';
import { APP_INSTRUMENTED } from './metrics.ts';
import { sameStringMap } from './objects.ts';
import {
  NO_SESSION_COOKIES,
  RouterConfigError,
  requireService,
  serviceNames,
  validateWeights,
  type DesiredRoutes,
  type RoutableCanary,
  type RouteReadback,
  type Router,
  type RouterDeps,
  type SetRoutesResult,
} from './router.ts';
import { getService, type ApexTarget } from './services.ts';

// Blue/green on plain Kubernetes: the apex Service's selector is the switch. It
// selects the primary pods, or the canary's (the target's) when all traffic goes
// to the canary. The selectors to copy are read from the -primary and -canary
// Services, so this router needs no knowledge of the workload's labels.

export const KUBERNETES_PROVIDER = 'kubernetes';

/** A Service selector switches all traffic at once, and carries no per-request rule. */
export const kubernetesRouter: RouterDeclaration = {
  provider: KUBERNETES_PROVIDER,
  providers: ['kubernetes'],
  availability: { state: 'available', create: (deps) => new KubernetesRouter(deps) },
  objects: "the apex Service's selector",
  features: ['blueGreen'],
  serviceFields: [],
  ignoredServiceFields: ['meshName', 'backends'],
  requiredServiceFields: [],
  refs: [],
  alternatives:
    'use spec.analysis.iterations (blue/green), or set spec.provider to gatewayapi:v1 (or start Fledge with --mesh-provider gatewayapi:v1)',
  // The Services every Canary gets are all it writes.
  permissions: [],
  metrics: APP_INSTRUMENTED,
};

/** The only two splits a Service selector can make. */
export function apexTargetFor(routes: DesiredRoutes): ApexTarget {
  validateWeights(routes);
  if (routes.mirror) {
    throw new RouterConfigError(
      'provider kubernetes cannot mirror traffic: remove analysis.mirror or use a gatewayapi or istio provider',
    );
  }
  if (routes.canaryWeight === 0) return 'primary';
  if (routes.canaryWeight === 100) return 'canary';
  throw new RouterConfigError(
    `provider kubernetes switches all traffic at once (blue/green): weights must be 100/0 or 0/100, ` +
      `got primary ${routes.primaryWeight} / canary ${routes.canaryWeight}; use analysis.iterations, not stepWeight`,
  );
}

/** Which pods the apex selects, judged by comparing its selector with the -primary and -canary Services'. */
export function readApexSelector(
  apex: Record<string, string> | undefined,
  primary: Record<string, string> | undefined,
  canary: Record<string, string> | undefined,
): ApexTarget | undefined {
  if (primary !== undefined && sameStringMap(apex, primary)) return 'primary';
  if (canary !== undefined && sameStringMap(apex, canary)) return 'canary';
  return undefined;
}

export class KubernetesRouter implements Router {
  readonly provider = KUBERNETES_PROVIDER;
  readonly #client: KubeObjectClient;

  constructor(deps: RouterDeps) {
    this.#client = deps.client;
  }

  /** The Services are the routing objects and applyServices writes them; nothing else to create. */
  async reconcile(canary: RoutableCanary): Promise<void> {
    requireService(canary, KUBERNETES_PROVIDER);
  }

  async setRoutes(canary: RoutableCanary, routes: DesiredRoutes): Promise<SetRoutesResult> {
    const target = apexTargetFor(routes);
    const names = serviceNames(requireService(canary, KUBERNETES_PROVIDER));
    const { namespace } = canary.metadata;
    const source = target === 'primary' ? names.primary : names.canary;
    const sourceService = await getService(this.#client, namespace, source);
    const selector = sourceService?.spec.selector;
    if (selector === undefined) {
      throw new Error(
        `Service ${namespace}/${source} (or its selector) is missing: apply the Services before routing`,
      );
    }
    await applyGuardedJsonPatch(
      this.#client,
      { apiVersion: 'v1', kind: 'Service', namespace, name: names.apex },
      [{ op: 'replace', path: '/spec/selector', value: selector }],
    );
    return { cookies: { ...NO_SESSION_COOKIES } };
  }

  async getRoutes(canary: RoutableCanary): Promise<RouteReadback> {
    const names = serviceNames(requireService(canary, KUBERNETES_PROVIDER));
    const { namespace } = canary.metadata;
    const [apex, primary, canaryService] = await Promise.all(
      [names.apex, names.primary, names.canary].map((name) => getService(this.#client, namespace, name)),
    );
    const missing = [apex, primary, canaryService].flatMap((service, i) =>
      service === undefined ? [[names.apex, names.primary, names.canary][i]] : [],
    );
    if (missing.length > 0) {
      return { applied: false, reason: `Service ${missing.join(', ')} not found in ${namespace}` };
    }
    const target = readApexSelector(
      apex?.spec.selector,
      primary?.spec.selector,
      canaryService?.spec.selector,
    );
    if (target === undefined) {
      return {
        applied: false,
        reason:
          `the selector of Service ${namespace}/${names.apex} (${JSON.stringify(apex?.spec.selector ?? {})}) ` +
          `matches neither ${names.primary} nor ${names.canary}`,
      };
    }
    const canaryWeight = target === 'canary' ? 100 : 0;
    return {
      applied: true,
      primaryWeight: 100 - canaryWeight,
      canaryWeight,
      mirrored: false,
      cookies: { ...NO_SESSION_COOKIES },
    };
  }

  /** finalizeServices hands the apex Service back; this router owns nothing else. */
  async finalize(canary: RoutableCanary): Promise<void> {
    requireService(canary, KUBERNETES_PROVIDER);
  }
}
