import type { DaemonSetObject, DeploymentObject, PodTemplate } from '../../../src/workloads/objects.ts';
import type { CanaryIdentity } from '../../../src/workloads/metadata.ts';
import type { PrimaryRenderInput } from '../../../src/workloads/primary.ts';

export const owner: CanaryIdentity = {
  name: 'web',
  namespace: 'shop',
  uid: '0b7c7c1e-2f43-4a52-9d0e-5c1a7b0e9f11',
};

export function podTemplate(): PodTemplate {
  return {
    metadata: { labels: { app: 'web', tier: 'front' }, annotations: { 'prometheus.io/scrape': 'true' } },
    spec: {
      containers: [
        {
          name: 'web',
          image: 'ghcr.io/example/web:1.0.0',
          ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
          env: [{ name: 'MODE', valueFrom: { configMapKeyRef: { name: 'web-env', key: 'mode' } } }],
        },
      ],
      volumes: [{ name: 'cfg', configMap: { name: 'web-config' } }],
      affinity: {
        podAntiAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: [
            { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { app: 'web' } } },
          ],
        },
      },
      topologySpreadConstraints: [
        {
          maxSkew: 1,
          topologyKey: 'topology.kubernetes.io/zone',
          whenUnsatisfiable: 'ScheduleAnyway',
          labelSelector: { matchLabels: { app: 'web' } },
        },
      ],
    },
  };
}

export function deployment(overrides: Partial<DeploymentObject['spec']> = {}): DeploymentObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: 'web',
      namespace: 'shop',
      generation: 4,
      labels: { app: 'web', 'kustomize.toolkit.fluxcd.io/name': 'apps', team: 'checkout' },
      annotations: { 'deployment.kubernetes.io/revision': '7', 'team.example.com/owner': 'checkout' },
    },
    spec: {
      replicas: 3,
      selector: { matchLabels: { app: 'web' } },
      template: podTemplate(),
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: 0 } },
      minReadySeconds: 5,
      revisionHistoryLimit: 4,
      progressDeadlineSeconds: 300,
      ...overrides,
    },
    status: {
      observedGeneration: 4,
      replicas: 3,
      updatedReplicas: 3,
      readyReplicas: 3,
      availableReplicas: 3,
    },
  };
}

export function daemonSet(): DaemonSetObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: 'agent', namespace: 'shop', generation: 2, labels: { app: 'agent' } },
    spec: {
      selector: { matchLabels: { name: 'agent' } },
      template: {
        metadata: { labels: { name: 'agent' } },
        spec: { containers: [{ name: 'agent', image: 'agent:1' }] },
      },
      updateStrategy: { type: 'RollingUpdate' },
      minReadySeconds: 2,
    },
    status: {
      observedGeneration: 2,
      desiredNumberScheduled: 2,
      updatedNumberScheduled: 2,
      numberAvailable: 2,
    },
  };
}

export function renderInput(overrides: Partial<PrimaryRenderInput> = {}): PrimaryRenderInput {
  return {
    owner,
    pods: { label: 'app', value: 'web', primaryValue: 'web-primary' },
    configs: { 'configmap/web-config': '0123456789abcdef', 'configmap/web-env': 'fedcba9876543210' },
    includeLabelPrefixes: [],
    stamp: 'stamp-0',
    ...overrides,
  };
}
