import {
  FINALIZER,
  type Condition,
  normalizeCanary,
  type Canary,
  type CanaryStatus,
  type NormalizedCanarySpec,
  type RouterProvider,
} from '../api/index.ts';
import { decide, statusMergePatch, type Action, type Decision, type Observations } from '../engine/index.ts';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { KubeObjectClient } from '../kube/client.ts';
import { describeKubeError, isConflict } from '../kube/errors.ts';
import { addFinalizer, patchStatus, removeFinalizer } from '../kube/patch.ts';
import type { WorkResult } from '../runtime/work-queue.ts';
import { parseObjectKey } from '../runtime/keys.ts';
import { reconcileLogger, type Logger } from '../telemetry/logger.ts';
import type { CanaryTelemetry } from './telemetry.ts';
import type { Effects } from './effects.ts';
import { asKubeObject } from './identity.ts';
import type { Observer } from './observer.ts';
import { OwnWrites } from './own-writes.ts';

export interface ReconcilerDeps {
  log: Logger;
  now: () => Date;
  clusterName: string;
  defaultProvider: RouterProvider;
  client: KubeObjectClient;
  /** The Canary informer's cache. */
  canaries: { get(namespace: string, name: string): Readonly<Canary> | undefined };
  observer: Observer;
  effects: Effects;
  telemetry: CanaryTelemetry;
}

/** How long to wait before looking again at a Canary whose spec cannot be acted on. */
const invalidSpecRetryMs = 60_000;
/**
 * When to look again at a Canary whose cached copy is older than Fledge's last write.
 * The watch event of that write enqueues it sooner; this only covers a watch that is down.
 */
const staleCacheRetryMs = 1_000;

/**
 * One reconcile: read the Canary and the world, let the pure core decide, write the
 * decided status in one patch, then carry out the actions. Everything needed to go on
 * is in status or read back from the cluster, so any replica can run the next one.
 */
export function createReconciler(deps: ReconcilerDeps) {
  const ownWrites = new OwnWrites();
  return async function reconcile(key: string, signal: AbortSignal): Promise<WorkResult> {
    const { namespace, name } = parseObjectKey(key);
    const cached = deps.canaries.get(namespace, name);
    if (!cached) {
      ownWrites.forget(key);
      deps.observer.forget(key);
      await deps.telemetry.forget(name, namespace);
      return {};
    }
    const log = reconcileLogger(deps.log, { controller: 'canary', namespace, name });
    if (ownWrites.isStale(key, cached.metadata.resourceVersion)) {
      log.debug(
        { resourceVersion: cached.metadata.resourceVersion },
        'cached Canary is older than the last write: waiting for the cache',
      );
      return { requeueAfterMs: staleCacheRetryMs };
    }
    const canary = structuredClone(cached) as Canary;
    /** Writes the Canary guarded by the version it was read at; a refused write leaves no decision behind. */
    const write = async (
      send: (resourceVersion: string | undefined) => Promise<KubernetesObject | undefined>,
    ): Promise<boolean> => {
      const from = canary.metadata.resourceVersion;
      try {
        const written = await send(from);
        const { resourceVersion, finalizers } = written?.metadata ?? {};
        // A write that changed nothing keeps the version, and no watch event will follow it.
        if (written === undefined || resourceVersion === from) return true;
        ownWrites.replaced(key, from);
        canary.metadata = { ...canary.metadata, resourceVersion, finalizers };
        return true;
      } catch (err) {
        if (!isConflict(err)) throw err;
        ownWrites.replaced(key, from);
        log.debug({ resourceVersion: from, err: describeKubeError(err) }, 'Canary changed since it was read');
        return false;
      }
    };

    let spec: NormalizedCanarySpec;
    try {
      spec = normalizeCanary(canary, { defaultProvider: deps.defaultProvider }).spec;
    } catch (err) {
      const message = (err as Error).message;
      log.warn({ reason: message }, 'spec cannot be acted on');
      if (canary.metadata.deletionTimestamp !== undefined) {
        // Nothing can be handed back by a spec Fledge cannot read; holding on would keep the Canary forever.
        deps.effects.warn(canary, 'InvalidSpec', `${message}; deleted without handing traffic back`);
        await removeFinalizer(deps.client, asKubeObject(canary), FINALIZER, { signal });
        return {};
      }
      deps.effects.warn(canary, 'InvalidSpec', message);
      const conditions = invalidSpecConditions(canary, message, deps.now());
      const written =
        conditions === undefined ||
        (await write((resourceVersion) =>
          patchStatus(deps.client, asKubeObject(canary), { conditions }, { signal, resourceVersion }),
        ));
      return { requeueAfterMs: written ? invalidSpecRetryMs : staleCacheRetryMs };
    }

    const deleting = canary.metadata.deletionTimestamp !== undefined;
    const finalizers = canary.metadata.finalizers ?? [];
    if (deleting && !finalizers.includes(FINALIZER)) return {};
    // Every Canary, whatever revertOnDeletion says: deletion hands traffic back before the primary goes.
    if (!deleting && !finalizers.includes(FINALIZER)) {
      const added = await write(() => addFinalizer(deps.client, asKubeObject(canary), FINALIZER, { signal }));
      if (!added) return { requeueAfterMs: staleCacheRetryMs };
    }

    const observed: Observations = await deps.observer.observe(key, canary, spec, signal);
    const previous: CanaryStatus = canary.status ?? {};
    const decision: Decision = decide({
      canary: {
        metadata: {
          name,
          namespace,
          uid: canary.metadata.uid ?? '',
          generation: canary.metadata.generation ?? 0,
          ...(canary.metadata.annotations ? { annotations: canary.metadata.annotations } : {}),
          ...(canary.metadata.deletionTimestamp
            ? { deletionTimestamp: canary.metadata.deletionTimestamp }
            : {}),
        },
        spec,
        status: previous,
      },
      observed,
      now: deps.now(),
      clusterName: deps.clusterName,
    });
    // The status goes first: every state-changing action is repeated until observed
    // done, so a crash between the two only replays actions, never loses progress.
    const patch = statusMergePatch(previous, decision.status);
    // Info when the status moves; every other decision only at debug, with what it was based on.
    log[patch === undefined ? 'debug' : 'info'](describeDecision(decision, observed), 'decided');
    if (patch !== undefined) {
      const written = await write((resourceVersion) =>
        patchStatus(deps.client, asKubeObject(canary), patch as Record<string, unknown>, {
          signal,
          resourceVersion,
        }),
      );
      // Decided on a copy someone else has since changed: decide again on theirs, act on nothing.
      if (!written) return { requeueAfterMs: staleCacheRetryMs };
      if (canary.metadata.resourceVersion === cached.metadata.resourceVersion)
        log.debug({ patch }, 'status patch changed nothing on the apiserver');
    }
    deps.observer.keepOnly(key, decision.awaiting);
    deps.telemetry.observe(canary, spec, previous, decision.status);

    const withStatus: Canary = { ...canary, status: decision.status };
    for (const action of decision.actions) {
      if (signal.aborted) break;
      await runAction(deps, withStatus, spec, action, key, log, signal);
    }
    return decision.requeueAfterMs === undefined ? {} : { requeueAfterMs: decision.requeueAfterMs };
  };
}

