import type { Canary, NormalizedCanarySpec } from '../api/index.ts';
import type { Measurement } from '../analysis/index.ts';
import type { HookResult, Observations, ObservedRoutes } from '../engine/index.ts';
import type { Task, TaskExecutor } from '../hooks/index.ts';
import type { CapabilityFinding, RoutableCanary, Router } from '../routers/index.ts';
import type { WorkloadObservation, WorkloadRegistry } from '../workloads/index.ts';
import { identityOf, providerOf } from './identity.ts';
import type { SourceRevisions } from './source-revision.ts';

/** Routers by provider, created once each. */
export interface RouterSet {
  forProvider(provider: string): Router;
}

export interface ObserverDeps {
  workloads: WorkloadRegistry;
  routers: RouterSet;
  hooks: TaskExecutor<HookResult>;
  measurements: TaskExecutor<Measurement>;
  sourceRevisions: SourceRevisions;
}

type RequestKind = 'hook' | 'metric';

/**
 * Reads what the engine decides on: the target and primary workloads, the weights
 * the router reports, and the results of hooks and metric queries it asked for on
 * earlier reconciles (run in the background by the executors).
 */
export class Observer {
  readonly #deps: ObserverDeps;
  /** Per canary key: the request ids asked for and still wanted, with their kind. */
  readonly #requested = new Map<string, Map<string, RequestKind>>();
  /** The last workload observation per key, for actions that need selectors and ports. */
  readonly #workloads = new Map<string, WorkloadObservation>();
  /** Per key, hooks whose answer nobody reads (post-rollout): they run to the end, whatever is awaited. */
  readonly #unread = new Map<string, Set<string>>();
  /** Per key, the spec fields the data plane behind the router was last seen to ignore. */
  readonly #ignoredByRoutes = new Map<string, readonly CapabilityFinding[]>();

  constructor(deps: ObserverDeps) {
    this.#deps = deps;
  }

  async observe(
    key: string,
    canary: Canary,
    spec: NormalizedCanarySpec,
    _signal: AbortSignal,
  ): Promise<Observations> {
    const workload = this.#deps.workloads.forCanary(canary);
    const router = this.#deps.routers.forProvider(providerOf(spec));
    const [world, routes] = await Promise.all([
      workload.observe(canary),
      router.getRoutes(routable(canary, spec)),
    ]);
    this.#workloads.set(key, world);
    this.#ignoredByRoutes.set(key, (routes.applied && routes.ignored) || []);
    const target = world.target;
    const sourceRevision = target.exists
      ? await this.#deps.sourceRevisions.read(key, target.revision, target.metadata)
      : undefined;

    const observations: Observations = {
      target: target.exists
        ? {
            exists: true,
            revision: target.revision,
            configs: target.configs,
            ready: target.ready,
            ...(sourceRevision === undefined ? {} : { sourceRevision }),
          }
        : { exists: false },
      primary: world.primary.exists
        ? {
            exists: true,
            ready: world.primary.ready,
            ...(world.primary.stamp === undefined ? {} : { stamp: world.primary.stamp }),
          }
        : { exists: false },
      routes: routes.applied ? weightsOf(routes) : undefined,
      hookResults: {},
      metricResults: {},
    };
    for (const [id, kind] of this.#requested.get(key) ?? []) {
      if (kind === 'hook') {
        const outcome = this.#deps.hooks.result(key, id);
        if (outcome?.status === 'fulfilled')
          observations.hookResults = { ...observations.hookResults, [id]: outcome.value };
      } else {
        const outcome = this.#deps.measurements.result(key, id);
        if (outcome?.status === 'fulfilled') {
          observations.metricResults = { ...observations.metricResults, [id]: outcome.value };
        }
      }
    }
    return observations;
  }

  /** The workload observation of the last reconcile of `key`. */
  lastWorkload(key: string): WorkloadObservation | undefined {
    return this.#workloads.get(key);
  }

  /**
   * What the last reconcile of `key` found that the run goes on without: spec fields the data plane that
   * took the routes is known to ignore, and why no commit is recorded.
   */
  findings(key: string): readonly CapabilityFinding[] {
    return [...(this.#ignoredByRoutes.get(key) ?? []), ...this.#deps.sourceRevisions.problems(key)];
  }

  requestHook(key: string, id: string, task: Task<HookResult>): void {
    this.#remember(key, id, 'hook');
    this.#deps.hooks.request(key, id, task);
  }

  /**
   * Sends a hook whose answer the engine does not read. It is asked for once, by the transition
   * that ends a run, so later reconciles must let it finish rather than cancel it as unwanted.
   */
  sendHook(key: string, id: string, task: Task<HookResult>): void {
    let unread = this.#unread.get(key);
    if (!unread) this.#unread.set(key, (unread = new Set()));
    unread.add(id);
    this.#deps.hooks.request(key, id, task);
  }

  requestMeasurement(key: string, id: string, task: Task<Measurement>): void {
    this.#remember(key, id, 'metric');
    this.#deps.measurements.request(key, id, task);
  }

  /** Drops every request the engine no longer waits for. */
  keepOnly(key: string, awaiting: readonly string[]): void {
    const wanted = new Set(awaiting);
    const requested = this.#requested.get(key);
    if (requested) for (const id of requested.keys()) if (!wanted.has(id)) requested.delete(id);
    const unread = this.#unread.get(key);
    const sending = new Set(wanted);
    for (const id of unread ?? []) {
      const state = this.#deps.hooks.state(key, id);
      if (state === undefined || state === 'settled') unread?.delete(id);
      else sending.add(id);
    }
    if (unread?.size === 0) this.#unread.delete(key);
    this.#deps.hooks.forget(key, sending);
    this.#deps.measurements.forget(key, wanted);
  }

  /** The Canary is gone: cancel and drop everything held for it. */
  forget(key: string): void {
    this.#requested.delete(key);
    this.#unread.delete(key);
    this.#workloads.delete(key);
    this.#ignoredByRoutes.delete(key);
    this.#deps.sourceRevisions.forget(key);
    this.#deps.hooks.forget(key);
    this.#deps.measurements.forget(key);
  }

  #remember(key: string, id: string, kind: RequestKind): void {
    let requested = this.#requested.get(key);
    if (!requested) this.#requested.set(key, (requested = new Map()));
    requested.set(id, kind);
  }
}

export function routable(canary: Canary, spec: NormalizedCanarySpec): RoutableCanary {
  return {
    metadata: identityOf(canary),
    spec,
    ...(canary.status ? { status: canary.status } : {}),
  };
}

function weightsOf(routes: ObservedRoutes): ObservedRoutes {
  return {
    primaryWeight: routes.primaryWeight,
    canaryWeight: routes.canaryWeight,
    mirrored: routes.mirrored,
  };
}
