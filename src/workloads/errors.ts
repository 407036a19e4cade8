/**
 * Why a target cannot be run: its kind is not one Fledge runs (`UnsupportedTarget`), it
 * (its selector, labels, apiVersion or ports) is not what Fledge needs (`TargetInvalid`),
 * or it is at zero replicas with no primary to size from (`TargetScaledToZero`).
 */
export type WorkloadRefusal = 'UnsupportedTarget' | 'TargetInvalid' | 'TargetScaledToZero';

/** A target Fledge cannot act on; retrying will not help until the Canary or the target changes. */
export class WorkloadConfigError extends Error {
  readonly reason: WorkloadRefusal;

  constructor(reason: WorkloadRefusal, message: string) {
    super(message);
    this.name = 'WorkloadConfigError';
    this.reason = reason;
  }
}
