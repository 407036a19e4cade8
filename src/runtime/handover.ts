// The reason a task's signal aborts with when the operator stops (shutdown or
// lost leadership), as opposed to its result being no longer wanted. The
// engine asks again for what it still waits for, by the same ids, after the
// restart or on the new leader; so what a task started in the cluster for it
// (a metric's Job) is left for that successor to adopt rather than undone.
export class Handover extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Handover';
  }
}
