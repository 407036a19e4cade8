import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { CanaryStatus, MetricStatus } from '../../../src/api/index.ts';
import { canaryStatus, imageOf, inPhase, waitForCanary } from '../../harness/canary.ts';
import { createTestNamespace, integrationEnv } from '../../harness/env.ts';
import { startOperatorProcess, type OperatorProcess } from '../../harness/operator.ts';
import { startPrometheus, type Prometheus } from '../../harness/prometheus.ts';
import { startPrometheusProxy, type PrometheusProxy } from '../../harness/prometheus-proxy.ts';
import { apply } from '../controller/fixtures.ts';
import { canaryEvents } from '../controller/history.ts';
import { startFakeGatewayController, type FakeGatewayController } from '../../harness/third-party.ts';
import { LiveSeries } from './live-series.ts';
import { startRelease } from './release.ts';

// Canary analysis driven only by what a real Prometheus returns: the test owns a
// Prometheus, writes the canary's "success rate" into it by remote write, and
// reaches it through a proxy that demands the bearer token of the template's
// Secret and can be switched off to simulate an outage.

const successRate = 'fledge_e2e_success_rate';
const metricName = 'success-rate';
// Random-looking, as real tokens are: Fledge blanks every 8-character piece of a credential it holds.
const prometheusToken = 'e2e-Rq7vXk2mPz9w';

const metricOf = (status: CanaryStatus, name = metricName): MetricStatus | undefined =>
  status.metrics?.find((m) => m.name === name);

