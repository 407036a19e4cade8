import type { Canary } from '../api/index.ts';
import { stampOf } from '../engine/index.ts';
import type { KubeObjectClient } from '../kube/client.ts';
import { applyGuardedJsonPatch, applyObject } from '../kube/patch.ts';
import { applyPrimaryScaler } from './autoscalers.ts';
import { canonicalJson } from './canonical.ts';
import {
  checksumsOf,
  copyConfigs,
  deleteUnusedCopies,
  describeMissing,
  readConfigs,
  type ConfigSnapshot,
} from './configs.ts';
import { canaryContext, getOptional, getRequired, workloadRef, type CanaryContext } from './context.ts';
import { adoptPatch, controlOf } from './metadata.ts';
import type { PodWorkloadObject } from './objects.ts';
import {
  PRIMARY_STAMP_ANNOTATION,
  primaryName,
  resolveWorkloadOptions,
  type WorkloadOptions,
} from './options.ts';
import { assertSameSelector, type PrimaryRenderInput } from './primary.ts';
import type { Readiness } from './readiness.ts';
import { templateRevision } from './revision.ts';
import { findPodSelector } from './selector.ts';
import {
  StaleRevisionError,
  labelsAndAnnotations,
  type AnalysedRevision,
  type ContainerPort,
  type ScaleDirection,
  type TargetObservation,
  type Workload,
  type WorkloadDeps,
  type WorkloadKind,
} from './workload.ts';

// The flow every pod-template workload shares (observe, initialise, promote);
// what differs per kind (readiness, rendering, scaling) comes from a KindBehaviour.

/** What a kind handler gets to act with. */
export interface KindIo {
  client: KubeObjectClient;
  options: WorkloadOptions;
  now: () => number;
}

export interface KindBehaviour<T extends PodWorkloadObject> {
  kind: WorkloadKind;
  /** Whether spec.autoscalerRef may be set for this kind. */
  autoscalable: boolean;
  readiness(object: T, thresholdPercent: number, context: CanaryContext, now: number): Readiness;
  scaledToZero(object: T): boolean;
  /** The primary to apply; `live` is the existing primary, if any. */
  renderPrimary(target: T, input: PrimaryRenderInput, live: T | undefined, context: CanaryContext): T;
  scale(io: KindIo, context: CanaryContext, target: T, direction: ScaleDirection): Promise<void>;
  /** Gives the target the primary's capacity back and undoes Fledge's changes; returns the target afterwards. */
  restoreTarget(io: KindIo, context: CanaryContext, target: T): Promise<T>;
}

function containerPorts(target: PodWorkloadObject): ContainerPort[] {
  return (target.spec.template.spec?.containers ?? []).flatMap((container) =>
    (container.ports ?? []).map((port) => ({
      container: container.name,
      ...(port.name !== undefined && { name: port.name }),
      containerPort: port.containerPort,
      ...(port.protocol !== undefined && { protocol: port.protocol }),
    })),
  );
}

