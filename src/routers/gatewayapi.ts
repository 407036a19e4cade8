import { randomBytes } from 'node:crypto';
import type { KubeObjectClient, ObjectRef } from '../kube/client.ts';
import { isNotFound } from '../kube/errors.ts';
import { applyGuardedJsonPatch, applyObject } from '../kube/patch.ts';
import { MANAGE_VERBS } from '../kube/rbac.ts';
import type { RouterDeclaration } from './declaration.ts';
import { APP_INSTRUMENTED } from './metrics.ts';
import {
  HTTPROUTE_API_VERSION,
  HTTPROUTE_KIND,
  INITIAL_ROUTE_STATE,
  nextSessionCookies,
  readRouteState,
  renderHTTPRoute,
  renderHandoffRoute,
  routeAcceptance,
  statusCookies,
  type HTTPRoute,
  type RouteState,
} from './httproute.ts';
import {
  ownershipOf,
  originalToSave,
  removeOriginalOp,
  restoreOwnerMetadataOps,
  saveOriginalOps,
  savedOriginal,
  unchangedSince,
  type OriginalMetadata,
} from './objects.ts';
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

/** What an adopted HTTPRoute looked like before Fledge took it over. */
interface OriginalRoute extends OriginalMetadata {
  spec: HTTPRoute['spec'];
}

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
    const live = await this.#live(canary);
    const current = (live === undefined ? undefined : this.#readable(canary, live)) ?? {
      ...INITIAL_ROUTE_STATE,
      cookies: statusCookies(canary),
    };
    // Re-derived so a renamed or removed sessionAffinity cookie takes effect; same-named cookies are kept.
    const cookies = nextSessionCookies(
      canary.spec.analysis.sessionAffinity,
      current.canaryWeight,
      current.cookies,
      this.#randomToken,
    );
    await this.#write(canary, live, { ...current, cookies });
  }

  async setRoutes(canary: RoutableCanary, routes: DesiredRoutes): Promise<SetRoutesResult> {
    validateWeights(routes);
    const live = await this.#live(canary);
    const known =
      (live === undefined ? undefined : this.#readable(canary, live))?.cookies ?? statusCookies(canary);
    const cookies =
      routes.cookies ??
      nextSessionCookies(canary.spec.analysis.sessionAffinity, routes.canaryWeight, known, this.#randomToken);
    await this.#write(canary, live, { ...routes, cookies });
    return { cookies };
  }

  async getRoutes(canary: RoutableCanary): Promise<RouteReadback> {
    const live = await this.#live(canary);
    if (live === undefined) {
      return { applied: false, reason: `HTTPRoute ${this.#describe(canary)} does not exist` };
    }
    const names = serviceNames(requireService(canary, GATEWAY_API_PROVIDER));
    const state = readRouteState(live, names);
    if (!state.ok) return { applied: false, reason: state.reason };
    const acceptance = routeAcceptance(live);
    if (!acceptance.accepted) return { applied: false, reason: acceptance.reason, written: state.weights };
    return { applied: true, ...state.weights, cookies: state.cookies };
  }

  async finalize(canary: RoutableCanary, handBack: HandBack): Promise<void> {
    const live = await this.#live(canary);
    if (live === undefined) return;
    const description = `HTTPRoute ${this.#describe(canary)}`;
    const original = savedOriginal<OriginalRoute>(live.metadata, description);
    if (original !== undefined) {
      await applyGuardedJsonPatch(this.#client, this.#ref(canary), [
        ...unchangedSince(live.metadata),
        { op: 'replace', path: '/spec', value: original.spec },
        ...restoreOwnerMetadataOps(live.metadata, original),
        removeOriginalOp(),
      ]);
      return;
    }
    if (ownershipOf(live.metadata, canary, description) === 'owned') {
      // Applied without the owner reference, the route is released and not garbage collected.
      await applyObject(this.#client, renderHandoffRoute(canary, !handBack.release));
    }
  }

  /** The state a route Fledge has written carries; undefined for a route it has not written yet. */
  #readable(canary: RoutableCanary, live: HTTPRoute): RouteState | undefined {
    const description = `HTTPRoute ${this.#describe(canary)}`;
    const ownership = ownershipOf(live.metadata, canary, description);
    if (ownership === 'adopted' && savedOriginal(live.metadata, description) === undefined) return undefined;
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
    const description = `HTTPRoute ${this.#describe(canary)}`;
    const owned = live === undefined || ownershipOf(live.metadata, canary, description) === 'owned';
    // Render first, so a spec error leaves an adopted route untouched.
    const route = renderHTTPRoute(canary, state, owned);
    // What the route looks like before the apply: the apply is skipped when it holds the route already.
    let current = live;
    if (!owned && live !== undefined) {
      // The owner's labels and annotations are saved before the apply below overwrites them.
      const adopting = savedOriginal(live.metadata, description) === undefined;
      const original = originalToSave<OriginalRoute>(
        live.metadata,
        route.metadata,
        () => ({ spec: live.spec }),
        description,
      );
      if (original !== undefined) {
        // Replacing the spec on adoption drops fields the owner set and Fledge does not (e.g. hostnames),
        // which server-side apply would otherwise leave in place under the owner's field manager.
        await applyGuardedJsonPatch(this.#client, this.#ref(canary), [
          ...unchangedSince(live.metadata),
          ...saveOriginalOps(live.metadata, original),
          ...(adopting ? [{ op: 'replace' as const, path: '/spec', value: route.spec }] : []),
        ]);
        current = undefined;
      }
    }
    await applyObject(this.#client, route, { live: current });
  }

  async #live(canary: RoutableCanary): Promise<HTTPRoute | undefined> {
    try {
      return await this.#client.get<HTTPRoute>(this.#ref(canary));
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
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

  #describe(canary: RoutableCanary): string {
    return `${canary.metadata.namespace}/${serviceNames(requireService(canary, GATEWAY_API_PROVIDER)).apex}`;
  }
}
