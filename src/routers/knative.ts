import { PRIMARY_REVISION_ANNOTATION } from '../api/constants.ts';
import type { KubeObjectClient, ObjectRef } from '../kube/client.ts';
import { fieldManager, PatchStrategy } from '../kube/patch.ts';
import { liveObject, type RoutingObject } from './adoption.ts';
import { NO_ROUTING_FIELDS, type RouterDeclaration } from './declaration.ts';
import { envoyMetrics } from './metrics.ts';
import {
  NO_SESSION_COOKIES,
  RouterConfigError,
  validateWeights,
  type DesiredRoutes,
  type HandBack,
  type RoutableCanary,
  type RouteReadback,
  type Router,
  type RouterDeps,
  type SetRoutesResult,
} from './router.ts';

// Knative: the target is a Knative Service, and its own spec.traffic is the split. The
// primary is a revision pinned by name in the Service's PRIMARY_REVISION_ANNOTATION (the
// workload side, src/workloads/knative.ts, pins it); the canary is the revision under
// analysis, also pinned by name, so a revision created mid-run gets no traffic until a run
// analyses it. No Services are made: Knative routes to revisions itself.

export const KNATIVE_PROVIDER = 'knative';
export const KNATIVE_API_VERSION = 'serving.knative.dev/v1';

export interface TrafficTarget {
  revisionName?: string;
  configurationName?: string;
  latestRevision?: boolean;
  percent?: number;
  tag?: string;
}

export interface KnativeCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
}

export interface KnativeService {
  apiVersion: typeof KNATIVE_API_VERSION;
  kind: 'Service';
  metadata: {
    name?: string;
    namespace?: string;
    generation?: number;
    annotations?: Record<string, string>;
  };
  spec?: { template?: unknown; traffic?: TrafficTarget[] };
  status?: {
    observedGeneration?: number;
    latestCreatedRevisionName?: string;
    latestReadyRevisionName?: string;
    traffic?: TrafficTarget[];
    conditions?: KnativeCondition[];
  };
}

export function knativeServiceRef(namespace: string, name: string): ObjectRef {
  return { apiVersion: KNATIVE_API_VERSION, kind: 'Service', namespace, name };
}

/** The Knative Service a Canary targets, or undefined when it does not exist. */
export async function readKnativeService(
  client: KubeObjectClient,
  namespace: string,
  name: string,
): Promise<KnativeService | undefined> {
  return liveObject<KnativeService & RoutingObject>(client, knativeServiceRef(namespace, name));
}

/** The revision Fledge serves as the primary, once the Canary is initialised. */
export function primaryRevisionOf(service: KnativeService): string | undefined {
  return service.metadata.annotations?.[PRIMARY_REVISION_ANNOTATION];
}

/** Merge-patches the Knative Service as "fledge" (a merge patch replaces spec.traffic as a whole). */
export async function patchKnativeService(
  client: KubeObjectClient,
  namespace: string,
  name: string,
  patch: Record<string, unknown>,
): Promise<void> {
  await client.patch(knativeServiceRef(namespace, name), patch, PatchStrategy.MergePatch, {
    query: { fieldManager },
  });
}

/**
 * The traffic block for a split: the primary revision first, the analysed one second (also
 * when they are the same revision, as right after a promotion). Knative keeps that order in
 * status.traffic, so the weights read back by position.
 */
export function renderTraffic(
  primary: string,
  canary: string | undefined,
  routes: Pick<DesiredRoutes, 'primaryWeight' | 'canaryWeight'>,
): TrafficTarget[] {
  if (canary === undefined) {
    if (routes.canaryWeight !== 0)
      throw new Error('no revision is under analysis: the canary revision cannot get traffic');
    return [{ revisionName: primary, percent: 100 }];
  }
  return [
    { revisionName: primary, percent: routes.primaryWeight },
    { revisionName: canary, percent: routes.canaryWeight },
  ];
}

/** The weights of a traffic block laid out by renderTraffic; why not when it is laid out otherwise. */
export function readTraffic(
  traffic: readonly TrafficTarget[],
  primary: string,
  canary: string | undefined,
): { ok: true; primaryWeight: number; canaryWeight: number } | { ok: false; reason: string } {
  const [first, second, ...rest] = traffic;
  const names = traffic.map(
    (t) => `${t.revisionName ?? (t.latestRevision ? 'latest' : '?')} ${t.percent ?? 0}%`,
  );
  const laidOut =
    rest.length === 0 &&
    first?.revisionName === primary &&
    (second === undefined ? true : canary !== undefined && second.revisionName === canary);
  if (!laidOut)
    return {
      ok: false,
      reason: `traffic is [${names.join(', ')}], not primary ${primary} then ${canary ?? 'no'} canary revision`,
    };
  return { ok: true, primaryWeight: first.percent ?? 0, canaryWeight: second?.percent ?? 0 };
}

/** The revision under analysis: what the engine last recorded of the target. */
function analysedRevision(canary: RoutableCanary): string | undefined {
  return canary.status?.lastAppliedSpec;
}