export function createPodWorkload<T extends PodWorkloadObject>(
  behaviour: KindBehaviour<T>,
  deps: WorkloadDeps,
): Workload {
  const io: KindIo = {
    client: deps.client,
    options: resolveWorkloadOptions(deps.options),
    now: deps.now ?? Date.now,
  };
  const { client, options } = io;
  const contextOf = (canary: Canary) => canaryContext(canary, behaviour.kind, behaviour.autoscalable);
  const targetRef = (context: CanaryContext) => workloadRef(context, context.targetName);
  const primaryRef = (context: CanaryContext) => workloadRef(context, primaryName(context.targetName));
  const describe = (context: CanaryContext, name: string) => `${behaviour.kind} ${context.namespace}/${name}`;

  const podSelectorOf = (context: CanaryContext, target: T) =>
    findPodSelector(
      describe(context, context.targetName),
      target.spec.selector.matchLabels,
      options.selectorLabels,
    );

  const snapshotOf = (context: CanaryContext, target: T) =>
    readConfigs(
      client,
      context.namespace,
      target.spec.template.spec ?? { containers: [] },
      options.configTracking,
    );

  const missingConfigs = (context: CanaryContext, snapshot: ConfigSnapshot) =>
    `${describe(context, context.targetName)} uses configs that do not exist: ${describeMissing(snapshot.missing)}`;

  /** The configs the primary needs; a missing required one would leave its pods unable to start. */
  async function configsForPrimary(context: CanaryContext, target: T): Promise<ConfigSnapshot> {
    const snapshot = await snapshotOf(context, target);
    if (snapshot.missing.length > 0) {
      throw new Error(`${missingConfigs(context, snapshot)}; create them or mark the references optional`);
    }
    return snapshot;
  }

  function renderInput(context: CanaryContext, target: T, snapshot: ConfigSnapshot): PrimaryRenderInput {
    const configs = checksumsOf(snapshot);
    return {
      owner: context,
      pods: podSelectorOf(context, target),
      configs,
      includeLabelPrefixes: options.includeLabelPrefixes,
      // The engine's identity of this content: what it expects to read back after an
      // initialise or a promotion.
      stamp: stampOf(templateRevision(target.spec.template), configs),
    };
  }

  function scalerInput(context: CanaryContext) {
    const ref = context.autoscalerRef;
    return (
      ref && {
        owner: context,
        targetName: context.targetName,
        ref,
        includeLabelPrefixes: options.includeLabelPrefixes,
      }
    );
  }

  async function observeTarget(context: CanaryContext, target: T | undefined): Promise<TargetObservation> {
    if (!target) return { exists: false };
    const snapshot = await snapshotOf(context, target);
    let ready = behaviour.readiness(target, context.canaryReadyThreshold, context, io.now());
    const scaledToZero = behaviour.scaledToZero(target);
    if (scaledToZero) {
      // Zero of zero replicas is "rolled out" but serves nothing: never ready, so a run
      // scales it up and a revert on deletion waits for it to serve again.
      ready = {
        ready: false,
        retriable: true,
        message: `${describe(context, context.targetName)} is scaled to zero`,
      };
    } else if (snapshot.missing.length > 0) {
      ready = {
        ready: false,
        retriable: true,
        message: `${missingConfigs(context, snapshot)}: its pods cannot start`,
      };
    }
    return {
      exists: true,
      revision: templateRevision(target.spec.template),
      configs: checksumsOf(snapshot),
      ready,
      scaledToZero,
      selector: podSelectorOf(context, target),
      ports: containerPorts(target),
      metadata: labelsAndAnnotations(target),
    };
  }

  return {
    kind: behaviour.kind,
    backends: 'pods',

    async observe(canary) {
      const context = contextOf(canary);
      const [target, primary] = await Promise.all([
        getOptional<T>(client, targetRef(context)),
        getOptional<T>(client, primaryRef(context)),
      ]);
      return {
        target: await observeTarget(context, target),
        primary: primary
          ? {
              exists: true,
              ready: behaviour.readiness(primary, context.primaryReadyThreshold, context, io.now()),
              ...primaryStamp(primary),
            }
          : { exists: false },
      };
    },

    async initialise(canary) {
      const context = contextOf(canary);
      const scaler = scalerInput(context);
      const live = await getOptional<T>(client, primaryRef(context));
      const target = await getRequired<T>(
        client,
        targetRef(context),
        `create ${primaryName(context.targetName)}`,
      );
      const snapshot = await configsForPrimary(context, target);
      if (live) {
        const description = describe(context, primaryName(context.targetName));
        if (controlOf(live.metadata, context, description) === 'unowned') {
          await applyGuardedJsonPatch(
            client,
            primaryRef(context),
            adoptPatch(live.metadata.ownerReferences, context),
          );
        }
        // Already rendered from this very content: only a crash between the primary and
        // its autoscaler can have left something to do.
        if (
          live.metadata.annotations?.[PRIMARY_STAMP_ANNOTATION] ===
          renderInput(context, target, snapshot).stamp
        ) {
          if (scaler) await applyPrimaryScaler(client, scaler, true);
          return { primaryCreated: false };
        }
      }
      // Copies first: the primary's pods reference them from their first start.
      await copyConfigs(client, snapshot, context, options.includeLabelPrefixes);
      await applyObject(
        client,
        behaviour.renderPrimary(target, renderInput(context, target, snapshot), live, context),
      );
      if (scaler) await applyPrimaryScaler(client, scaler, true);
      return { primaryCreated: live === undefined };
    },

    async promote(canary, analysed: AnalysedRevision) {
      const context = contextOf(canary);
      const [target, live] = await Promise.all([
        getRequired<T>(client, targetRef(context), 'promote it'),
        getRequired<T>(client, primaryRef(context), 'promote into it (initialise the Canary first)'),
      ]);
      const revision = templateRevision(target.spec.template);
      if (revision !== analysed.revision) {
        throw new StaleRevisionError(
          `${describe(context, context.targetName)} is at revision ${revision}, not the analysed ${analysed.revision}: not promoted`,
        );
      }
      const snapshot = await configsForPrimary(context, target);
      const configs = checksumsOf(snapshot);
      if (canonicalJson(configs) !== canonicalJson(analysed.configs)) {
        throw new StaleRevisionError(
          `the configs of ${describe(context, context.targetName)} changed since the analysis ` +
            `(now ${canonicalJson(configs)}, analysed ${canonicalJson(analysed.configs)}): not promoted`,
        );
      }
      const input = renderInput(context, target, snapshot);
      controlOf(live.metadata, context, describe(context, primaryName(context.targetName)));
      assertSameSelector(live, input.pods, behaviour.kind);
      await copyConfigs(client, snapshot, context, options.includeLabelPrefixes);
      const promoted = behaviour.renderPrimary(target, input, live, context);
      await applyObject(client, promoted);
      const scaler = scalerInput(context);
      if (scaler) await applyPrimaryScaler(client, scaler, false);
      // Kept: what the outgoing primary pods and the promoted ones use; the rest is from older releases.
      await deleteUnusedCopies(client, context, [
        live.spec.template.spec ?? { containers: [] },
        promoted.spec.template.spec ?? { containers: [] },
      ]);
    },

    async scaleCanary(canary, direction) {
      const context = contextOf(canary);
      const target = await getRequired<T>(
        client,
        targetRef(context),
        `scale it ${direction === 'up' ? 'up' : 'to zero'}`,
      );
      await behaviour.scale(io, context, target, direction);
    },

    async revert(canary) {
      const context = contextOf(canary);
      const target = await getOptional<T>(client, targetRef(context));
      if (!target) {
        return {
          ready: true,
          retriable: true,
          message: `${describe(context, context.targetName)} does not exist: nothing to restore`,
        };
      }
      const restored = await behaviour.restoreTarget(io, context, target);
      return behaviour.readiness(restored, context.primaryReadyThreshold, context, io.now());
    },
  };
}

function primaryStamp(primary: PodWorkloadObject): { stamp?: string } {
  const stamp = primary.metadata.annotations?.[PRIMARY_STAMP_ANNOTATION];
  return stamp === undefined ? {} : { stamp };
}
