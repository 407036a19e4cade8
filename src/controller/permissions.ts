// Every Kubernetes API call the operator makes, as RBAC rules. The Helm chart's
// ClusterRole/Role must grant exactly these (a test compares them), and the
// chart install test runs the operator under them, so a missing rule fails it.

export interface Permission {
  apiGroup: string;
  resources: readonly string[];
  verbs: readonly string[];
}

const manage = ['get', 'list', 'watch', 'create', 'patch', 'delete'] as const;

/** Rules for the namespaces Fledge watches (ClusterRole, or Role with --namespace). */
export const watchedNamespacePermissions: readonly Permission[] = [
  // Canaries: watched; finalizers added and removed with JSON patch.
  { apiGroup: 'fledge.dev', resources: ['canaries'], verbs: ['get', 'list', 'watch', 'patch'] },
  { apiGroup: 'fledge.dev', resources: ['canaries/status'], verbs: ['get', 'patch'] },
  { apiGroup: 'fledge.dev', resources: ['canaries/finalizers'], verbs: ['update'] },
  {
    apiGroup: 'fledge.dev',
    resources: ['metrictemplates', 'alertproviders'],
    verbs: ['get', 'list', 'watch'],
  },
  // Targets are read and scaled; primaries are created by server-side apply.
  { apiGroup: 'apps', resources: ['deployments', 'daemonsets'], verbs: manage },
  // Targets scale through /scale, so Fledge never owns spec.replicas (GitOps-friendly).
  { apiGroup: 'apps', resources: ['deployments/scale'], verbs: ['patch'] },
  // Services are generated; ConfigMaps and Secrets are tracked and copied for the primary.
  { apiGroup: '', resources: ['services', 'configmaps', 'secrets'], verbs: manage },
  { apiGroup: 'autoscaling', resources: ['horizontalpodautoscalers'], verbs: manage },
  { apiGroup: 'keda.sh', resources: ['scaledobjects'], verbs: manage },
  { apiGroup: 'gateway.networking.k8s.io', resources: ['httproutes'], verbs: manage },
  { apiGroup: 'events.k8s.io', resources: ['events'], verbs: ['create', 'patch'] },
];

/** Rules in the operator's own namespace when leader election is on. */
export const leaderElectionPermissions: readonly Permission[] = [
  // Renewals are merge patches guarded by resourceVersion (src/kube/leases.ts), never PUTs.
  { apiGroup: 'coordination.k8s.io', resources: ['leases'], verbs: ['get', 'create', 'patch'] },
];
