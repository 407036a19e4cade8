import { MANAGE_VERBS } from '../kube/rbac.ts';
import { NO_ROUTING_FIELDS, type RouterDeclaration } from './declaration.ts';

// A mesh that implements the Service Mesh Interface: a TrafficSplit in the version the
// provider names (Flagger's smi:v1alphaN). Declared so Flagger manifests apply; no router
// yet. Which mesh serves it is unknown, so it has no builtin metrics.

export const smiRouter: RouterDeclaration = {
  provider: 'smi',
  providers: ['smi:v1alpha1', 'smi:v1alpha2', 'smi:v1alpha3'],
  availability: { state: 'planned' },
  objects: '`TrafficSplit <apex>` (`split.smi-spec.io`, the version the provider names)',
  features: ['weighted', 'blueGreen'],
  ...NO_ROUTING_FIELDS,
  permissions: [{ apiGroup: 'split.smi-spec.io', resources: ['trafficsplits'], verbs: MANAGE_VERBS }],
};
