import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadAll } from 'js-yaml';
import {
  leaderElectionPermissions,
  watchedNamespacePermissions,
  type Permission,
} from '../../../src/controller/permissions.ts';
import { RouterProviders } from '../../../src/api/index.ts';
import { chartPath as chart, helmBinary } from './helm.ts';

const run = promisify(execFile);

interface Manifest {
  kind: string;
  metadata: { name: string; namespace?: string };
  rules?: { apiGroups: string[]; resources: string[]; verbs: string[] }[];
  spec?: Record<string, unknown>;
}

async function render(...set: string[]): Promise<Manifest[]> {
  const helm = await helmBinary();
  const args = [
    'template',
    'fledge',
    chart,
    '--namespace',
    'fledge-system',
    ...set.flatMap((s) => ['--set', s]),
  ];
  const { stdout } = await run(helm, args, { maxBuffer: 32 * 1024 * 1024 });
  return (loadAll(stdout) as (Manifest | null)[]).filter((m): m is Manifest => m !== null);
}

/** One "group/resource verb" string per granted permission, for set comparison. */
function grants(rules: readonly Permission[]): string[] {
  return rules
    .flatMap((r) => r.resources.flatMap((res) => r.verbs.map((v) => `${r.apiGroup}/${res} ${v}`)))
    .sort();
}

function grantsOf(manifest: Manifest | undefined): string[] {
  if (!manifest?.rules) throw new Error('no rules rendered');
  return grants(
    manifest.rules.flatMap((r) =>
      r.apiGroups.map((apiGroup) => ({ apiGroup, resources: r.resources, verbs: r.verbs })),
    ),
  );
}

describe('Helm chart', () => {
  // The documented variants (docs/install.md); each must lint and render.
  const variants: Record<string, string[]> = {
    default: [],
    'single namespace': ['watchNamespace=team-a'],
    'no leader election': ['leaderElection.enabled=false'],
    'CRDs in templates': ['crd.create=true'],
    'monitoring and PDB': [
      'serviceMonitor.enabled=true',
      'podDisruptionBudget.enabled=true',
      'replicaCount=2',
    ],
    'alerts from a Secret': [
      'alerts.secretName=fledge-alerts',
      'alerts.slack.channel=releases',
      'clusterName=prod-eu',
    ],
  };

  it.each(Object.entries(variants))('lints and renders: %s', async (_name, set) => {
    const helm = await helmBinary();
    const lint = await run(helm, ['lint', chart, '--strict', ...set.flatMap((s) => ['--set', s])]);
    expect(lint.stdout).toContain('0 chart(s) failed');
    const manifests = await render(...set);
    expect(manifests.map((m) => m.kind)).toEqual(
      expect.arrayContaining(['Deployment', 'ServiceAccount', 'Service']),
    );
  });

  it("offers exactly the Canary API's router providers for meshProvider", async () => {
    const schema = JSON.parse(await readFile(join(chart, 'values.schema.json'), 'utf8')) as {
      properties: { meshProvider: { enum: string[] } };
    };
    expect(schema.properties.meshProvider.enum).toEqual([...RouterProviders]);
  });

  it('rejects a wrong value at install time', async () => {
    await expect(render('logLevel=verbose')).rejects.toThrow(/logLevel/);
    await expect(render('workers=0')).rejects.toThrow(/workers/);
    await expect(render('unknownKey=1')).rejects.toThrow(/unknownKey/);
  });

  it('grants exactly what the operator calls, without wildcards but for external metric names', async () => {
    const manifests = await render();
    const clusterRole = manifests.find((m) => m.kind === 'ClusterRole');
    expect(grantsOf(clusterRole)).toEqual(grants(watchedNamespacePermissions));
    const leaderRole = manifests.find(
      (m) => m.kind === 'Role' && m.metadata.name.endsWith('leader-election'),
    );
    expect(grantsOf(leaderRole)).toEqual(grants(leaderElectionPermissions));
    for (const m of manifests.filter((x) => x.rules)) {
      for (const rule of m.rules ?? []) {
        // The external metrics API's resources are metric names that only MetricTemplates know
        // (the HPA controller's role reads them the same way): only there may a resource be `*`.
        const metricNames = rule.apiGroups.length === 1 && rule.apiGroups[0] === 'external.metrics.k8s.io';
        expect([...rule.apiGroups, ...(metricNames ? [] : rule.resources), ...rule.verbs]).not.toContain('*');
      }
    }
  });

  it('uses a namespaced Role when watching one namespace', async () => {
    const manifests = await render('watchNamespace=team-a');
    expect(manifests.some((m) => m.kind === 'ClusterRole' || m.kind === 'ClusterRoleBinding')).toBe(false);
    const role = manifests.find((m) => m.kind === 'Role' && m.metadata.namespace === 'team-a');
    expect(grantsOf(role)).toEqual(grants(watchedNamespacePermissions));
  });

  it('runs the operator locked down', async () => {
    const deployment = (await render()).find((m) => m.kind === 'Deployment');
    const pod = (deployment?.spec?.template as { spec: Record<string, unknown> }).spec;
    const container = (pod.containers as Record<string, unknown>[])[0];
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(container?.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(container).toMatchObject({
      livenessProbe: { httpGet: { path: '/healthz' } },
      readinessProbe: { httpGet: { path: '/readyz' } },
    });
  });

  it('keeps CRDs on uninstall when they are templated', async () => {
    const crds = (await render('crd.create=true')).filter((m) => m.kind === 'CustomResourceDefinition');
    expect(crds.map((c) => c.metadata.name).sort()).toEqual([
      'alertproviders.fledge.dev',
      'canaries.fledge.dev',
      'metrictemplates.fledge.dev',
    ]);
    for (const crd of crds) {
      expect((crd.metadata as { annotations?: Record<string, string> }).annotations).toMatchObject({
        'helm.sh/resource-policy': 'keep',
      });
    }
  });
});
