import { describe, expect, it } from '@jest/globals';
import { Gauge, Registry } from 'prom-client';
import { forgetCanary, recordMeasurement } from '../../../src/analysis/gauge.ts';
import type { Measurement } from '../../../src/analysis/judge.ts';

function setup() {
  const registry = new Registry();
  // The same definition telemetry registers.
  const gauge = new Gauge({
    name: 'fledge_canary_metric_analysis',
    help: 'Last measured value of each canary analysis metric',
    labelNames: ['name', 'namespace', 'metric'] as const,
    registers: [registry],
  });
  return { registry, gauge };
}

const at = '2025-01-01T00:00:00.000Z';
const canary = { name: 'podinfo', namespace: 'test' };

describe('fledge_canary_metric_analysis', () => {
  it('exposes the last value per canary and metric', async () => {
    const { registry, gauge } = setup();
    recordMeasurement(gauge, canary, {
      name: 'request-success-rate',
      outcome: 'pass',
      value: 99.1,
      message: '',
      measuredAt: at,
    });
    recordMeasurement(gauge, canary, {
      name: 'request-success-rate',
      outcome: 'fail',
      value: 42,
      message: '',
      measuredAt: at,
    });
    recordMeasurement(gauge, canary, {
      name: 'request-duration',
      outcome: 'pass',
      value: 120,
      message: '',
      measuredAt: at,
    });
    const text = await registry.metrics();
    expect(text).toContain(
      'fledge_canary_metric_analysis{name="podinfo",namespace="test",metric="request-success-rate"} 42',
    );
    expect(text).toContain(
      'fledge_canary_metric_analysis{name="podinfo",namespace="test",metric="request-duration"} 120',
    );
  });

  it('removes the series when a measurement has no value, so no stale number shows', async () => {
    const { registry, gauge } = setup();
    recordMeasurement(gauge, canary, { name: 'm', outcome: 'pass', value: 1, message: '', measuredAt: at });
    const noData: Measurement = { name: 'm', outcome: 'noData', message: 'no data', measuredAt: at };
    recordMeasurement(gauge, canary, noData);
    expect(await registry.metrics()).not.toContain('metric="m"');
  });

  it('forgets every series of one canary only', async () => {
    const { registry, gauge } = setup();
    const other = { name: 'other', namespace: 'test' };
    for (const c of [canary, other]) {
      recordMeasurement(gauge, c, { name: 'a', outcome: 'pass', value: 1, message: '', measuredAt: at });
      recordMeasurement(gauge, c, { name: 'b', outcome: 'pass', value: 2, message: '', measuredAt: at });
    }
    await forgetCanary(gauge, canary);
    const text = await registry.metrics();
    expect(text).not.toContain('name="podinfo"');
    expect(text).toContain('name="other",namespace="test",metric="b"} 2');
  });
});