export class KnativeRouter implements Router {
  readonly provider = KNATIVE_PROVIDER;
  readonly #client: KubeObjectClient;

  constructor(deps: RouterDeps) {
    this.#client = deps.client;
  }

  // The Knative Service is the user's: there is nothing to create.
  async reconcile(): Promise<void> {}

  async setRoutes(canary: RoutableCanary, routes: DesiredRoutes): Promise<SetRoutesResult> {
    validateWeights(routes);
    if (routes.mirror)
      throw new RouterConfigError('provider knative cannot mirror traffic: remove spec.analysis.mirror');
    const { service, primary } = await this.#read(canary);
    const traffic = renderTraffic(primary, analysedRevision(canary), routes);
    if (JSON.stringify(service.spec?.traffic ?? []) !== JSON.stringify(traffic)) {
      const { namespace, name } = this.#target(canary);
      await patchKnativeService(this.#client, namespace, name, { spec: { traffic } });
    }
    return { cookies: { ...NO_SESSION_COOKIES } };
  }

  async getRoutes(canary: RoutableCanary): Promise<RouteReadback> {
    const { namespace, name } = this.#target(canary);
    const service = await readKnativeService(this.#client, namespace, name);
    if (service === undefined)
      return { applied: false, reason: `Knative Service ${namespace}/${name} does not exist` };
    const primary = primaryRevisionOf(service);
    if (primary === undefined)
      return {
        applied: false,
        reason: `Knative Service ${namespace}/${name} has no primary revision pinned yet`,
      };
    const revision = analysedRevision(canary);
    const written = readTraffic(service.spec?.traffic ?? [], primary, revision);
    const where = `Knative Service ${namespace}/${name}`;
    if (!written.ok) return { applied: false, reason: `${where}: spec.${written.reason}` };
    // Knative's own status says what it routes, once it has caught up with the spec.
    const generation = service.metadata.generation;
    if (generation !== undefined && service.status?.observedGeneration !== generation) {
      return {
        applied: false,
        reason: `Knative has not reconciled generation ${generation} of ${where} yet`,
        written: {
          primaryWeight: written.primaryWeight,
          canaryWeight: written.canaryWeight,
          mirrored: false,
        },
      };
    }
    const routed = readTraffic(service.status?.traffic ?? [], primary, revision);
    if (!routed.ok) return { applied: false, reason: `${where}: status.${routed.reason}` };
    return {
      applied: true,
      primaryWeight: routed.primaryWeight,
      canaryWeight: routed.canaryWeight,
      mirrored: false,
      cookies: { ...NO_SESSION_COOKIES },
    };
  }

  /** Hands the Service back to Knative's default, all traffic to its latest ready revision. */
  async finalize(canary: RoutableCanary, _handBack: HandBack): Promise<void> {
    const { namespace, name } = this.#target(canary);
    const service = await readKnativeService(this.#client, namespace, name);
    if (service === undefined || primaryRevisionOf(service) === undefined) return;
    await patchKnativeService(this.#client, namespace, name, {
      metadata: { annotations: { [PRIMARY_REVISION_ANNOTATION]: null } },
      spec: { traffic: [{ latestRevision: true, percent: 100 }] },
    });
  }

  async #read(canary: RoutableCanary): Promise<{ service: KnativeService; primary: string }> {
    const { namespace, name } = this.#target(canary);
    const service = await readKnativeService(this.#client, namespace, name);
    if (service === undefined) throw new Error(`Knative Service ${namespace}/${name} does not exist`);
    const primary = primaryRevisionOf(service);
    // The workload pins it while initialising, before any route is set.
    if (primary === undefined)
      throw new Error(`Knative Service ${namespace}/${name} has no primary revision pinned yet`);
    return { service, primary };
  }

  #target(canary: RoutableCanary): { namespace: string; name: string } {
    return { namespace: canary.metadata.namespace, name: canary.spec.targetRef.name };
  }
}

export const knativeRouter: RouterDeclaration = {
  provider: KNATIVE_PROVIDER,
  providers: ['knative'],
  availability: { state: 'available', create: (deps) => new KnativeRouter(deps) },
  objects:
    "the Knative Service's `spec.traffic` (`serving.knative.dev/v1`), split between two revisions pinned by name",
  features: ['weighted', 'blueGreen'],
  ...NO_ROUTING_FIELDS,
  permissions: [
    { apiGroup: 'serving.knative.dev', resources: ['services'], verbs: ['get', 'list', 'watch', 'patch'] },
  ],
  crds: { module: 'knative.dev/serving', version: 'v0.51.0', paths: ['config/core/300-resources'] },
  metrics: envoyMetrics(
    'envoy_cluster_name="{{ namespace }}/{{ route }}"',
    "Envoy metrics of Knative's ingress; the cluster of the canary is `<namespace>/<revision>`, with the revision under analysis as `route`.",
  ),
};
