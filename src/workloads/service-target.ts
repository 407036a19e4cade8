import type { WorkloadDeclaration } from './workload.ts';

// Targets Flagger accepts that this version cannot run yet: declared so their Canaries
// apply and are refused with a reason instead of retried.

/** A core Service target: Flagger only manages its traffic, with no workload to clone. */
export const serviceTarget: WorkloadDeclaration = {
  kind: 'Service',
  apiVersion: 'v1',
  title: '`Service`',
  instead: 'point targetRef at the Deployment or DaemonSet behind the Service',
  permissions: [],
};