async function runAction(
  deps: ReconcilerDeps,
  canary: Canary,
  spec: NormalizedCanarySpec,
  action: Action,
  key: string,
  log: Logger,
  signal: AbortSignal,
): Promise<void> {
  if (action.kind === 'finalise') {
    await deps.effects.finalise(canary, spec);
    await removeFinalizer(deps.client, asKubeObject(canary), FINALIZER, { signal });
    return;
  }
  try {
    await deps.effects.apply(key, canary, spec, action);
  } catch (err) {
    // Level-triggered actions are retried by the next reconcile; say what failed.
    log.warn({ action: action.kind, err: describeKubeError(err) }, 'action failed');
    throw err;
  }
}

/** What a decision log line says: the rows fired, where the run stands, what was seen and what follows. */
function describeDecision(decision: Decision, observed: Observations): Record<string, unknown> {
  const { status } = decision;
  return {
    transitions: decision.transitions,
    phase: status.phase,
    weight: status.canaryWeight,
    ...(status.tick === undefined ? {} : { run: status.run, tick: status.tick.number }),
    observed: {
      target: observed.target.exists
        ? { revision: observed.target.revision, ready: observed.target.ready.ready }
        : 'missing',
      primary: observed.primary.exists ? { ready: observed.primary.ready.ready } : 'missing',
      routes: observed.routes ?? 'not applied',
      results: Object.keys(observed.hookResults).length + Object.keys(observed.metricResults).length,
    },
    actions: decision.actions.map((action) => action.kind),
    awaiting: decision.awaiting.length,
    ...(decision.requeueAfterMs === undefined ? {} : { requeueAfterMs: decision.requeueAfterMs }),
  };
}

/** The conditions that say the spec cannot be acted on; undefined when status says so already. */
function invalidSpecConditions(canary: Canary, message: string, now: Date): Condition[] | undefined {
  const ready = canary.status?.conditions?.find((c) => c.type === 'Ready');
  if (ready?.status === 'False' && ready.reason === 'InvalidSpec' && ready.message === message)
    return undefined;
  const conditions = (canary.status?.conditions ?? []).filter((c) => c.type !== 'Ready');
  conditions.push({
    type: 'Ready',
    status: 'False',
    reason: 'InvalidSpec',
    message,
    lastTransitionTime: now.toISOString(),
    ...(canary.metadata.generation === undefined ? {} : { observedGeneration: canary.metadata.generation }),
  });
  return conditions;
}
