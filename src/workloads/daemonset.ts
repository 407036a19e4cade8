import { fieldManager, PatchStrategy } from '../kube/patch.ts';
import { MANAGE_VERBS } from '../kube/rbac.ts';
import { workloadRef, type CanaryContext } from './context.ts';
import type { DaemonSetObject } from './objects.ts';
import { SCALE_TO_ZERO_NODE_SELECTOR } from './options.ts';
import { createPodWorkload, type KindBehaviour, type KindIo } from './pod-workload.ts';
import { renderPrimaryDaemonSet } from './primary.ts';
import { daemonSetReadiness } from './readiness.ts';
import type { Workload, WorkloadDeclaration, WorkloadDeps } from './workload.ts';

// DaemonSet targets. A DaemonSet has no replica count: it is scaled to zero by
// a nodeSelector key no node carries. nodeSelector is an atomic map for
// server-side apply (an apply would replace the user's whole map), so the key
// is added and removed by a strategic merge patch, which touches that key only.

function hasScaleToZero(daemonSet: DaemonSetObject): boolean {
  return daemonSet.spec.template.spec?.nodeSelector?.[SCALE_TO_ZERO_NODE_SELECTOR] === 'true';
}

async function setScaleToZero(io: KindIo, context: CanaryContext, zero: boolean): Promise<DaemonSetObject> {
  // null deletes the key in a strategic merge patch.
  const patch = {
    spec: { template: { spec: { nodeSelector: { [SCALE_TO_ZERO_NODE_SELECTOR]: zero ? 'true' : null } } } },
  };
  return io.client.patch<DaemonSetObject>(
    workloadRef(context, context.targetName),
    patch,
    PatchStrategy.StrategicMergePatch,
    {
      query: { fieldManager },
    },
  );
}

const daemonSet: KindBehaviour<DaemonSetObject> = {
  kind: 'DaemonSet',
  autoscalable: false,
  readiness: (object, thresholdPercent) => daemonSetReadiness(object, { thresholdPercent }),
  scaledToZero: hasScaleToZero,
  renderPrimary: (target, input) => renderPrimaryDaemonSet(target, input),

  async scale(io, context, target, direction) {
    const zero = direction === 'zero';
    if (hasScaleToZero(target) !== zero) await setScaleToZero(io, context, zero);
  },

  async restoreTarget(io, context, target) {
    return hasScaleToZero(target) ? setScaleToZero(io, context, false) : target;
  },
};

export function daemonSetWorkload(deps: WorkloadDeps): Workload {
  return createPodWorkload(daemonSet, deps);
}

export const daemonSetTarget: WorkloadDeclaration = {
  kind: 'DaemonSet',
  apiVersion: 'apps/v1',
  title: '`DaemonSet`',
  create: daemonSetWorkload,
  permissions: [{ apiGroup: 'apps', resources: ['daemonsets'], verbs: MANAGE_VERBS }],
};
