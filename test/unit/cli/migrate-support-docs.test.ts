import { describe, expect, it } from '@jest/globals';
import { providerFactories } from '../../../src/analysis/registry.ts';
import { MetricProviderTypes, RouterProviders } from '../../../src/api/index.ts';
import { supportRows } from '../../../src/cli/migrate-docs.ts';
import { resolveProvider } from '../../../src/routers/registry.ts';
import { workloadDeclarations } from '../../../src/workloads/registry.ts';

// docs/migrating-from-flagger.md says which providers, targets and stores this version
// runs, in a table generated from these rows (make generated-check keeps it current).

const runs = (provider: string) => {
  try {
    resolveProvider(provider);
    return true;
  } catch {
    return false;
  }
};
const spans = (cells: string[]) => cells.map((cell) => cell.replace(/^.*`([^`]+)`$/, '$1'));
const [routers, targets, stores] = supportRows();

describe('what this version runs, as the migration guide lists it', () => {
  it('puts every router provider on the side the registry puts it', () => {
    expect(spans(routers?.runs ?? []).sort()).toEqual(RouterProviders.filter(runs).sort());
    expect(spans(routers?.notYet ?? []).sort()).toEqual(RouterProviders.filter((p) => !runs(p)).sort());
  });

  it('lists the target kinds that have a workload', () => {
    const titles = (runs: boolean) =>
      workloadDeclarations.filter((d) => (d.create !== undefined) === runs).map((d) => d.title);
    expect(targets?.runs).toEqual(titles(true));
    expect(targets?.notYet).toEqual(titles(false));
    expect(targets?.runs).toContain('Knative `Service`');
  });

  it('puts every metric store type on the side the registry puts it', () => {
    const implemented = Object.keys(providerFactories);
    expect(spans(stores?.runs ?? []).sort()).toEqual(implemented.sort());
    expect(spans(stores?.notYet ?? []).sort()).toEqual(
      MetricProviderTypes.filter((t) => !implemented.includes(t)).sort(),
    );
  });
});
