import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { providerFactories } from '../../../src/analysis/registry.ts';
import { MetricProviderTypes, RouterProviders } from '../../../src/api/index.ts';
import { providerAliases, resolveProvider } from '../../../src/routers/registry.ts';
import { WorkloadKinds } from '../../../src/workloads/workload.ts';

// docs/migrating-from-flagger.md says which providers, targets and stores this version
// runs; the registries decide it. The page must follow them as routers and stores land.

const page = readFileSync(
  fileURLToPath(new URL('../../../docs/migrating-from-flagger.md', import.meta.url)),
  'utf8',
);

/** The two code-span lists of the table row that starts with `label`. */
function row(label: string): { runs: string[]; notYet: string[] } {
  const line = page.split('\n').find((l) => l.startsWith(`| ${label}`));
  if (line === undefined) throw new Error(`no row "${label}" in docs/migrating-from-flagger.md`);
  const [, , runs = '', notYet = ''] = line.split('|');
  const spans = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1] as string);
  return { runs: spans(runs), notYet: spans(notYet) };
}

const runs = (provider: string) => {
  try {
    resolveProvider(provider);
    return true;
  } catch {
    return false;
  }
};

describe('what this version runs, as docs/migrating-from-flagger.md lists it', () => {
  it('lists every router provider on the side the registry puts it', () => {
    const names = [...new Set([...RouterProviders, ...Object.keys(providerAliases)])];
    const { runs: documented, notYet } = row('routers');
    expect(documented.sort()).toEqual(names.filter(runs).sort());
    expect(notYet.sort()).toEqual(names.filter((name) => !runs(name)).sort());
  });

  it('lists the target kinds that have a workload', () => {
    expect(row('targets').runs).toEqual([...WorkloadKinds]);
  });

  it('lists every metric store type on the side the registry puts it', () => {
    const { runs: documented, notYet } = row('metric stores');
    const implemented = Object.keys(providerFactories);
    expect(documented.sort()).toEqual(implemented.sort());
    expect(notYet.sort()).toEqual(MetricProviderTypes.filter((t) => !implemented.includes(t)).sort());
  });
});
