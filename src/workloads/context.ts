import type { KubernetesObject } from '@kubernetes/client-node';
import { normalizeCanary, type AutoscalerRef, type Canary } from '../api/index.ts';
import type { KubeObjectClient, ObjectRef } from '../kube/client.ts';
import { isNotFound } from '../kube/errors.ts';
import { WorkloadConfigError } from './errors.ts';
import type { CanaryIdentity } from './metadata.ts';
import type { WorkloadKind } from './workload.ts';

/** What a workload needs from a Canary, defaults filled in. */
export interface CanaryContext extends CanaryIdentity {
  kind: WorkloadKind;
  targetName: string;
  autoscalerRef?: AutoscalerRef;
  primaryReadyThreshold: number;
  canaryReadyThreshold: number;
  progressDeadlineSeconds: number;
}

export function canaryContext(canary: Canary, kind: WorkloadKind, autoscalable: boolean): CanaryContext {
  const { name, namespace, uid } = canary.metadata;
  if (!name || !namespace || !uid) {
    throw new Error(
      'the Canary needs metadata.name, namespace and uid (owner references need the uid): read it from the apiserver',
    );
  }
  const { spec } = normalizeCanary(canary);
  const { targetRef, autoscalerRef } = spec;
  if (targetRef.kind !== kind || targetRef.apiVersion !== 'apps/v1') {
    throw new WorkloadConfigError(
      'UnsupportedTarget',
      `Canary ${namespace}/${name}: spec.targetRef is ${targetRef.apiVersion} ${targetRef.kind}, not apps/v1 ${kind}`,
    );
  }
  if (autoscalerRef && !autoscalable) {
    throw new WorkloadConfigError(
      'TargetInvalid',
      `Canary ${namespace}/${name}: a ${kind} cannot be autoscaled; remove spec.autoscalerRef`,
    );
  }
  return {
    name,
    namespace,
    uid,
    kind,
    targetName: targetRef.name,
    ...(autoscalerRef && { autoscalerRef }),
    primaryReadyThreshold: spec.analysis.primaryReadyThreshold,
    canaryReadyThreshold: spec.analysis.canaryReadyThreshold,
    progressDeadlineSeconds: spec.progressDeadlineSeconds,
  };
}

export function workloadRef(context: CanaryContext, name: string): ObjectRef {
  return { apiVersion: 'apps/v1', kind: context.kind, namespace: context.namespace, name };
}

/** The object, or undefined when it does not exist. */
export async function getOptional<T extends KubernetesObject>(
  client: KubeObjectClient,
  ref: ObjectRef,
): Promise<T | undefined> {
  try {
    return await client.get<T>(ref);
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/** The object; a missing one is an error saying what needs it. */
export async function getRequired<T extends KubernetesObject>(
  client: KubeObjectClient,
  ref: ObjectRef,
  neededFor: string,
): Promise<T> {
  const object = await getOptional<T>(client, ref);
  if (!object)
    throw new Error(
      `${ref.kind} ${ref.namespace ?? ''}/${ref.name ?? ''} does not exist; it is needed to ${neededFor}`,
    );
  return object;
}
