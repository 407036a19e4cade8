import { providerFactories } from '../analysis/registry.ts';
import { MetricProviderTypes } from '../api/index.ts';
import { routerDeclarations } from '../routers/index.ts';
import { workloadDeclarations } from '../workloads/index.ts';

// The "What this version runs" table of docs/migrating-from-flagger.md, rendered from the
// declarations (hack/generate.ts splices it in), so the page moves as routers and stores land.

const code = (text: string) => `\`${text}\``;

export interface SupportRow {
  part: string;
  runs: string[];
  notYet: string[];
}

export function supportRows(): SupportRow[] {
  const routers = routerDeclarations.flatMap((d) =>
    d.providers.map((name) => ({ name: code(name), runs: d.availability.state === 'available' })),
  );
  const targets = workloadDeclarations.map((d) => ({ name: d.title, runs: d.create !== undefined }));
  const stores = MetricProviderTypes.map((type) => ({
    name: code(type),
    runs: Object.hasOwn(providerFactories, type),
  }));
  const row = (part: string, entries: { name: string; runs: boolean }[]): SupportRow => ({
    part,
    runs: entries.filter((e) => e.runs).map((e) => e.name),
    notYet: entries.filter((e) => !e.runs).map((e) => e.name),
  });
  return [
    row('routers (`spec.provider`)', routers),
    row('targets (`spec.targetRef`)', targets),
    row('metric stores (`MetricTemplate` `spec.provider.type`)', stores),
  ];
}

export function supportTable(): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [
    line(['part', 'runs in this version', 'accepted, not run yet']),
    line(['---', '---', '---']),
    ...supportRows().map((r) => line([r.part, r.runs.join(', ') || 'none', r.notYet.join(', ') || 'none'])),
  ].join('\n');
}