describe('canary analysis against a real Prometheus', () => {
  const { kubeconfigPath } = integrationEnv();
  let namespace: string;
  let prometheus: Prometheus;
  let proxy: PrometheusProxy;
  let series: LiveSeries;
  let operator: OperatorProcess;
  // No Gateway implementation runs in the sandbox: this one accepts the canary's HTTPRoute.
  let gateway: FakeGatewayController;

  beforeAll(async () => {
    namespace = await createTestNamespace('analysis');
    prometheus = await startPrometheus();
    proxy = await startPrometheusProxy(prometheus.url, { token: prometheusToken });
    series = new LiveSeries(prometheus.url);
    gateway = startFakeGatewayController(kubeconfigPath, namespace);
    operator = await startOperatorProcess({ kubeconfigPath, namespace });
    await apply(
      kubeconfigPath,
      // The controller reads the token from the Secret the templates reference.
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'prometheus-auth', namespace },
        stringData: { token: prometheusToken },
      },
      metricTemplate(
        namespace,
        'success-rate',
        `sum(${successRate}{namespace="{{ namespace }}",canary="{{ name }}"})`,
      ),
      // A series nobody writes: the query always returns an empty vector.
      metricTemplate(namespace, 'absent', `sum(fledge_e2e_never_written{namespace="{{ namespace }}"})`),
    );
  }, 60_000);

  afterAll(async () => {
    await operator?.stop();
    await gateway?.stop();
    await series?.stop();
    await proxy?.close();
    await prometheus?.stop();
  });

  function metricTemplate(ns: string, name: string, query: string): object {
    return {
      apiVersion: 'fledge.dev/v1beta1',
      kind: 'MetricTemplate',
      metadata: { name, namespace: ns },
      spec: {
        provider: { type: 'prometheus', address: proxy.url, secretRef: { name: 'prometheus-auth' } },
        query,
      },
    };
  }

  /** A Gateway API canary analysed every 10 s at weights 25 and 50, checking one template metric (min 99). */
  async function startRollout(name: string, template: string, threshold: number): Promise<void> {
    await startRelease(kubeconfigPath, namespace, name, {
      provider: 'gatewayapi:v1',
      service: { port: 9898, gatewayRefs: [{ name: 'public', namespace: 'gateways' }] },
      analysis: {
        interval: '10s',
        threshold,
        maxWeight: 50,
        stepWeight: 25,
        metrics: [
          {
            name: metricName,
            interval: '1m',
            templateRef: { name: template },
            thresholdRange: { min: 99 },
          },
        ],
      },
    });
  }

  /** This file's series of fledge_canary_metric_analysis for one canary. */
  async function gaugeLines(name: string): Promise<string[]> {
    const exposition = await (await fetch(`${operator.url}/metrics`)).text();
    return exposition
      .split('\n')
      .filter((line) => line.startsWith('fledge_canary_metric_analysis{'))
      .filter((line) =>
        [`name="${name}"`, `namespace="${namespace}"`, `metric="${metricName}"`].every((l) =>
          line.includes(l),
        ),
      );
  }

  async function haltedGaugeLine(name: string): Promise<string | undefined> {
    const exposition = await (await fetch(`${operator.url}/metrics`)).text();
    return exposition
      .split('\n')
      .find(
        (line) =>
          line.startsWith('fledge_canary_analysis_halted{') &&
          line.includes(`name="${name}"`) &&
          line.includes(`namespace="${namespace}"`),
      );
  }

  const query = (name: string) => `sum(${successRate}{namespace="${namespace}",canary="${name}"})`;

  it('promotes a canary whose metric stays in range, keeping the last value, verdict and query in status', async () => {
    await series.set(successRate, { namespace, canary: 'good' }, 99.5);
    await startRollout('good', 'success-rate', 2);

    const { status, path } = await waitForCanary(
      kubeconfigPath,
      namespace,
      'good',
      inPhase('Succeeded', 'Failed'),
      {
        timeoutMs: 150_000,
      },
    );
    expect(status.phase).toBe('Succeeded');
    expect(path).toEqual(expect.arrayContaining(['Progressing:25', 'Progressing:50', 'Succeeded:0']));
    expect(status.failedChecks).toBe(0);
    expect(metricOf(status)).toMatchObject({ query: query('good'), value: 99.5, verdict: 'Pass' });
    expect(await imageOf(kubeconfigPath, namespace, 'good-primary')).toBe('example/app:2');

    // The gauge carries the last value of the check.
    const gauge = await gaugeLines('good');
    expect(gauge).toHaveLength(1);
    expect(Number(gauge[0]?.split(' ').at(-1))).toBe(99.5);
    // Every query carried the Secret's token.
    expect(proxy.unauthorized).toBe(0);
  }, 240_000);

  it('rolls back a canary whose metric is out of range within `threshold` ticks, naming metric, value and threshold', async () => {
    await series.set(successRate, { namespace, canary: 'bad' }, 90);
    await startRollout('bad', 'success-rate', 2);

    // Failed is written first; the weight reads 0 once the routes are back on the primary.
    const { status, path } = await waitForCanary(
      kubeconfigPath,
      namespace,
      'bad',
      (s) => s.phase === 'Succeeded' || (s.phase === 'Failed' && s.canaryWeight === 0),
      {
        timeoutMs: 150_000,
      },
    );
    expect(status.phase).toBe('Failed');
    expect(status.canaryWeight).toBe(0);
    // It never advanced past the first step it measured.
    expect(path.some((step) => step.endsWith(':50'))).toBe(false);
    expect(metricOf(status)).toMatchObject({ query: query('bad'), value: 90, verdict: 'Fail' });
    expect(await imageOf(kubeconfigPath, namespace, 'bad-primary')).toBe('example/app:1');

    const events = await canaryEvents(kubeconfigPath, namespace, 'bad');
    const failed = events.filter((e) => e.reason === 'CheckFailed');
    const rolledBack = events.filter((e) => e.reason === 'RolledBack');
    // threshold 2: one counted failure, then the second one rolls back.
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ type: 'Warning' });
    expect(failed[0]?.note).toContain(`${metricName}: 90 is below the minimum 99`);
    expect(failed[0]?.note).toContain('1/2');
    expect(rolledBack).toHaveLength(1);
    expect(rolledBack[0]).toMatchObject({ type: 'Warning' });
    expect(rolledBack[0]?.note).toContain(`${metricName}: 90 is below the minimum 99`);
  }, 240_000);

  it('halts, never promotes and counts no failure while Prometheus is stopped, then carries on once it is back', async () => {
    await series.set(successRate, { namespace, canary: 'outage' }, 99.5);
    await startRollout('outage', 'success-rate', 1);
    // Measured and passed at least once, then Prometheus goes away.
    await waitForCanary(
      kubeconfigPath,
      namespace,
      'outage',
      (s) => s.phase === 'Progressing' && metricOf(s)?.verdict === 'Pass',
      { what: 'a passing check', timeoutMs: 90_000 },
    );
    // The real process stops (its data kept) and starts again on the same port.
    await prometheus.down();
    const unmeasured = (count: number) => (s: CanaryStatus) =>
      (s.noDataChecks?.[metricName] ?? 0) >= count || inPhase('Succeeded', 'Failed')(s);
    let first: { status: CanaryStatus; path: string[] };
    let halted: { status: CanaryStatus; path: string[] };
    let haltedGauge: string | undefined;
    try {
      first = await waitForCanary(kubeconfigPath, namespace, 'outage', unmeasured(1), {
        what: 'a tick without Prometheus',
        timeoutMs: 60_000,
      });
      halted = await waitForCanary(kubeconfigPath, namespace, 'outage', unmeasured(3), {
        what: 'three ticks without Prometheus',
        timeoutMs: 60_000,
      });
      haltedGauge = await haltedGaugeLine('outage');
    } finally {
      await prometheus.up();
    }
    expect(first.status.phase).toBe('Progressing');
    expect(halted.status.phase).toBe('Progressing');
    expect(halted.status.failedChecks).toBe(0);
    // Ready says so from the first tick without a verdict, and so does the gauge an alert rule reads.
    for (const { status } of [first, halted]) {
      expect(status.conditions?.find((c) => c.type === 'Ready')).toMatchObject({
        status: 'False',
        reason: 'AnalysisHalted',
        message: expect.stringContaining(`metric ${metricName} gave no verdict (connection: `),
      });
    }
    expect(haltedGauge).toMatch(/ 1$/);
    expect(metricOf(halted.status)).toMatchObject({ verdict: 'Error' });
    expect(metricOf(halted.status)?.message).toMatch(/^connection: /);
    // A check without a value has no gauge series, rather than a stale number.
    expect(await gaugeLines('outage')).toEqual([]);
    // Halted where the outage found it: no step while the check had no value.
    expect(halted.status.canaryWeight).toBe(first.status.canaryWeight);
    expect(halted.path.every((step) => step === `Progressing:${first.status.canaryWeight}`)).toBe(true);
    const events = await canaryEvents(kubeconfigPath, namespace, 'outage');
    expect(events.filter((e) => e.reason === 'AnalysisHalted').map((e) => e.note)).toEqual(
      expect.arrayContaining([expect.stringContaining(`metric ${metricName} could not be measured`)]),
    );
    expect(events.some((e) => e.reason === 'CheckFailed')).toBe(false);

    const { status } = await waitForCanary(
      kubeconfigPath,
      namespace,
      'outage',
      inPhase('Succeeded', 'Failed'),
      {
        timeoutMs: 120_000,
      },
    );
    expect(status.phase).toBe('Succeeded');
    expect(metricOf(status)).toMatchObject({ verdict: 'Pass', value: 99.5 });
    expect(await haltedGaugeLine('outage')).toMatch(/ 0$/);
  }, 300_000);

  it('treats an empty result as no data: no promotion, verdict NoData, no failed check', async () => {
    await startRollout('nodata', 'absent', 1);
    const { status, path } = await waitForCanary(
      kubeconfigPath,
      namespace,
      'nodata',
      (s) => (s.noDataChecks?.[metricName] ?? 0) >= 3 || inPhase('Succeeded', 'Failed')(s),
      { what: 'three ticks without data', timeoutMs: 120_000 },
    );
    expect(status.phase).toBe('Progressing');
    expect(status.failedChecks).toBe(0);
    expect(metricOf(status)).toMatchObject({ verdict: 'NoData' });
    expect(metricOf(status)?.value).toBeUndefined();
    expect(metricOf(status)?.message).toMatch(/^no data: /);
    // Halted at the first analysed step: it never moved on.
    expect(path.some((step) => step.endsWith(':50'))).toBe(false);
    const events = await canaryEvents(kubeconfigPath, namespace, 'nodata');
    expect(events.some((e) => e.reason === 'CheckFailed')).toBe(false);
    expect(events.some((e) => e.reason === 'AnalysisHalted' && e.note.includes('had no data'))).toBe(true);
    // Still holding a tick later.
    await new Promise((resolve) => setTimeout(resolve, 12_000));
    const later = await canaryStatus(kubeconfigPath, namespace, 'nodata');
    expect(later.phase).toBe('Progressing');
    expect(later.canaryWeight).toBe(status.canaryWeight);
    expect(later.failedChecks).toBe(0);
  }, 240_000);
});
