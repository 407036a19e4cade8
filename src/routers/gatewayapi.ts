import { randomBytes } from 'node:crypto';
import type { KubeObjectClient, ObjectRef } from '../kube/client.ts';
import { MANAGE_VERBS } from '../kube/rbac.ts';
import { applyAdopting, describeRef, handBackObject, liveObject, writtenByFledge } from './adoption.ts';
import type { RouterDeclaration } from './declaration.ts';
import { APP_INSTRUMENTED } from './metrics.ts';
import {
  HTTPROUTE_API_VERSION,
  HTTPROUTE_KIND,
  INITIAL_ROUTE_STATE,
  keptRouteState,
  readRouteState,
  renderHTTPRoute,
  renderHandoffRoute,
  routeAcceptance,
  cookiesForRoutes,
  ignoredByGateways,
  type HTTPRoute,
  type RouteState,
} from './httproute.ts';
import {
  requireService,
  serviceNames,
  validateWeights,
  type DesiredRoutes,
  type HandBack,
  type RoutableCanary,
  type RouteReadback,
  type Router,
  type RouterDeps,
  type SetRoutesResult,
} from './router.ts';

// Gateway API router: one HTTPRoute `<apex>` (see httproute.ts for its layout),
// written by server-side apply as "fledge". The route counts as applied only
// once every parent Gateway has accepted its current generation.

export const GATEWAY_API_PROVIDER = 'gatewayapi';

/** An HTTPRoute of the Gateway API standard channel: weights, matches, mirroring, cookies. */
export const gatewayApiRouter: RouterDeclaration = {
  provider: GATEWAY_API_PROVIDER,
  // Both spellings write gateway.networking.k8s.io/v1, which every release since v1.0 serves.
  providers: ['gatewayapi:v1', 'gatewayapi:v1beta1'],
  availability: { state: 'available', create: (deps) => new GatewayApiRouter(deps) },
  objects: '`HTTPRoute <apex>` (`gateway.networking.k8s.io/v1`)',
  features: ['weighted', 'abTesting', 'blueGreen', 'mirroring', 'sessionAffinity'],
  serviceFields: [
    'timeout',
    'backendTimeout',
    'match',
    'rewrite',
    'headers',
    'mirror',
    'gatewayRefs',
    'hosts',
  ],
  ignoredServiceFields: [],
  requiredServiceFields: ['gatewayRefs'],
  refs: [],
  alternatives: 'remove the field',
  checkExpressible: (spec) => {
    const identity = { name: 'preflight', namespace: 'preflight', uid: 'preflight' };
    renderHTTPRoute({ metadata: identity, spec }, INITIAL_ROUTE_STATE, true);
  },
  permissions: [{ apiGroup: 'gateway.networking.k8s.io', resources: ['httproutes'], verbs: MANAGE_VERBS }],
  // v1.6.3: the newest release whose go directive this machine's Go 1.26 accepts.
  crds: { module: 'sigs.k8s.io/gateway-api', version: 'v1.6.3', paths: ['config/crd/standard'] },
  metrics: APP_INSTRUMENTED,
};

function defaultRandomToken(): string {
  return randomBytes(16).toString('hex');
}

export class GatewayApiRouter implements Router {
  readonly provider = GATEWAY_API_PROVIDER;
  readonly #client: KubeObjectClient;
  readonly #randomToken: () => string;

  constructor(deps: RouterDeps) {
    this.#client = deps.client;
    this.#randomToken = deps.randomToken ?? defaultRandomToken;
  }

  async reconcile(canary: RoutableCanary): Promise<void> {
    const live = await liveObject<HTTPRoute>(this.#client, this.#ref(canary));
    const read = live === undefined ? undefined : this.#readable(canary, live);
    await this.#write(canary, live, keptRouteState(canary, read, this.#randomToken));
  }

  async setRoutes(canary: RoutableCanary, routes: DesiredRoutes): Promise<SetRoutesResult> {
    validateWeights(routes);
    const live = await liveObject<HTTPRoute>(this.#client, this.#ref(canary));
    const read = live === undefined ? undefined : this.#readable(canary, live);
    const cookies = cookiesForRoutes(canary, routes, read, this.#randomToken);
    await this.#write(canary, live, { ...routes, cookies });
    return { cookies };
  }

  async getRoutes(canary: RoutableCanary): Promise<RouteReadback> {
    const live = await liveObject<HTTPRoute>(this.#client, this.#ref(canary));
    if (live === undefined) {
      return { applied: false, reason: `${describeRef(this.#ref(canary))} does not exist` };
    }
    const names = serviceNames(requireService(canary, GATEWAY_API_PROVIDER));
    const state = readRouteState(live, names);
    if (!state.ok) return { applied: false, reason: state.reason };
    const acceptance = routeAcceptance(live);
    if (!acceptance.accepted) return { applied: false, reason: acceptance.reason, written: state.weights };
    const ignored = ignoredByGateways(live, canary.spec.analysis.sessionAffinity);
    return {
      applied: true,
      ...state.weights,
      cookies: state.cookies,
      ...(ignored.length > 0 && { ignored }),
    };
  }

  async finalize(canary: RoutableCanary, handBack: HandBack): Promise<void> {
    const handoff = (owned: boolean) => renderHandoffRoute(canary, owned);
    await handBackObject(this.#client, this.#ref(canary), canary, handoff, handBack);
  }

  /** The state a route Fledge has written carries; undefined for a route it has not written yet. */
  #readable(canary: RoutableCanary, live: HTTPRoute): RouteState | undefined {
    if (!writtenByFledge(live, canary, describeRef(this.#ref(canary)))) return undefined;
    const state = readRouteState(live, serviceNames(requireService(canary, GATEWAY_API_PROVIDER)));
    if (!state.ok) return undefined;
    return {
      primaryWeight: state.weights.primaryWeight,
      canaryWeight: state.weights.canaryWeight,
      mirror: state.weights.mirrored,
      cookies: state.cookies,
    };
  }

  async #write(canary: RoutableCanary, live: HTTPRoute | undefined, state: RouteState): Promise<void> {
    await applyAdopting(this.#client, this.#ref(canary), live, canary, (owned) =>
      renderHTTPRoute(canary, state, owned),
    );
  }

  #ref(canary: RoutableCanary): ObjectRef {
    const { apex } = serviceNames(requireService(canary, GATEWAY_API_PROVIDER));
    return {
      apiVersion: HTTPROUTE_API_VERSION,
      kind: HTTPROUTE_KIND,
      namespace: canary.metadata.namespace,
      name: apex,
    };
  }
}
