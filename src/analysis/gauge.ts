import type { Gauge } from 'prom-client';
import type { Measurement } from './judge.ts';

// fledge_canary_metric_analysis: the last value of each metric check, with
// Flagger's labels (flagger_canary_metric_analysis) so dashboards port over.
// Telemetry owns the registry and the gauge (src/telemetry/metrics.ts,
// canary.metricAnalysis); these functions keep its series in step with
// measurements.

export type MetricAnalysisGauge = Gauge<'name' | 'namespace' | 'metric'>;

/**
 * Sets the gauge to the measured value. A measurement without a value (no
 * data, error, infinite) removes the series: a stale number would look current.
 */
export function recordMeasurement(
  gauge: MetricAnalysisGauge,
  canary: { readonly name: string; readonly namespace: string },
  measurement: Measurement,
): void {
  const labels = { name: canary.name, namespace: canary.namespace, metric: measurement.name };
  if (measurement.value === undefined) gauge.remove(labels);
  else gauge.set(labels, measurement.value);
}

/** Drops every series of one canary, e.g. when it is deleted. */
export async function forgetCanary(
  gauge: MetricAnalysisGauge,
  canary: { readonly name: string; readonly namespace: string },
): Promise<void> {
  const { values } = await gauge.get();
  for (const { labels } of values) {
    if (labels.name === canary.name && labels.namespace === canary.namespace) gauge.remove(labels);
  }
}
