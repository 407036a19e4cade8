import { describe, expect, it } from '@jest/globals';
import type { MetricStatus } from '../../../src/api/index.ts';
import { decide } from '../../../src/engine/index.ts';
import { inputFor, iso, NOW } from './fixtures.ts';

// Ready says whether the Canary is doing what it should. A run whose metrics give no
// verdict neither advances nor fails (it asks again each tick), so Ready must say it
// is halted, and why, from the first such measurement.

const measured = (verdict: MetricStatus['verdict'], message: string): MetricStatus => ({
  name: 'request-success-rate',
  verdict,
  message,
  lastMeasuredTime: iso(NOW),
});

function ready(metric: MetricStatus, noData = 1) {
  const decision = decide(
    inputFor('Progressing', { status: { metrics: [metric], noDataChecks: { [metric.name]: noData } } }),
  );
  return decision.status.conditions?.find((c) => c.type === 'Ready');
}

describe('Ready while the analysis cannot measure', () => {
  it('is False with AnalysisHalted, naming the metric, its message and the ticks left', () => {
    expect(ready(measured('Error', 'connect ECONNREFUSED 10.0.0.9:9090'))).toMatchObject({
      status: 'False',
      reason: 'AnalysisHalted',
      message: expect.stringMatching(
        /^analysis halted at canary weight 20: metric request-success-rate gave no verdict \(connect ECONNREFUSED 10\.0\.0\.9:9090; 1 of \d+ ticks before rollback\)$/,
      ),
    });
    expect(ready(measured('NoData', 'the query returned no series'))).toMatchObject({
      status: 'False',
      reason: 'AnalysisHalted',
    });
  });

  it('is True again once the metric gives a verdict', () => {
    expect(ready(measured('Pass', '99.9 within [99, ∞)'), 0)).toMatchObject({
      status: 'True',
      reason: 'Progressing',
    });
    expect(ready(measured('Fail', '91 below 99'), 0)).toMatchObject({ status: 'True' });
  });

  it('is not about metrics outside the analysis', () => {
    const decision = decide(
      inputFor('Succeeded', { status: { metrics: [measured('Error', 'down')], noDataChecks: {} } }),
    );
    expect(decision.status.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'True' });
  });
});
