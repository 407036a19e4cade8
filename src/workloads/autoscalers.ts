import type { AutoscalerRef } from '../api/index.ts';
import type { KubeObjectClient } from '../kube/client.ts';
import { isNotFound } from '../kube/errors.ts';
import { applyObject } from '../kube/patch.ts';
import { canaryOwnerReference, filterMetadata, nonEmpty, type CanaryIdentity } from './metadata.ts';
import type {
  HorizontalPodAutoscalerObject,
  KedaTrigger,
  ObjectMeta,
  ScaledObjectObject,
} from './objects.ts';
import { primaryName } from './options.ts';

// The primary gets its own autoscaler, `<autoscaler>-primary`, a copy of the
// target's pointed at `<target>-primary`. The target's autoscaler stays as the
// user wrote it and keeps scaling the target during analysis.

export interface AutoscalerRenderInput {
  owner: CanaryIdentity;
  /** Name of the target Deployment. */
  targetName: string;
  ref: AutoscalerRef;
  includeLabelPrefixes: readonly string[];
}

/** KEDA holds the scaled workload at this many replicas while the annotation is set. */
export const KEDA_PAUSED_REPLICAS_ANNOTATION = 'autoscaling.keda.sh/paused-replicas';

function copyMetadata(source: ObjectMeta, input: AutoscalerRenderInput): ObjectMeta {
  return {
    name: primaryName(input.ref.name),
    namespace: input.owner.namespace,
    labels: nonEmpty(filterMetadata(source.labels, input.includeLabelPrefixes)),
    annotations: nonEmpty(filterMetadata(source.annotations, input.includeLabelPrefixes)),
    ownerReferences: [canaryOwnerReference(input.owner)],
  };
}

function assertScalesTarget(
  kind: string,
  name: string,
  scaleTarget: { kind?: string; name: string },
  input: AutoscalerRenderInput,
) {
  // KEDA defaults the kind to Deployment; an HPA always names it.
  const targetKind = scaleTarget.kind ?? 'Deployment';
  if (targetKind !== 'Deployment' || scaleTarget.name !== input.targetName) {
    throw new Error(
      `${kind} ${name} (spec.autoscalerRef) scales ${targetKind} ${scaleTarget.name}, not the target Deployment ` +
        `${input.targetName}: point its scaleTargetRef at ${input.targetName} or fix spec.autoscalerRef.name`,
    );
  }
}

function replicaBounds(kind: string, min: number | undefined, max: number | undefined, defaultMin: number) {
  if (max !== undefined && (min ?? defaultMin) > max) {
    throw new Error(
      `${kind} for the primary would have minimum ${min ?? defaultMin} above maximum ${max}: ` +
        `fix spec.autoscalerRef.primaryScalerReplicas or the autoscaler's own bounds`,
    );
  }
}

/** HPA (autoscaling/v2) for the primary: the target's spec, scaling `<target>-primary`, with primaryScalerReplicas applied. */
export function renderPrimaryHpa(
  source: HorizontalPodAutoscalerObject,
  input: AutoscalerRenderInput,
): HorizontalPodAutoscalerObject {
  const name = source.metadata.name ?? input.ref.name;
  assertScalesTarget('HorizontalPodAutoscaler', name, source.spec.scaleTargetRef, input);
  const overrides = input.ref.primaryScalerReplicas;
  const minReplicas = overrides?.minReplicas ?? source.spec.minReplicas;
  const maxReplicas = overrides?.maxReplicas ?? source.spec.maxReplicas;
  replicaBounds('HorizontalPodAutoscaler', minReplicas, maxReplicas, 1);
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: copyMetadata(source.metadata, input),
    spec: {
      ...source.spec,
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: primaryName(input.targetName) },
      minReplicas,
      maxReplicas,
    },
  };
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Best-effort rewrite of a scaler query written for the target so it measures
 * the primary: the target's name, alone or with a `-canary` or `-primary`
 * suffix, becomes `<target>-primary`. A name inside a longer identifier
 * (`web_requests_total`, `myweb`) is left alone; pod-name patterns (`web-.*`)
 * become `web-primary-.*`, which is how the primary's pods are named.
 * primaryScalerQueries replaces a query outright when this is not enough.
 */
export function pointQueryAtPrimary(query: string, targetName: string): string {
  const pattern = new RegExp(
    `(?<![A-Za-z0-9_-])${escapeRegExp(targetName)}(?:-canary|-primary)?(?![A-Za-z0-9_])`,
    'g',
  );
  return query.replace(pattern, primaryName(targetName));
}

/**
 * KEDA ScaledObject for the primary: the target's, scaling `<target>-primary`,
 * with primaryScalerReplicas and primaryScalerQueries applied, the queries of
 * other triggers pointed at the primary, and never paused (Flagger #1934).
 */
