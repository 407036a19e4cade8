import { describe, expect, it } from '@jest/globals';
import { register as globalRegistry } from 'prom-client';
import { createMetrics, forgetCanaryMetrics, initCanaryMetrics } from '../../../src/telemetry/metrics.ts';

describe('createMetrics', () => {
  it('exposes the canary metrics under fledge_ names with Flagger’s labels', async () => {
    const metrics = createMetrics({ version: '1.2.3', meshProvider: 'gatewayapi', processMetrics: false });
    metrics.canary.total.set({ namespace: 'apps' }, 2);
    metrics.canary.status.set({ name: 'podinfo', namespace: 'apps' }, 0);
    metrics.canary.weight.set({ workload: 'podinfo-primary', namespace: 'apps' }, 90);
    metrics.canary.duration.observe({ name: 'podinfo', namespace: 'apps' }, 0.2);
    metrics.canary.metricAnalysis.set(
      { name: 'podinfo', namespace: 'apps', metric: 'request-success-rate' },
      99.5,
    );
    const text = await metrics.registry.metrics();
    expect(text).toContain('fledge_info{version="1.2.3",mesh_provider="gatewayapi"} 1');
    expect(text).toContain('fledge_canary_total{namespace="apps"} 2');
    expect(text).toContain('fledge_canary_status{name="podinfo",namespace="apps"} 0');
    expect(text).toContain('fledge_canary_weight{workload="podinfo-primary",namespace="apps"} 90');
    expect(text).toContain('fledge_canary_duration_seconds_count{name="podinfo",namespace="apps"} 1');
    expect(text).toContain(
      'fledge_canary_metric_analysis{name="podinfo",namespace="apps",metric="request-success-rate"} 99.5',
    );
  });

  it('starts reconcile counters and every informer/queue/leader series at zero', async () => {
    const metrics = createMetrics({ version: '1', meshProvider: 'kubernetes', processMetrics: false });
    const text = await metrics.registry.metrics();
    for (const result of ['success', 'requeue_after', 'error']) {
      expect(text).toContain(`fledge_reconcile_total{result="${result}"} 0`);
    }
    expect(text).toContain('fledge_reconcile_errors_total 0');
    expect(text).toContain('# TYPE fledge_reconcile_time_seconds histogram');
    for (const name of [
      'fledge_workqueue_depth',
      'fledge_workqueue_adds_total',
      'fledge_workqueue_retries_total',
      'fledge_workqueue_queue_duration_seconds',
      'fledge_workqueue_work_duration_seconds',
      'fledge_workqueue_unfinished_work_seconds',
      'fledge_workqueue_longest_running_processor_seconds',
      'fledge_informer_restarts_total',
      'fledge_informer_relists_total',
      'fledge_informer_events_total',
      'fledge_informer_synced',
      'fledge_leader_election_master_status',
    ]) {
      expect(text).toContain(`# TYPE ${name} `);
    }
  });

  it('initialises a canary’s success and failure counters and forgets them on deletion', async () => {
    const metrics = createMetrics({ version: '1', meshProvider: 'kubernetes', processMetrics: false });
    initCanaryMetrics(metrics, 'podinfo', 'apps', 'canary');
    metrics.canary.status.set({ name: 'podinfo', namespace: 'apps' }, 1);
    metrics.canary.weight.set({ workload: 'podinfo', namespace: 'apps' }, 0);
    metrics.canary.metricAnalysis.set({ name: 'podinfo', namespace: 'apps', metric: 'latency' }, 3);
    metrics.canary.successes.inc({
      name: 'other',
      namespace: 'apps',
      deployment_strategy: 'canary',
      analysis_status: 'completed',
    });
    let text = await metrics.registry.metrics();
    expect(text).toContain(
      'fledge_canary_successes_total{name="podinfo",namespace="apps",deployment_strategy="canary",analysis_status="completed"} 0',
    );
    expect(text).toContain(
      'fledge_canary_failures_total{name="podinfo",namespace="apps",deployment_strategy="canary",analysis_status="skipped"} 0',
    );
    await forgetCanaryMetrics(metrics, 'podinfo', 'apps', 'podinfo');
    text = await metrics.registry.metrics();
    expect(text).not.toContain('name="podinfo"');
    expect(text).not.toContain('workload="podinfo"');
    expect(text).toContain('name="other"');
  });

  it('keeps everything off prom-client’s global registry, so two instances coexist', async () => {
    const first = createMetrics({ version: '1', meshProvider: 'a' });
    const second = createMetrics({ version: '2', meshProvider: 'b' });
    expect(await globalRegistry.metrics()).not.toContain('fledge_');
    expect(await first.registry.metrics()).toContain('process_cpu_user_seconds_total');
    expect(await second.registry.metrics()).toContain('fledge_info{version="2",mesh_provider="b"} 1');
  });
});
