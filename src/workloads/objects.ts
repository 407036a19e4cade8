import type {
  V1DaemonSetUpdateStrategy,
  V1DeploymentStrategy,
  V1LabelSelector,
  V1OwnerReference,
  V1PodSpec,
  V2HorizontalPodAutoscalerSpec,
} from '@kubernetes/client-node';

// The shapes of the objects this area reads and writes, as JSON on the wire.
// client-node's model classes turn timestamps into Date objects, which the raw
// JSON from KubeObjectClient never contains, so only the parts without
// timestamps (pod spec, selectors, strategies) are borrowed from it.

export interface ManagedFieldsEntry {
  manager?: string;
  operation?: string;
  subresource?: string;
  fieldsV1?: Record<string, unknown>;
}

export interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: V1OwnerReference[];
  managedFields?: ManagedFieldsEntry[];
}

export interface PodTemplate {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: V1PodSpec;
}

export interface WorkloadCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastUpdateTime?: string;
  lastTransitionTime?: string;
}

export interface DeploymentObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec: {
    replicas?: number;
    selector: V1LabelSelector;
    template: PodTemplate;
    strategy?: V1DeploymentStrategy;
    minReadySeconds?: number;
    revisionHistoryLimit?: number;
    progressDeadlineSeconds?: number;
    paused?: boolean;
  };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    readyReplicas?: number;
    availableReplicas?: number;
    conditions?: WorkloadCondition[];
  };
}

export interface DaemonSetObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec: {
    selector: V1LabelSelector;
    template: PodTemplate;
    updateStrategy?: V1DaemonSetUpdateStrategy;
    minReadySeconds?: number;
    revisionHistoryLimit?: number;
  };
  status?: {
    observedGeneration?: number;
    desiredNumberScheduled?: number;
    currentNumberScheduled?: number;
    updatedNumberScheduled?: number;
    numberReady?: number;
    numberAvailable?: number;
    numberUnavailable?: number;
  };
}

export type PodWorkloadObject = DeploymentObject | DaemonSetObject;

export interface ConfigMapObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  data?: Record<string, string>;
  binaryData?: Record<string, string>;
}

export interface SecretObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  type?: string;
  /** Base64 values, as the apiserver returns them. */
  data?: Record<string, string>;
}

export interface HorizontalPodAutoscalerObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec: V2HorizontalPodAutoscalerSpec;
}

/** A KEDA trigger. Only the fields Fledge rewrites are typed; the rest is carried as is. */
export interface KedaTrigger {
  type: string;
  name?: string;
  metadata?: Record<string, string>;
  [field: string]: unknown;
}

/** keda.sh/v1alpha1 ScaledObject; fields Fledge does not touch are carried as is. */
export interface ScaledObjectObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec: {
    scaleTargetRef: { apiVersion?: string; kind?: string; name: string; envSourceContainerName?: string };
    minReplicaCount?: number;
    maxReplicaCount?: number;
    triggers: KedaTrigger[];
    advanced?: {
      horizontalPodAutoscalerConfig?: { name?: string; [field: string]: unknown };
      [field: string]: unknown;
    };
    [field: string]: unknown;
  };
}
