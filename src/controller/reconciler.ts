import {
  FINALIZER,
  normalizeCanary,
  type Canary,
  type CanaryStatus,
  type NormalizedCanarySpec,
  type RouterProvider,
} from '../api/index.ts';
import { decide, statusMergePatch, type Action, type Decision, type Observations } from '../engine/index.ts';
import type { KubeObjectClient } from '../kube/client.ts';
import { describeKubeError } from '../kube/errors.ts';
import { addFinalizer, patchStatus, removeFinalizer } from '../kube/patch.ts';
import type { WorkResult } from '../runtime/work-queue.ts';
import { parseObjectKey } from '../runtime/keys.ts';
import { reconcileLogger, type Logger } from '../telemetry/logger.ts';
import type { CanaryTelemetry } from './telemetry.ts';
import type { Effects } from './effects.ts';
import { asKubeObject } from './identity.ts';
import type { Observer } from './observer.ts';

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
 * One reconcile: read the Canary and the world, let the pure core decide, write the
 * decided status in one patch, then carry out the actions. Everything needed to go on
 * is in status or read back from the cluster, so any replica can run the next one.
 */
export function createReconciler(deps: ReconcilerDeps) {
  return async function reconcile(key: string, signal: AbortSignal): Promise<WorkResult> {
    const { namespace, name } = parseObjectKey(key);
    const cached = deps.canaries.get(namespace, name);
    if (!cached) {
      deps.observer.forget(key);
      await deps.telemetry.forget(name, namespace);
      return {};
    }
    const canary = structuredClone(cached) as Canary;
    const log = reconcileLogger(deps.log, { controller: 'canary', namespace, name });

    let spec: NormalizedCanarySpec;
    try {
      spec = normalizeCanary(canary, { defaultProvider: deps.defaultProvider }).spec;
    } catch (err) {
      await reportInvalidSpec(deps, canary, (err as Error).message, log);
      return { requeueAfterMs: invalidSpecRetryMs };
    }

    const deleting = canary.metadata.deletionTimestamp !== undefined;
    const finalizers = canary.metadata.finalizers ?? [];
    if (deleting && !finalizers.includes(FINALIZER)) return {};
    if (!deleting && spec.revertOnDeletion && !finalizers.includes(FINALIZER)) {
      await addFinalizer(deps.client, asKubeObject(canary), FINALIZER, { signal });
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
    if (decision.transitions.length > 0) {
      log.info(
        {
          transitions: decision.transitions,
          phase: decision.status.phase,
          weight: decision.status.canaryWeight,
        },
        'decided',
      );
    }

    // The status goes first: every state-changing action is repeated until observed
    // done, so a crash between the two only replays actions, never loses progress.
    const patch = statusMergePatch(previous, decision.status);
    if (patch !== undefined) {
      await patchStatus(deps.client, asKubeObject(canary), patch as Record<string, unknown>, { signal });
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

async function reportInvalidSpec(
  deps: ReconcilerDeps,
  canary: Canary,
  message: string,
  log: Logger,
): Promise<void> {
  log.warn({ reason: message }, 'spec cannot be acted on');
  deps.effects.warn(canary, 'InvalidSpec', message);
  const ready = canary.status?.conditions?.find((c) => c.type === 'Ready');
  if (ready?.status === 'False' && ready.reason === 'InvalidSpec' && ready.message === message) return;
  const conditions = (canary.status?.conditions ?? []).filter((c) => c.type !== 'Ready');
  conditions.push({
    type: 'Ready',
    status: 'False',
    reason: 'InvalidSpec',
    message,
    lastTransitionTime: deps.now().toISOString(),
    ...(canary.metadata.generation === undefined ? {} : { observedGeneration: canary.metadata.generation }),
  });
  await patchStatus(deps.client, asKubeObject(canary), { conditions });
}
