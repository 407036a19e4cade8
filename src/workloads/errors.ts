/**
 * Why a target cannot be run: its kind is not one Fledge runs (`UnsupportedTarget`), or it
 * (its selector, labels or apiVersion) is not what Fledge needs (`TargetInvalid`).
 */
export type WorkloadRefusal = 'UnsupportedTarget' | 'TargetInvalid';

/** A target Fledge cannot act on; retrying will not help until the Canary or the target changes. */
export class WorkloadConfigError extends Error {
  readonly reason: WorkloadRefusal;

  constructor(reason: WorkloadRefusal, message: string) {
    super(message);
    this.name = 'WorkloadConfigError';
    this.reason = reason;
  }
}
