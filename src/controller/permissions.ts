import { metricStores } from '../analysis/stores/index.ts';
import { mergePermissions, MANAGE_VERBS, type Permission } from '../kube/rbac.ts';
import { routerPermissions } from '../routers/index.ts';
import { workloadDeclarations } from '../workloads/index.ts';

// Every Kubernetes API call the operator makes, as RBAC rules: its own resources here,
// the rest from the declarations of the target kinds, routers and metric stores this version runs. The
// Helm chart's ClusterRole/Role is generated from these (hack/generate.ts), and the chart
// install test runs the operator under them, so a missing rule fails it.

export type { Permission };

/** What every Canary needs, whatever its target and router. */
const operatorPermissions: readonly Permission[] = [
  // Canaries: watched; finalizers added and removed with JSON patch.
  { apiGroup: 'fledge.dev', resources: ['canaries'], verbs: ['get', 'list', 'watch', 'patch'] },
  { apiGroup: 'fledge.dev', resources: ['canaries/status'], verbs: ['get', 'patch'] },
  { apiGroup: 'fledge.dev', resources: ['canaries/finalizers'], verbs: ['update'] },
  {
    apiGroup: 'fledge.dev',
    resources: ['metrictemplates', 'alertproviders'],
    verbs: ['get', 'list', 'watch'],
  },
  // Services are generated; ConfigMaps and Secrets are tracked and copied for the primary.
  { apiGroup: '', resources: ['services', 'configmaps', 'secrets'], verbs: MANAGE_VERBS },
  { apiGroup: 'events.k8s.io', resources: ['events'], verbs: ['create', 'patch'] },
  // The revision a Flux Kustomization is applying, for a target it applied (source-revision.ts).
  { apiGroup: 'kustomize.toolkit.fluxcd.io', resources: ['kustomizations'], verbs: ['get'] },
];

/** Rules for the namespaces Fledge watches (ClusterRole, or Role with --namespace). */
export const watchedNamespacePermissions: readonly Permission[] = mergePermissions([
  ...operatorPermissions,
  ...workloadDeclarations.filter((d) => d.create !== undefined).flatMap((d) => d.permissions),
  ...routerPermissions(),
  ...metricStores.filter((s) => s.factory !== undefined).flatMap((s) => s.permissions ?? []),
]);

/** Rules in the operator's own namespace when leader election is on. */
export const leaderElectionPermissions: readonly Permission[] = [
  // Renewals are merge patches guarded by resourceVersion (src/kube/leases.ts), never PUTs.
  { apiGroup: 'coordination.k8s.io', resources: ['leases'], verbs: ['get', 'create', 'patch'] },
];

/** The rules as the chart's YAML list items, indented for rbac.yaml's `rules:`. */
export function chartRules(rules: readonly Permission[]): string {
  return rules
    .map(
      (rule) =>
        `  - apiGroups: [${rule.apiGroup === '' ? '""' : rule.apiGroup}]\n` +
        `    resources: [${rule.resources.map(yamlWord).join(', ')}]\n` +
        `    verbs: [${rule.verbs.join(', ')}]`,
    )
    .join('\n');
}

// A bare `*` would be a YAML alias: quote anything that is not a plain word.
function yamlWord(word: string): string {
  return /^[A-Za-z0-9][A-Za-z0-9./-]*$/.test(word) ? word : JSON.stringify(word);
}
