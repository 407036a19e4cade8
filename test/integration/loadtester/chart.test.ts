import { describe, expect, it } from '@jest/globals';
import { loadAll } from 'js-yaml';
import { chartPath, helm } from '../chart/helm.ts';

interface Manifest {
  kind: string;
  metadata: { name: string; namespace?: string };
  rules?: { apiGroups: string[]; resources: string[]; verbs: string[] }[];
  spec?: {
    selector?: Record<string, unknown>;
    template?: { metadata: { labels: Record<string, string> }; spec: { containers: { args: string[] }[] } };
  };
}

async function render(...set: string[]): Promise<Manifest[]> {
  const out = await helm([
    'template',
    'fledge',
    chartPath,
    '-n',
    'fledge-system',
    ...set.flatMap((s) => ['--set', s]),
  ]);
  return (loadAll(out) as (Manifest | null)[]).filter((m): m is Manifest => m !== null);
}

describe('Helm chart: the load tester', () => {
  it('is off by default', async () => {
    expect((await render()).filter((m) => m.metadata.name.includes('loadtester'))).toEqual([]);
  });

  it('runs `fledge loadtester` with its gates in the release namespace and only the commands allowed', async () => {
    await helm(['lint', chartPath, '--strict', '--set', 'loadtester.enabled=true']);
    const manifests = await render(
      'loadtester.enabled=true',
      'loadtester.allowCommands[0]=curl -s http://[a-z.-]+/',
    );
    const mine = manifests.filter((m) => m.metadata.name === 'fledge-loadtester');
    expect(mine.map((m) => m.kind).sort()).toEqual([
      'Deployment',
      'Role',
      'RoleBinding',
      'Service',
      'ServiceAccount',
    ]);
    const deployment = mine.find((m) => m.kind === 'Deployment')!;
    expect(deployment.spec!.template!.spec.containers[0]!.args).toEqual([
      'loadtester',
      '--log-level=info',
      '--listen-address=:8080',
      '--telemetry-address=:8081',
      '--gate-namespace=fledge-system',
      '--command-timeout=1h',
      '--allow-command=curl -s http://[a-z.-]+/',
    ]);
    expect(mine.find((m) => m.kind === 'Role')!.rules).toEqual([
      { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'create', 'patch'] },
    ]);
    // The operator's Service must not pick up load tester pods, nor the other way round.
    const podLabels = deployment.spec!.template!.metadata.labels;
    const operatorService = manifests.find((m) => m.kind === 'Service' && m.metadata.name === 'fledge')!;
    const selects = (selector: Record<string, unknown>, labels: Record<string, string>) =>
      Object.entries(selector).every(([k, v]) => labels[k] === v);
    expect(selects(operatorService.spec!.selector!, podLabels)).toBe(false);
  });

  it('rejects an unknown load tester value at install time', async () => {
    await expect(render('loadtester.allowBash=true')).rejects.toThrow(/allowBash/);
  });
});
