import { cloneJson } from '../api/clone.ts';
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
import { knownSecrets } from '../telemetry/secrets.ts';
import type { CanaryTelemetry } from './telemetry.ts';
import type { CapabilityFinding } from '../routers/index.ts';
import type { Effects } from './effects.ts';
import { classifyError, type RefusalReason } from './failures.ts';
import { asKubeObject } from './identity.ts';
import type { Observer } from './observer.ts';
import { OwnWrites } from './own-writes.ts';
import type { Preflight } from './preflight.ts';

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
  /** Capability and reference checks before the engine decides (preflight.ts). */
  preflight: Preflight;
  /** Counts refusals and transient failures; optional for tests. */
  failures?: FailureCounters;
}

export interface FailureCounters {
  /** A reconcile failed with an error a retry can fix; it is retried with back-off. */
  transient(reason: string): void;
  /** A Canary was refused (Ready=False and a Warning event). */
  refused(reason: RefusalReason): void;
}

/**
 * How long to wait before looking again at a Canary Fledge refused. A change of the
 * Canary or of an object it names enqueues it sooner; this covers what no watch sees.
 */
const refusedRetryMs = 5 * 60_000;
/** Event reason naming the spec fields the Canary's router (or Fledge) ignores. */
export const IGNORED_FIELDS_REASON = 'FieldsIgnored';
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
  /** Per key, what the last Warning event said, so a refusal or an ignored field is told once. */
  const warned = new Map<string, string>();
  const ignoredWarned = new Map<string, string>();
  /** Canaries whose last decided Events this process has sent again (once per process, after a crash). */
  const replayed = new Set<string>();
  return async function reconcile(key: string, signal: AbortSignal): Promise<WorkResult> {
    const { namespace, name } = parseObjectKey(key);
    const cached = deps.canaries.get(namespace, name);
    if (!cached) {
      ownWrites.forget(key);
      replayed.delete(key);
      warned.delete(key);
      ignoredWarned.delete(key);
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
    const canary = cloneJson(cached) as Canary;
    const cachedVersion = cached.metadata.resourceVersion;
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

    /**
     * A Canary retrying cannot help: Ready=False with the reason, one Warning event, a
     * long requeue. A deleted one is let go, as nothing can be handed back by it.
     */
    const refuse = async (reason: RefusalReason, message: string): Promise<WorkResult> => {
      log.warn({ reason, message }, 'Canary refused: it cannot be acted on as written');
      if (canary.metadata.deletionTimestamp !== undefined) {
        deps.effects.warn(canary, reason, `${message}; deleted without handing traffic back`);
        await removeFinalizer(deps.client, asKubeObject(canary), FINALIZER, { signal });
        return {};
      }
      const conditions = refusalConditions(canary, reason, message, deps.now());
      if (conditions !== undefined) {
        const written = await write((resourceVersion) =>
          patchStatus(deps.client, asKubeObject(canary), { conditions }, { signal, resourceVersion }),
        );
        if (!written) return { requeueAfterMs: staleCacheRetryMs };
      }
      const told = `${canary.metadata.generation ?? 0}\0${reason}\0${message}`;
      if (conditions !== undefined && warned.get(key) !== told) {
        deps.effects.warn(canary, reason, message);
        deps.failures?.refused(reason);
      }
      warned.set(key, told);
      return { requeueAfterMs: refusedRetryMs };
    };

    let spec: NormalizedCanarySpec;
    try {
      spec = normalizeCanary(canary, { defaultProvider: deps.defaultProvider }).spec;
    } catch (err) {
      return refuse('InvalidSpec', (err as Error).message);
    }

    try {
      return await decideAndAct(spec);
    } catch (err) {
      const failure = classifyError(err);
      if (failure.terminal) return refuse(failure.reason, failure.message);
      deps.failures?.transient(failure.reason);
      throw err;
    }

    async function decideAndAct(spec: NormalizedCanarySpec): Promise<WorkResult> {
      const deleting = canary.metadata.deletionTimestamp !== undefined;
      const finalizers = canary.metadata.finalizers ?? [];
      if (deleting && !finalizers.includes(FINALIZER)) return {};
      // Every Canary, whatever revertOnDeletion says: deletion hands traffic back before the primary goes.
      if (!deleting && !finalizers.includes(FINALIZER)) {
        const added = await write(() =>
          addFinalizer(deps.client, asKubeObject(canary), FINALIZER, { signal }),
        );
        if (!added) return { requeueAfterMs: staleCacheRetryMs };
      }
      // Before anything is observed or moved: can the provider route this as written?
      const ignored = deleting ? [] : await deps.preflight(canary, spec, canary.status?.phase);

      if (!replayed.has(key)) {
        replayed.add(key);
        deps.effects.replayDecidedEvents(canary, spec, deps.now());
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
      const ignoredNote = reportIgnored(decision.status, [
        ...ignored,
        ...(deleting ? [] : deps.observer.findings(key)),
      ]);
      // The status goes first: every state-changing action is repeated until observed
      // done, so a crash between the two only replays actions, never loses progress.
      // Against what the apiserver would hold: a redacted credential is no change.
      const patch = statusMergePatch(previous, knownSecrets.redactDeep(decision.status));
      const changed = Object.keys(patch).length > 0;
      // Info when the status moves; every other decision only at debug, with what it was based on.
      log[changed ? 'info' : 'debug'](describeDecision(decision, observed), 'decided');
      if (changed) {
        const written = await write((resourceVersion) =>
          patchStatus(deps.client, asKubeObject(canary), patch as Record<string, unknown>, {
            signal,
            resourceVersion,
          }),
        );
        // Decided on a copy someone else has since changed: decide again on theirs, act on nothing.
        if (!written) return { requeueAfterMs: staleCacheRetryMs };
        if (canary.metadata.resourceVersion === cachedVersion)
          log.debug({ patch }, 'status patch changed nothing on the apiserver');
      }
      // A refusal found while acting compares with what was just written, not with the old status.
      canary.status = decision.status;
      deps.observer.keepOnly(key, decision.awaiting);
      deps.telemetry.observe(canary, spec, previous, decision.status);

      if (ignoredNote === undefined) ignoredWarned.delete(key);
      else if (ignoredWarned.get(key) !== ignoredNote) {
        const previousReady = previous.conditions?.find((c) => c.type === 'Ready');
        if (!(previousReady?.message ?? '').includes(ignoredNote))
          deps.effects.warn(canary, IGNORED_FIELDS_REASON, ignoredNote);
        ignoredWarned.set(key, ignoredNote);
      }

      const withStatus: Canary = { ...canary, status: decision.status };
      for (const action of decision.actions) {
        if (signal.aborted) break;
        await runAction(deps, withStatus, spec, action, key, log, signal);
      }
      warned.delete(key);
      return decision.requeueAfterMs === undefined ? {} : { requeueAfterMs: decision.requeueAfterMs };
    }
  };
}

/**
 * Names the fields the Canary's router ignores in the decided Ready condition's message,
 * so status says the run proceeds without them. Returns the note, undefined when none.
 */
function reportIgnored(status: CanaryStatus, ignored: readonly CapabilityFinding[]): string | undefined {
  if (ignored.length === 0) return undefined;
  const note = `ignored: ${ignored.map((finding) => finding.message).join('; ')}`;
  status.conditions = (status.conditions ?? []).map((c) =>
    c.type === 'Ready' && !(c.message ?? '').includes(note)
      ? { ...c, message: c.message ? `${c.message}; ${note}` : note }
      : c,
  );
  return note;
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

/** The conditions that say the Canary is refused for `reason`; undefined when status says so already. */
function refusalConditions(
  canary: Canary,
  reason: RefusalReason,
  message: string,
  now: Date,
): Condition[] | undefined {
  const ready = canary.status?.conditions?.find((c) => c.type === 'Ready');
  if (ready?.status === 'False' && ready.reason === reason && ready.message === message) return undefined;
  const conditions = (canary.status?.conditions ?? []).filter((c) => c.type !== 'Ready');
  conditions.push({
    type: 'Ready',
    status: 'False',
    reason,
    message,
    lastTransitionTime:
      ready?.status === 'False' && ready.lastTransitionTime ? ready.lastTransitionTime : now.toISOString(),
    ...(canary.metadata.generation === undefined ? {} : { observedGeneration: canary.metadata.generation }),
  });
  return conditions;
}
