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

/** A Knative Service: its revisions take the place of the primary (provider knative). */
export const knativeServiceTarget: WorkloadDeclaration = {
  kind: 'Service',
  apiVersion: 'serving.knative.dev/v1',
  title: 'Knative `Service`',
  instead: 'keep this Canary on Flagger until Fledge has the Knative target',
  permissions: [],
};
