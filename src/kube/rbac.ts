/** One RBAC rule: what the operator may do to which resources of one API group. */
export interface Permission {
  apiGroup: string;
  resources: readonly string[];
  verbs: readonly string[];
}

/** The verbs Fledge needs on objects it creates and owns. */
export const MANAGE_VERBS = ['get', 'list', 'watch', 'create', 'patch', 'delete'] as const;

/**
 * Rules merged by API group and verbs, resources sorted and de-duplicated, so rules
 * declared by many providers collapse into the few a Role shows.
 */
export function mergePermissions(rules: readonly Permission[]): Permission[] {
  const merged = new Map<string, { apiGroup: string; verbs: readonly string[]; resources: Set<string> }>();
  for (const rule of rules) {
    const key = `${rule.apiGroup}\u0000${rule.verbs.join(',')}`;
    const entry = merged.get(key) ?? { apiGroup: rule.apiGroup, verbs: rule.verbs, resources: new Set() };
    for (const resource of rule.resources) entry.resources.add(resource);
    merged.set(key, entry);
  }
  return [...merged.values()].map(({ apiGroup, verbs, resources }) => ({
    apiGroup,
    resources: [...resources],
    verbs,
  }));
}
