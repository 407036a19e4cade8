import type { DaemonSetObject, DeploymentObject } from './objects.ts';

/** Whether a workload serves its current template, and if not, whether waiting can still help. */
export interface Readiness {
  ready: boolean;
  /** Why not, or what is ready; one line for status, events and logs. */
  message: string;
  /** False when waiting longer cannot make it ready (a progress deadline passed): roll back. */
  retriable: boolean;
}

export interface ReadinessSettings {
  /** Percent of the updated replicas (or scheduled pods) that must be available, 0 to 100. */
  thresholdPercent: number;
  /** The Canary's progressDeadlineSeconds. */
  progressDeadlineSeconds: number;
  /** Milliseconds since the epoch. */
  now: number;
}

/** Replicas needed to reach `percent` of `total`, rounded up: 50% of 3 needs 2. */
export function requiredAvailable(total: number, percent: number): number {
  return Math.ceil((total * percent) / 100);
}

const waiting = (message: string, retriable = true): Readiness => ({ ready: false, message, retriable });

/**
 * Readiness of a Deployment after Flagger's rules, made stricter in one place:
 * the threshold rounds up (at least N percent), where Flagger rounded down.
 * - the Deployment controller must have seen the current generation;
 * - Progressing=False/ProgressDeadlineExceeded (spec.progressDeadlineSeconds of
 *   the Deployment) is final;
 * - every desired replica must run the current template and old ones be gone;
 * - `thresholdPercent` of the updated replicas must be available;
 * - stuck below minimum availability (Available=False/MinimumReplicasUnavailable)
 *   for longer than the Canary's progressDeadlineSeconds is final too.
 */
export function deploymentReadiness(deployment: DeploymentObject, settings: ReadinessSettings): Readiness {
  const name = `Deployment ${deployment.metadata.name ?? ''}`;
  const status = deployment.status ?? {};
  const generation = deployment.metadata.generation ?? 0;
  const observed = status.observedGeneration ?? 0;
  if (observed < generation) {
    return waiting(
      `${name}: waiting for the Deployment controller to observe generation ${generation} (seen ${observed})`,
    );
  }
  const conditions = status.conditions ?? [];
  const progressing = conditions.find((c) => c.type === 'Progressing');
  if (progressing?.reason === 'ProgressDeadlineExceeded') {
    return waiting(`${name} exceeded its progress deadline: ${progressing.message ?? 'no progress'}`, false);
  }
  const available = conditions.find((c) => c.type === 'Available');
  const stuckSince =
    available?.status === 'False' && available.reason === 'MinimumReplicasUnavailable'
      ? available.lastUpdateTime
      : undefined;
  const retriable = !(
    stuckSince !== undefined &&
    Date.parse(stuckSince) + settings.progressDeadlineSeconds * 1000 < settings.now
  );
  const stuckNote = retriable
    ? ''
    : ` (below minimum availability for more than ${settings.progressDeadlineSeconds}s)`;

  const desired = deployment.spec.replicas ?? 1;
  const updated = status.updatedReplicas ?? 0;
  const total = status.replicas ?? 0;
  const availableReplicas = status.availableReplicas ?? 0;
  if (updated < desired) {
    return waiting(
      `${name}: ${updated} of ${desired} replicas run the current template${stuckNote}`,
      retriable,
    );
  }
  if (total > updated) {
    return waiting(`${name}: ${total - updated} old replicas are still terminating${stuckNote}`, retriable);
  }
  const needed = requiredAvailable(updated, settings.thresholdPercent);
  if (availableReplicas < needed) {
    return waiting(
      `${name}: ${availableReplicas} of ${needed} required replicas available (${settings.thresholdPercent}% of ${updated})${stuckNote}`,
      retriable,
    );
  }
  return {
    ready: true,
    message: `${name}: ${availableReplicas} of ${updated} updated replicas available`,
    retriable: true,
  };
}

/**
 * Readiness of a DaemonSet from its status counters. A DaemonSet has no
 * progress condition, so nothing here is final: the caller enforces the
 * Canary's progress deadline from the time it started waiting.
 */
export function daemonSetReadiness(
  daemonSet: DaemonSetObject,
  settings: Pick<ReadinessSettings, 'thresholdPercent'>,
): Readiness {
  const name = `DaemonSet ${daemonSet.metadata.name ?? ''}`;
  const status = daemonSet.status ?? {};
  const generation = daemonSet.metadata.generation ?? 0;
  const observed = status.observedGeneration ?? 0;
  if (observed < generation) {
    return waiting(
      `${name}: waiting for the DaemonSet controller to observe generation ${generation} (seen ${observed})`,
    );
  }
  const desired = status.desiredNumberScheduled ?? 0;
  const updated = status.updatedNumberScheduled ?? 0;
  const available = status.numberAvailable ?? 0;
  if (updated < desired) {
    return waiting(`${name}: ${updated} of ${desired} scheduled pods run the current template`);
  }
  const needed = requiredAvailable(desired, settings.thresholdPercent);
  if (available < needed) {
    return waiting(
      `${name}: ${available} of ${needed} required pods available (${settings.thresholdPercent}% of ${desired})`,
    );
  }
  return {
    ready: true,
    message: `${name}: ${available} of ${desired} scheduled pods available`,
    retriable: true,
  };
}
