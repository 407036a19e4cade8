import type { Canary } from '../api/index.ts';
import { WorkloadConfigError } from './errors.ts';
import { daemonSetWorkload } from './daemonset.ts';
import { deploymentWorkload } from './deployment.ts';
import { resolveWorkloadOptions } from './options.ts';
import { WorkloadKinds, type Workload, type WorkloadDeps, type WorkloadKind } from './workload.ts';

/** One entry per supported target kind; adding a kind means adding a module and a line here. */
const factories: Record<WorkloadKind, (deps: WorkloadDeps) => Workload> = {
  Deployment: deploymentWorkload,
  DaemonSet: daemonSetWorkload,
};

export interface WorkloadRegistry {
  /** The handler for `kind`; any other kind is an error naming the supported ones. */
  forKind(kind: string): Workload;
  /** The handler for the Canary's spec.targetRef.kind. */
  forCanary(canary: Canary): Workload;
}

function isWorkloadKind(kind: string): kind is WorkloadKind {
  return (WorkloadKinds as readonly string[]).includes(kind);
}

export function createWorkloadRegistry(deps: WorkloadDeps): WorkloadRegistry {
  // Validate the options once, up front, rather than on the first Canary.
  const resolved: WorkloadDeps = { ...deps, options: resolveWorkloadOptions(deps.options) };
  const handlers = new Map<WorkloadKind, Workload>();
  const forKind = (kind: string): Workload => {
    if (!isWorkloadKind(kind)) {
      throw new WorkloadConfigError(
        'UnsupportedTarget',
        `spec.targetRef.kind "${kind}" is not a target Fledge can run; supported kinds: ${WorkloadKinds.join(', ')}: ` +
          `point targetRef at the Deployment or DaemonSet behind it`,
      );
    }
    let handler = handlers.get(kind);
    if (!handler) {
      handler = factories[kind](resolved);
      handlers.set(kind, handler);
    }
    return handler;
  };
  return {
    forKind,
    forCanary: (canary) => forKind(canary.spec.targetRef.kind),
  };
}
