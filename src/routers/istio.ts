import { randomBytes } from 'node:crypto';
import type { KubeObjectClient, ObjectRef } from '../kube/client.ts';
import { isNotFound } from '../kube/errors.ts';
import { applyGuardedJsonPatch, applyObject } from '../kube/patch.ts';
import { MANAGE_VERBS } from '../kube/rbac.ts';
import type { RouterDeclaration } from './declaration.ts';
import { INITIAL_ROUTE_STATE, nextSessionCookies, statusCookies, type RouteState } from './httproute.ts';
import {
  ownershipOf,
  originalToSave,
  removeOriginalOp,
  restoreOwnerMetadataOps,
  saveOriginalOps,
  savedOriginal,
  unchangedSince,
  type ObjectMeta,
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

/** What an adopted VirtualService or DestinationRule looked like before Fledge took it over. */
interface OriginalIstioObject extends OriginalMetadata {
  spec: unknown;
}

type IstioObject = VirtualService | DestinationRule;

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
    const { primary, canary: canaryHost } = serviceNames(requireService(canary, ISTIO_PROVIDER));
    for (const host of [primary, canaryHost]) {
      const ref = this.#ref(canary, DESTINATION_RULE_KIND, host);
      const live = await this.#live<DestinationRule>(ref);
      await this.#write(ref, live, canary, (owned) => renderDestinationRule(canary, host, owned));
    }
    const live = await this.#live<VirtualService>(this.#vsRef(canary));
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
    await this.#writeVirtualService(canary, live, { ...current, cookies });
  }

  async setRoutes(canary: RoutableCanary, routes: DesiredRoutes): Promise<SetRoutesResult> {
    validateWeights(routes);
    const live = await this.#live<VirtualService>(this.#vsRef(canary));
    const known =
      (live === undefined ? undefined : this.#readable(canary, live))?.cookies ?? statusCookies(canary);
    const cookies =
      routes.cookies ??
      nextSessionCookies(canary.spec.analysis.sessionAffinity, routes.canaryWeight, known, this.#randomToken);
    await this.#writeVirtualService(canary, live, { ...routes, cookies });
    return { cookies };
  }

  async getRoutes(canary: RoutableCanary): Promise<RouteReadback> {
    const live = await this.#live<VirtualService>(this.#vsRef(canary));
    if (live === undefined) {
      return { applied: false, reason: `VirtualService ${this.#describe(canary)} does not exist` };
    }
    const service = requireService(canary, ISTIO_PROVIDER);
    const state = readVirtualService(live, serviceNames(service), isTcp(service));
    if (!state.ok) return { applied: false, reason: state.reason };
    const acceptance = virtualServiceAcceptance(live);
    if (!acceptance.accepted) return { applied: false, reason: acceptance.reason, written: state.weights };
    return { applied: true, ...state.weights, cookies: state.cookies };
  }

  async finalize(canary: RoutableCanary, handBack: HandBack): Promise<void> {
    const { primary, canary: canaryHost } = serviceNames(requireService(canary, ISTIO_PROVIDER));
    await this.#handBack(
      canary,
      this.#vsRef(canary),
      (owned) => renderHandoffVirtualService(canary, owned),
      handBack,
    );
    for (const host of [primary, canaryHost]) {
      await this.#handBack(
        canary,
        this.#ref(canary, DESTINATION_RULE_KIND, host),
        (owned) => renderDestinationRule(canary, host, owned, false),
        handBack,
      );
    }
  }

  /** Restores an adopted object from its saved original; releases (or leaves to GC) one Fledge created. */
  async #handBack(
    canary: RoutableCanary,
    ref: ObjectRef,
    handoff: (owned: boolean) => IstioObject,
    handBack: HandBack,
  ): Promise<void> {
    const live = await this.#live<IstioObject>(ref);
    if (live === undefined) return;
    const description = `${ref.kind} ${canary.metadata.namespace}/${ref.name}`;
    const original = savedOriginal<OriginalIstioObject>(live.metadata, description);
    if (original !== undefined) {
      await applyGuardedJsonPatch(this.#client, ref, [
        ...unchangedSince(live.metadata),
        { op: 'replace', path: '/spec', value: original.spec },
        ...restoreOwnerMetadataOps(live.metadata, original),
        removeOriginalOp(),
      ]);
      return;
    }
    if (ownershipOf(live.metadata, canary, description) === 'owned') {
      // Applied without the owner reference, the object is released and not garbage collected.
      await applyObject(this.#client, handoff(!handBack.release));
    }
  }

  /** The state a VirtualService Fledge has written carries; undefined for one it has not written yet. */
  #readable(canary: RoutableCanary, live: VirtualService): RouteState | undefined {
    const description = `VirtualService ${this.#describe(canary)}`;
    const ownership = ownershipOf(live.metadata, canary, description);
    if (ownership === 'adopted' && savedOriginal(live.metadata, description) === undefined) return undefined;
    const service = requireService(canary, ISTIO_PROVIDER);
    const state = readVirtualService(live, serviceNames(service), isTcp(service));
    if (!state.ok) return undefined;
    return {
      primaryWeight: state.weights.primaryWeight,
      canaryWeight: state.weights.canaryWeight,
      mirror: state.weights.mirrored,
      cookies: state.cookies,
    };
  }

  async #writeVirtualService(
    canary: RoutableCanary,
    live: VirtualService | undefined,
    state: RouteState,
  ): Promise<void> {
    await this.#write(this.#vsRef(canary), live, canary, (owned) =>
      renderVirtualService(canary, state, owned, live),
    );
  }

  /**
   * Server-side applies what `render` makes. An object that existed before the Canary is
   * adopted: its spec, labels and annotations are saved first, for finalize to restore.
   */
  async #write<T extends IstioObject>(
    ref: ObjectRef,
    live: T | undefined,
    canary: RoutableCanary,
    render: (owned: boolean) => T,
  ): Promise<void> {
    const description = `${ref.kind} ${canary.metadata.namespace}/${ref.name}`;
    const owned = live === undefined || ownershipOf(live.metadata, canary, description) === 'owned';
    // Render first, so a spec error leaves an adopted object untouched.
    const desired = render(owned);
    if (!owned && live !== undefined) {
      const adopting = savedOriginal(live.metadata, description) === undefined;
      const original = originalToSave<OriginalIstioObject>(
        live.metadata,
        desired.metadata,
        () => ({ spec: live.spec }),
        description,
      );
      if (original !== undefined) {
        // Replacing the spec on adoption drops fields the owner set and Fledge does not, which
        // server-side apply would otherwise leave in place under the owner's field manager.
        await applyGuardedJsonPatch(this.#client, ref, [
          ...unchangedSince(live.metadata),
          ...saveOriginalOps(live.metadata, original),
          ...(adopting ? [{ op: 'replace' as const, path: '/spec', value: desired.spec }] : []),
        ]);
      }
    }
    await applyObject(this.#client, desired);
  }

  async #live<T extends { metadata: ObjectMeta }>(ref: ObjectRef): Promise<T | undefined> {
    try {
      return await this.#client.get<T>(ref);
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  #vsRef(canary: RoutableCanary): ObjectRef {
    return this.#ref(canary, VIRTUAL_SERVICE_KIND, serviceNames(requireService(canary, ISTIO_PROVIDER)).apex);
  }

  #ref(canary: RoutableCanary, kind: string, name: string): ObjectRef {
    return { apiVersion: ISTIO_API_VERSION, kind, namespace: canary.metadata.namespace, name };
  }

  #describe(canary: RoutableCanary): string {
    return `${canary.metadata.namespace}/${serviceNames(requireService(canary, ISTIO_PROVIDER)).apex}`;
  }
}