export function renderPrimaryScaledObject(
  source: ScaledObjectObject,
  input: AutoscalerRenderInput,
): ScaledObjectObject {
  const name = source.metadata.name ?? input.ref.name;
  assertScalesTarget('ScaledObject', name, source.spec.scaleTargetRef, input);
  const queries = input.ref.primaryScalerQueries ?? {};
  const triggerNames = source.spec.triggers
    .map((trigger) => trigger.name)
    .filter((n): n is string => n !== undefined);
  const unknown = Object.keys(queries).filter((trigger) => !triggerNames.includes(trigger));
  if (unknown.length > 0) {
    throw new Error(
      `spec.autoscalerRef.primaryScalerQueries names triggers ScaledObject ${name} does not have: ${unknown.join(', ')} ` +
        `(its named triggers: ${triggerNames.join(', ') || 'none; give the trigger a name'})`,
    );
  }
  const triggers = source.spec.triggers.map((trigger): KedaTrigger => {
    const override = trigger.name === undefined ? undefined : queries[trigger.name];
    if (override !== undefined) return { ...trigger, metadata: { ...trigger.metadata, query: override } };
    const query = trigger.metadata?.query;
    if (query === undefined) return trigger;
    return {
      ...trigger,
      metadata: { ...trigger.metadata, query: pointQueryAtPrimary(query, input.targetName) },
    };
  });
  const overrides = input.ref.primaryScalerReplicas;
  const minReplicaCount = overrides?.minReplicas ?? source.spec.minReplicaCount;
  const maxReplicaCount = overrides?.maxReplicas ?? source.spec.maxReplicaCount;
  replicaBounds('ScaledObject', minReplicaCount, maxReplicaCount, 0);
  const spec: ScaledObjectObject['spec'] = {
    ...source.spec,
    scaleTargetRef: { ...source.spec.scaleTargetRef, name: primaryName(input.targetName) },
    minReplicaCount,
    maxReplicaCount,
    triggers,
  };
  // A named HPA would otherwise be claimed by both ScaledObjects.
  const hpaName = source.spec.advanced?.horizontalPodAutoscalerConfig?.name;
  if (source.spec.advanced && hpaName !== undefined) {
    spec.advanced = {
      ...source.spec.advanced,
      horizontalPodAutoscalerConfig: {
        ...source.spec.advanced.horizontalPodAutoscalerConfig,
        name: primaryName(hpaName),
      },
    };
  }
  return {
    apiVersion: 'keda.sh/v1alpha1',
    kind: 'ScaledObject',
    metadata: copyMetadata(source.metadata, input),
    spec,
  };
}

type AnyScaler = HorizontalPodAutoscalerObject | ScaledObjectObject;

function scalerRef(ref: AutoscalerRef, namespace: string, name = ref.name) {
  return { apiVersion: ref.apiVersion, kind: ref.kind, namespace, name };
}

/** The target's autoscaler; a missing one is an error naming spec.autoscalerRef. */
export async function readTargetScaler(
  client: KubeObjectClient,
  ref: AutoscalerRef,
  namespace: string,
): Promise<AnyScaler> {
  try {
    return await client.get<AnyScaler>(scalerRef(ref, namespace));
  } catch (error) {
    if (isNotFound(error)) {
      throw new Error(`${ref.kind} ${namespace}/${ref.name} named by spec.autoscalerRef does not exist`, {
        cause: error,
      });
    }
    throw error;
  }
}

/**
 * Writes `<autoscaler>-primary`. `onlyIfMissing` (initialisation) leaves an
 * existing copy alone: like the primary workload, it changes only at promotion.
 */
export async function applyPrimaryScaler(
  client: KubeObjectClient,
  input: AutoscalerRenderInput,
  onlyIfMissing: boolean,
): Promise<void> {
  const namespace = input.owner.namespace;
  if (onlyIfMissing) {
    const exists = await client.get(scalerRef(input.ref, namespace, primaryName(input.ref.name))).then(
      () => true,
      (error: unknown) => {
        if (isNotFound(error)) return false;
        throw error;
      },
    );
    if (exists) return;
  }
  const source = await readTargetScaler(client, input.ref, namespace);
  const copy =
    input.ref.kind === 'HorizontalPodAutoscaler'
      ? renderPrimaryHpa(source as HorizontalPodAutoscalerObject, input)
      : renderPrimaryScaledObject(source as ScaledObjectObject, input);
  await applyObject(client, copy);
}

/** Smallest replica count the target's autoscaler allows, at least 1 (a KEDA minimum may be 0). */
export function scalerMinReplicas(scaler: AnyScaler, kind: AutoscalerRef['kind']): number {
  const min =
    kind === 'HorizontalPodAutoscaler'
      ? (scaler as HorizontalPodAutoscalerObject).spec.minReplicas
      : (scaler as ScaledObjectObject).spec.minReplicaCount;
  return Math.max(1, min ?? 1);
}

/**
 * Pauses (`paused`) or resumes the target's KEDA ScaledObject, which would
 * otherwise scale the target back up from zero. An HPA needs nothing: it stops
 * acting on a workload scaled to zero by itself. The annotation is applied as
 * field manager fledge, so resuming removes exactly what pausing added.
 */
export async function setTargetScalerPaused(
  client: KubeObjectClient,
  ref: AutoscalerRef,
  namespace: string,
  paused: boolean,
): Promise<void> {
  if (ref.kind !== 'ScaledObject') return;
  await applyObject(client, {
    apiVersion: ref.apiVersion,
    kind: ref.kind,
    metadata: {
      name: ref.name,
      namespace,
      ...(paused && { annotations: { [KEDA_PAUSED_REPLICAS_ANNOTATION]: '0' } }),
    },
  });
}
