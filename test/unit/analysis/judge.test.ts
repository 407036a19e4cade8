import { describe, expect, it } from '@jest/globals';
import { formatValue, judge } from '../../../src/analysis/judge.ts';
import { noData } from '../../../src/analysis/provider.ts';
import { normalizeCanary, type CanaryMetric } from '../../../src/api/index.ts';

describe('judge', () => {
  it('passes a value inside [min, max], bounds included', () => {
    expect(judge(99, { min: 99, max: 100 })).toEqual({
      outcome: 'pass',
      value: 99,
      message: '99 is within [99, 100]',
    });
    expect(judge(100, { min: 99, max: 100 }).outcome).toBe('pass');
  });

  it('fails below the minimum and above the maximum, naming the bound', () => {
    expect(judge(98.76543, { min: 99 })).toEqual({
      outcome: 'fail',
      value: 98.76543,
      message: '98.7654 is below the minimum 99',
    });
    expect(judge(501, { max: 500 })).toEqual({
      outcome: 'fail',
      value: 501,
      message: '501 is above the maximum 500',
    });
  });

  it('treats an open bound as unlimited', () => {
    expect(judge(-1e9, { max: 500 })).toMatchObject({
      outcome: 'pass',
      message: '-1000000000 is at most the maximum 500',
    });
    expect(judge(1e9, { min: 0 })).toMatchObject({
      outcome: 'pass',
      message: '1000000000 is at least the minimum 0',
    });
  });

  it('judges infinities but leaves them out of value, which must stay JSON', () => {
    expect(judge(Infinity, { max: 500 })).toEqual({
      outcome: 'fail',
      message: '+Inf is above the maximum 500',
    });
    expect(judge(-Infinity, { min: 0 })).toEqual({ outcome: 'fail', message: '-Inf is below the minimum 0' });
  });

  it('reports no data as noData, never as a failure', () => {
    expect(judge(noData('the query returned no series'), { min: 99 })).toEqual({
      outcome: 'noData',
      message: 'no data: the query returned no series',
    });
  });

  it('reports a range that cannot judge as an error, keeping the value', () => {
    expect(judge(5, undefined)).toMatchObject({ outcome: 'error', value: 5 });
    expect(judge(5, {}).message).toContain('no thresholdRange');
    expect(judge(5, { min: 10, max: 1 })).toMatchObject({ outcome: 'error', value: 5 });
    expect(judge(5, { min: 10, max: 1 }).message).toContain('min 10 is greater than max 1');
  });

  it('treats zero bounds as set, not as missing', () => {
    expect(judge(-0.5, { min: 0 }).outcome).toBe('fail');
    expect(judge(0.5, { max: 0 }).outcome).toBe('fail');
  });
});

describe('formatValue', () => {
  it('keeps six significant digits', () => {
    expect(formatValue(99.538461538)).toBe('99.5385');
    expect(formatValue(0.000123456789)).toBe('0.000123457');
    expect(formatValue(250)).toBe('250');
  });
});

describe('judge on a deprecated scalar threshold', () => {
  // Flagger's own comparisons: the builtin success rate failed when threshold > value,
  // every other metric (request-duration, inline query, template) when value > threshold.
  const metrics: { metric: CanaryMetric; flaggerFails: (value: number) => boolean }[] = [
    { metric: { name: 'request-success-rate', threshold: 99 }, flaggerFails: (v) => 99 > v },
    { metric: { name: 'request-duration', threshold: 500 }, flaggerFails: (v) => v > 500 },
    { metric: { name: 'errors', query: 'sum(up)', threshold: 2 }, flaggerFails: (v) => v > 2 },
    {
      metric: { name: 'latency', templateRef: { name: 'p99' }, threshold: 250 },
      flaggerFails: (v) => v > 250,
    },
    {
      metric: { name: 'request-success-rate', templateRef: { name: 'rate' }, threshold: 1 },
      flaggerFails: (v) => v > 1,
    },
  ];
  const normalized = normalizeCanary({
    metadata: { name: 'app', namespace: 'apps' },
    spec: {
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'app' },
      service: { port: 80 },
      analysis: { stepWeight: 10, metrics: metrics.map((m) => m.metric) },
    },
  }).spec.analysis.metrics;

  it.each(metrics.map(({ metric, flaggerFails }, i) => ({ metric, flaggerFails, i })))(
    '$metric.name (threshold $metric.threshold) fails exactly where Flagger failed it',
    ({ metric, flaggerFails, i }) => {
      const threshold = metric.threshold as number;
      for (const value of [threshold - 1, threshold - 0.001, threshold, threshold + 0.001, threshold + 1]) {
        const { outcome } = judge(value, normalized[i]?.thresholdRange);
        expect([value, outcome]).toEqual([value, flaggerFails(value) ? 'fail' : 'pass']);
      }
    },
  );
});
