import { fieldManager, PatchStrategy } from '../kube/patch.ts';
import { MANAGE_VERBS } from '../kube/rbac.ts';
import { readTargetScaler, scalerMinReplicas, setTargetScalerPaused } from './autoscalers.ts';
import { getOptional, getRequired, workloadRef, type CanaryContext } from './context.ts';
import type { DeploymentObject } from './objects.ts';
import { primaryName } from './options.ts';
import { createPodWorkload, type KindBehaviour, type KindIo } from './pod-workload.ts';
import { primaryReplicas, renderPrimaryDeployment } from './primary.ts';
import { deploymentReadiness } from './readiness.ts';
import type { Workload, WorkloadDeclaration, WorkloadDeps } from './workload.ts';

// Deployment targets. Scaling goes through the /scale subresource, an update
// rather than an apply, so Fledge never becomes an owner of spec.replicas:
// GitOps tools and `kubectl apply --server-side` never see a conflict with it.

async function setReplicas(io: KindIo, context: CanaryContext, replicas: number): Promise<void> {
  await io.client.patch(
    workloadRef(context, context.targetName),
    { spec: { replicas } },
    PatchStrategy.MergePatch,
    {
      subresource: 'scale',
      query: { fieldManager },
    },
  );
}

const positive = (n: number | undefined) => (n !== undefined && n > 0 ? n : undefined);

/**
 * Replicas for a target coming back from zero, first found of: its own (when
 * not zero), the primary's, the minimum of its autoscaler, 1.
 */
async function scaleUpReplicas(
  io: KindIo,
  context: CanaryContext,
  target: DeploymentObject,
): Promise<number> {
  const own = positive(target.spec.replicas);
  if (own !== undefined) return own;
  const primary = await getOptional<DeploymentObject>(
    io.client,
    workloadRef(context, primaryName(context.targetName)),
  );
  const primaryCount = positive(primary?.spec.replicas);
  if (primaryCount !== undefined) return primaryCount;
  if (context.autoscalerRef) {
    return scalerMinReplicas(
      await readTargetScaler(io.client, context.autoscalerRef, context.namespace),
      context.autoscalerRef.kind,
    );
  }
  return 1;
}

const deployment: KindBehaviour<DeploymentObject> = {
  kind: 'Deployment',
  autoscalable: true,

  readiness: (object, thresholdPercent, context, now) =>
    deploymentReadiness(object, {
      thresholdPercent,
      progressDeadlineSeconds: context.progressDeadlineSeconds,
      now,
    }),

  scaledToZero: (object) => object.spec.replicas === 0,

  renderPrimary: (target, input, live, context) =>
    renderPrimaryDeployment(
      target,
      input,
      primaryReplicas(target, live, context.autoscalerRef !== undefined),
    ),

  async scale(io, context, target, direction) {
    const scaler = context.autoscalerRef;
    if (direction === 'zero') {
      // Pause first: a running KEDA scaler would scale the target straight back up.
      if (scaler) await setTargetScalerPaused(io.client, scaler, context.namespace, true);
      if (target.spec.replicas !== 0) await setReplicas(io, context, 0);
      return;
    }
    const replicas = await scaleUpReplicas(io, context, target);
    if (target.spec.replicas !== replicas) await setReplicas(io, context, replicas);
    if (scaler) await setTargetScalerPaused(io.client, scaler, context.namespace, false);
  },

  async restoreTarget(io, context, target) {
    // At least the primary's size: the target is about to take all of the primary's traffic.
    const primary = await getOptional<DeploymentObject>(
      io.client,
      workloadRef(context, primaryName(context.targetName)),
    );
    const wanted = Math.max(
      target.spec.replicas ?? 0,
      positive(primary?.spec.replicas) ?? (await scaleUpReplicas(io, context, target)),
    );
    if (target.spec.replicas !== wanted) await setReplicas(io, context, wanted);
    if (context.autoscalerRef)
      await setTargetScalerPaused(io.client, context.autoscalerRef, context.namespace, false);
    return getRequired<DeploymentObject>(
      io.client,
      workloadRef(context, context.targetName),
      'report its readiness',
    );
  },
};

export function deploymentWorkload(deps: WorkloadDeps): Workload {
  return createPodWorkload(deployment, deps);
}

export const deploymentTarget: WorkloadDeclaration = {
  kind: 'Deployment',
  apiVersion: 'apps/v1',
  title: '`Deployment`',
  create: deploymentWorkload,
  permissions: [
    { apiGroup: 'apps', resources: ['deployments'], verbs: MANAGE_VERBS },
    // Targets scale through /scale, so Fledge never owns spec.replicas (GitOps-friendly).
    { apiGroup: 'apps', resources: ['deployments/scale'], verbs: ['patch'] },
    // The target's autoscaler is paused while it is scaled to zero, and copied for the primary.
    { apiGroup: 'autoscaling', resources: ['horizontalpodautoscalers'], verbs: MANAGE_VERBS },
    { apiGroup: 'keda.sh', resources: ['scaledobjects'], verbs: MANAGE_VERBS },
  ],
};
