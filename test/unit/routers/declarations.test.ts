import { describe, expect, it } from '@jest/globals';
import { load } from 'js-yaml';
import {
  IngressProviders,
  KubernetesUnroutedServiceFields,
  MatchCapableProviders,
} from '../../../src/api/index.ts';
import { chartRules, watchedNamespacePermissions } from '../../../src/controller/permissions.ts';
import { mergePermissions } from '../../../src/kube/rbac.ts';
import { capabilitiesTable, providersTable } from '../../../src/routers/docs.ts';
import {
  RouterProviders,
  availableRouters,
  exclusiveServiceFields,
  gatewayApiRouter,
  routerDeclarations,
  routerFor,
} from '../../../src/routers/index.ts';

// What is derived from the routers' declarations: names, admission facts, RBAC and docs rows.

const grants = (
  rules: readonly { apiGroup: string; resources: readonly string[]; verbs: readonly string[] }[],
) =>
  new Set(
    rules.flatMap((r) => r.resources.flatMap((res) => r.verbs.map((v) => `${r.apiGroup}/${res}:${v}`))),
  );

describe('router declarations', () => {
  it('give every provider string to exactly one router', () => {
    const names = routerDeclarations.flatMap((d) => d.providers);
    expect(new Set(names).size).toBe(names.length);
    expect([...RouterProviders]).toEqual([...names].sort());
    for (const declaration of routerDeclarations) {
      for (const name of declaration.providers) {
        if (declaration.availability.state === 'available') expect(routerFor(name)).toBe(declaration);
        else expect(() => routerFor(name)).toThrow(/ProviderUnavailable|no router|refused/);
      }
    }
  });

  it('derive the admission lists from what each router can do', () => {
    expect(MatchCapableProviders).toEqual(
      routerDeclarations.filter((d) => d.features.includes('abTesting')).flatMap((d) => d.providers),
    );
    expect([...IngressProviders].sort()).toEqual(['nginx', 'skipper']);
    expect(exclusiveServiceFields(gatewayApiRouter).sort()).toEqual([
      'backendTimeout',
      'gatewayRefs',
      'mirror',
    ]);
    expect(KubernetesUnroutedServiceFields).toContain('retries');
    expect(KubernetesUnroutedServiceFields).not.toContain('gatewayRefs');
    expect(KubernetesUnroutedServiceFields).not.toContain('meshName');
  });

  it('grant the operator what each available router writes, and nothing for one that does not run', () => {
    const granted = grants(watchedNamespacePermissions);
    for (const declaration of routerDeclarations) {
      const wanted = [...grants(declaration.permissions)];
      if (declaration.availability.state === 'available')
        expect(wanted.every((g) => granted.has(g))).toBe(true);
    }
    expect(granted.has('gateway.networking.k8s.io/httproutes:patch')).toBe(true);
    expect(granted.has('networking.istio.io/virtualservices:patch')).toBe(true);
    expect(granted.has('kuma.io/trafficroutes:patch')).toBe(true);
    // App Mesh is refused for good: nothing of its API is granted.
    expect([...granted].some((g) => g.startsWith('appmesh.k8s.aws/'))).toBe(false);
  });

  it('merge rules of one group and verbs into one, and render them as the chart lists them', () => {
    const merged = mergePermissions([
      { apiGroup: 'a', resources: ['x'], verbs: ['get'] },
      { apiGroup: 'a', resources: ['y', 'x'], verbs: ['get'] },
      { apiGroup: 'a', resources: ['z'], verbs: ['patch'] },
    ]);
    expect(merged).toEqual([
      { apiGroup: 'a', resources: ['x', 'y'], verbs: ['get'] },
      { apiGroup: 'a', resources: ['z'], verbs: ['patch'] },
    ]);
    const parsed = load(chartRules(watchedNamespacePermissions)) as {
      apiGroups: string[];
      resources: string[];
      verbs: string[];
    }[];
    expect(
      grants(parsed.map((r) => ({ apiGroup: r.apiGroups[0] ?? '', resources: r.resources, verbs: r.verbs }))),
    ).toEqual(grants(watchedNamespacePermissions));
  });

  it('give the docs a provider row per router and a capability column per available one', () => {
    const rows = providersTable().split('\n').slice(2);
    expect(rows).toHaveLength(routerDeclarations.length);
    expect(rows.find((r) => r.includes('`istio`'))).toContain('runs');
    for (const planned of routerDeclarations.filter((d) => d.availability.state === 'planned'))
      expect(rows.find((r) => r.includes(`\`${planned.provider}\``))).toContain('no router yet');
    expect(rows.find((r) => r.includes('`kuma`'))).toContain('runs');
    expect(rows.find((r) => r.includes('`appmesh:v1beta2`'))).toContain('refused for good');
    const header = capabilitiesTable().split('\n')[0] ?? '';
    expect(header.match(/`[^`]+`/g)).toEqual(availableRouters().map((d) => `\`${d.provider}\``));
    expect(capabilitiesTable()).toMatch(/A\/B testing \(`analysis.match`\) \| refused \| yes \|/);
  });
});
