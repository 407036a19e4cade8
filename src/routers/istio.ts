import { randomBytes } from 'node:crypto';
import type { KubeObjectClient, ObjectRef } from '../kube/client.ts';
import { MANAGE_VERBS } from '../kube/rbac.ts';
import { applyAdopting, describeRef, handBackObject, liveObject, writtenByFledge } from './adoption.ts';
import type { RouterDeclaration } from './declaration.ts';
import { INITIAL_ROUTE_STATE, cookiesForRoutes, keptRouteState, type RouteState } from './httproute.ts';
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
import {
  DESTINATION_RULE_KIND,
  ISTIO_API_VERSION,
  VIRTUAL_SERVICE_KIND,
  checkIstioSpec,
  isTcp,
  readVirtualService,
  renderDestinationRule,
  renderHandoffVirtualService,
  renderVirtualService,
  virtualServiceAcceptance,
  type DestinationRule,
  type VirtualService,
} from './virtualservice.ts';

// Istio: a VirtualService for the apex host and a DestinationRule each for -primary and
// -canary (Flagger's istio provider), written by server-side apply as "fledge". See
// virtualservice.ts for the layout of the routes.

export const ISTIO_PROVIDER = 'istio';

const destination =
  'reporter="destination",destination_workload_namespace="{{ namespace }}",destination_workload="{{ target }}"';

export const istioRouter: RouterDeclaration = {
  provider: ISTIO_PROVIDER,
  providers: ['istio'],
  availability: { state: 'available', create: (deps) => new IstioRouter(deps) },
  objects:
    '`VirtualService <apex>`, `DestinationRule <apex>-primary` and `<apex>-canary` (`networking.istio.io`)',
  features: ['weighted', 'abTesting', 'blueGreen', 'mirroring', 'sessionAffinity'],
  serviceFields: [
    'timeout',
    'retries',
    'match',
    'rewrite',
    'headers',
    'corsPolicy',
    'trafficPolicy',
    'gateways',
    'hosts',
    'delegation',
  ],
  ignoredServiceFields: [],
  requiredServiceFields: [],
  refs: [],
  alternatives: 'remove the field',
  readsMatchNames: true,
  checkExpressible: (spec) => {
    const identity = { name: 'preflight', namespace: 'preflight', uid: 'preflight' };
    renderVirtualService({ metadata: identity, spec }, INITIAL_ROUTE_STATE, true);
  },
  permissions: [
    {
      apiGroup: 'networking.istio.io',
      resources: ['virtualservices', 'destinationrules'],
      verbs: MANAGE_VERBS,
    },
  ],
  crds: {
    module: 'istio.io/api',
    version: 'v1.32.0',
    paths: ['kubernetes/customresourcedefinitions.gen.yaml'],
  },
  metrics: {
    requests: {
      series: 'istio_requests_total',
      selector: destination,
      successMatcher: 'response_code!~"5.."',
    },
    latency: {
      kind: 'p99',
      buckets: 'istio_request_duration_milliseconds_bucket',
      selector: destination,
      toMilliseconds: 1,
    },
    source: "Istio's standard metrics as reported by the canary workload's sidecar.",
  },
};

function defaultRandomToken(): string {
  return randomBytes(16).toString('hex');
}

export class IstioRouter implements Router {
  readonly provider = ISTIO_PROVIDER;
  readonly #client: KubeObjectClient;
  readonly #randomToken: () => string;

  constructor(deps: RouterDeps) {
    this.#client = deps.client;
    this.#randomToken = deps.randomToken ?? defaultRandomToken;
  }

  async reconcile(canary: RoutableCanary): Promise<void> {
    checkIstioSpec(canary);
    for (const host of this.#ruleHosts(canary)) {
      const ref = this.#ref(canary, DESTINATION_RULE_KIND, host);
      const live = await liveObject<DestinationRule>(this.#client, ref);
      await applyAdopting(this.#client, ref, live, canary, (owned) =>
        renderDestinationRule(canary, host, owned),
      );
    }
    const live = await liveObject<VirtualService>(this.#client, this.#vsRef(canary));
    const read = live === undefined ? undefined : this.#readable(canary, live);
    await this.#writeVirtualService(canary, live, keptRouteState(canary, read, this.#randomToken));
  }

  async setRoutes(canary: RoutableCanary, routes: DesiredRoutes): Promise<SetRoutesResult> {
    validateWeights(routes);
    const live = await liveObject<VirtualService>(this.#client, this.#vsRef(canary));
    const read = live === undefined ? undefined : this.#readable(canary, live);
    const cookies = cookiesForRoutes(canary, routes, read, this.#randomToken);
    await this.#writeVirtualService(canary, live, { ...routes, cookies });
    return { cookies };
  }

  async getRoutes(canary: RoutableCanary): Promise<RouteReadback> {
    const ref = this.#vsRef(canary);
    const live = await liveObject<VirtualService>(this.#client, ref);
    if (live === undefined) return { applied: false, reason: `${describeRef(ref)} does not exist` };
    const service = requireService(canary, ISTIO_PROVIDER);
    const state = readVirtualService(live, serviceNames(service), isTcp(service));
    if (!state.ok) return { applied: false, reason: state.reason };
    const acceptance = virtualServiceAcceptance(live);
    if (!acceptance.accepted) return { applied: false, reason: acceptance.reason, written: state.weights };
    return { applied: true, ...state.weights, cookies: state.cookies };
  }

  async finalize(canary: RoutableCanary, handBack: HandBack): Promise<void> {
    const handoff = (owned: boolean) => renderHandoffVirtualService(canary, owned);
    await handBackObject(this.#client, this.#vsRef(canary), canary, handoff, handBack);
    for (const host of this.#ruleHosts(canary)) {
      const ref = this.#ref(canary, DESTINATION_RULE_KIND, host);
      const release = (owned: boolean) => renderDestinationRule(canary, host, owned, false);
      await handBackObject(this.#client, ref, canary, release, handBack);
    }
  }

  /** The state a VirtualService Fledge has written carries; undefined for one it has not written yet. */
  #readable(canary: RoutableCanary, live: VirtualService): RouteState | undefined {
    if (!writtenByFledge(live, canary, describeRef(this.#vsRef(canary)))) return undefined;
    const service = requireService(canary, ISTIO_PROVIDER);
    const state = readVirtualService(live, serviceNames(service), isTcp(service));
    if (!state.ok) return undefined;
    const { primaryWeight, canaryWeight, mirrored } = state.weights;
    return { primaryWeight, canaryWeight, mirror: mirrored, cookies: state.cookies };
  }

  async #writeVirtualService(
    canary: RoutableCanary,
    live: VirtualService | undefined,
    state: RouteState,
  ): Promise<void> {
    await applyAdopting(this.#client, this.#vsRef(canary), live, canary, (owned) =>
      renderVirtualService(canary, state, owned, live),
    );
  }

  #ruleHosts(canary: RoutableCanary): string[] {
    const names = serviceNames(requireService(canary, ISTIO_PROVIDER));
    return [names.primary, names.canary];
  }

  #vsRef(canary: RoutableCanary): ObjectRef {
    return this.#ref(canary, VIRTUAL_SERVICE_KIND, serviceNames(requireService(canary, ISTIO_PROVIDER)).apex);
  }

  #ref(canary: RoutableCanary, kind: string, name: string): ObjectRef {
    return { apiVersion: ISTIO_API_VERSION, kind, namespace: canary.metadata.namespace, name };
  }
}
