import { describe, expect, it } from '@jest/globals';
import { ProviderError } from '../../../src/analysis/provider.ts';
import { parseKeptnQuery } from '../../../src/analysis/stores/keptn.ts';

// The keptn store's query format (Flagger's); reading the resources is tested
// against the real apiserver in test/integration/analysis/cluster-stores.test.ts.

describe('keptn query', () => {
  it('names a KeptnMetric, in any case or as the plural resource', () => {
    expect(parseKeptnQuery('keptnmetric/test/podinfo-success\n')).toEqual({
      kind: 'KeptnMetric',
      namespace: 'test',
      name: 'podinfo-success',
    });
    expect(parseKeptnQuery('KeptnMetrics/test/x')).toMatchObject({ kind: 'KeptnMetric' });
  });

  it('names an Analysis with a timeframe (1m by default) and arguments, keeping their case', () => {
    expect(parseKeptnQuery('analysis/test/slo')).toEqual({
      kind: 'Analysis',
      namespace: 'test',
      name: 'slo',
      timeframe: '1m',
      args: {},
    });
    expect(parseKeptnQuery('analyses/test/slo/5m/service=PodInfo;broken;team=web')).toEqual({
      kind: 'Analysis',
      namespace: 'test',
      name: 'slo',
      timeframe: '5m',
      args: { service: 'PodInfo', team: 'web' },
    });
  });

  it('refuses other shapes, naming the format', () => {
    const failure = (query: string) => {
      try {
        parseKeptnQuery(query);
      } catch (err) {
        expect(err).toBeInstanceOf(ProviderError);
        return (err as Error).message;
      }
      throw new Error('expected a ProviderError');
    };
    expect(failure('keptnmetric/test')).toMatch(
      /^the keptn query "keptnmetric\/test" is not keptnmetric\/<namespace>\/<name> or analysis/,
    );
    expect(failure('metric/test/x')).toMatch(
      /^the keptn query starts with "metric"; it must be keptnmetric or analysis/,
    );
  });
});
