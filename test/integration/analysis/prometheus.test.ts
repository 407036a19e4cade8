import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { MetricTemplate, NormalizedMetric } from '../../../src/api/index.ts';
import { BuiltinMetrics, BuiltinRouters } from '../../../src/analysis/builtin.ts';
import type { Measurement } from '../../../src/analysis/judge.ts';
import { measure, type AnalysisContext, type MeasureDeps } from '../../../src/analysis/measure.ts';
import { ProviderCache } from '../../../src/analysis/registry.ts';
import { pushSamples, startPrometheus, type Prometheus, type Series } from '../../harness/prometheus.ts';
import { metricSpec } from '../../unit/analysis/fixtures.ts';
import { startProxy, startServer, type Loopback } from '../../unit/analysis/loopback.ts';

const spec = (metric: Parameters<typeof metricSpec>[0]) => metricSpec(metric, 'shop');

// The analysis modules against a real Prometheus (Debian's 2.42, started by
// the harness): values scraped from a small exporter and pushed through remote
// write, judged by measure() exactly as the controller will call it. Only the
// MetricTemplate and Secret lookups are in memory; they are the controller's.

const templates: MetricTemplate[] = [];
const secrets: Record<string, Record<string, string>> = {};
const cache = new ProviderCache();

function deps(overrides: Partial<MeasureDeps> = {}): MeasureDeps {
  return {
    getMetricTemplate: async ({ namespace, name }) =>
      templates.find((t) => t.metadata.namespace === namespace && t.metadata.name === name),
    getSecretData: async ({ namespace, name }) => secrets[`${namespace}/${name}`],
    providerFor: (config) => cache.providerFor(config),
    queryTimeoutMs: 5000,
    now: () => new Date(),
    ...overrides,
  };
}

function addTemplate(
  name: string,
  query: string,
  provider: Partial<MetricTemplate['spec']['provider']> = {},
): void {
  templates.push({
    apiVersion: 'fledge.dev/v1beta1',
    kind: 'MetricTemplate',
    metadata: { name, namespace: 'shop' },
    spec: { provider: { type: 'prometheus', ...provider }, query },
  });
}

// ---------------------------------------------------------------- exporter

// Per scrape, each pod's request counters grow by these amounts; every request
// takes between 50 and 100 ms. The primary's errors must not leak into the
// canary's checks.
const perScrape: { pod: string; status: string; requests: number }[] = [
  { pod: 'web-5d8f7c9b4-abcde', status: '200', requests: 20 },
  { pod: 'api-6c7d8e9f0-fghij', status: '200', requests: 7 },
  { pod: 'api-6c7d8e9f0-fghij', status: '500', requests: 3 },
  { pod: 'web-primary-7f8e9d0c1-klmno', status: '500', requests: 100 },
];
const bucketBounds = ['0.05', '0.1', '0.25', '+Inf'];

function startExporter(): Promise<Loopback> {
  let scrapes = 0;
  return startServer((_req, res) => {
    scrapes++;
    const lines = ['# TYPE http_request_duration_seconds histogram'];
    for (const { pod, status, requests } of perScrape) {
      const labels = `kubernetes_namespace="shop",kubernetes_pod_name="${pod}",status="${status}"`;
      const count = requests * scrapes;
      for (const le of bucketBounds) {
        lines.push(`http_request_duration_seconds_bucket{${labels},le="${le}"} ${le === '0.05' ? 0 : count}`);
      }
      lines.push(`http_request_duration_seconds_sum{${labels}} ${count * 0.075}`);
      lines.push(`http_request_duration_seconds_count{${labels}} ${count}`);
    }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(`${lines.join('\n')}\n`);
  });
}

// ------------------------------------------------------------ remote write

/** A counter growing by `perStep` every 5 s over the last minute. */
function counter(labels: Series['labels'], perStep: number, now: number): Series {
  return {
    labels,
    samples: Array.from({ length: 12 }, (_, k) => ({
      value: perStep * k,
      timestamp: now - 55_000 + k * 5000,
    })),
  };
}

function gauge(labels: Series['labels'], value: number, now: number): Series {
  return { labels, samples: [{ value, timestamp: now - 1000 }] };
}

// ------------------------------------------------------------------- setup

let prometheus: Prometheus;
let exporter: Loopback;
const proxies: Loopback[] = [];

const shop = (target: string, extra: Partial<AnalysisContext> = {}): AnalysisContext => ({
  name: target,
  namespace: 'shop',
  target,
  service: target,
  provider: 'kubernetes',
  metricsServer: prometheus.url,
  ...extra,
});

/** Measures until Prometheus has scraped enough to answer, or the deadline passes. */
async function measureWhenScraped(metric: NormalizedMetric, ctx: AnalysisContext): Promise<Measurement> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const m = await measure(metric, ctx, deps());
    if (m.outcome !== 'noData' || Date.now() > deadline) return m;
    await new Promise((r) => setTimeout(r, 500));
  }
}

beforeAll(async () => {
  exporter = await startExporter();
  prometheus = await startPrometheus({
    scrapeConfigs: [
      {
        job_name: 'fake-app',
        honor_labels: true,
        static_configs: [{ targets: [new URL(exporter.url).host] }],
      },
    ],
  });
  const now = Date.now();
  await pushSamples(prometheus.url, [
    counter({ __name__: 'istio_requests_total', ...istio('cart'), response_code: '200' }, 95, now),
    counter({ __name__: 'istio_requests_total', ...istio('cart'), response_code: '503' }, 5, now),
    counter({ __name__: 'istio_requests_total', ...istio('idle'), response_code: '200' }, 0, now),
    gauge({ __name__: 'fledge_test_latency_ms', app: 'checkout' }, 120, now),
    gauge({ __name__: 'fledge_test_latency_ms', app: 'search' }, 80, now),
  ]);
}, 60_000);

afterAll(async () => {
  cache.close();
  await Promise.all(proxies.map((p) => p.close()));
  await prometheus?.stop();
  await exporter?.close();
});

// Pushed samples span the last minute before setup; a 5m window keeps them in
// range however long the scrape-based tests take.
const pushedRate: NormalizedMetric = {
  name: 'request-success-rate',
  interval: '5m',
  thresholdRange: { min: 99 },
};

function istio(workload: string): Record<string, string> {
  return { reporter: 'destination', destination_workload_namespace: 'shop', destination_workload: workload };
}

// ------------------------------------------------------------------- tests

describe('builtin metrics on scraped values', () => {
  const interval = '10s';

  it('passes a healthy canary, ignoring the failing primary', async () => {
    const m = await measureWhenScraped(
      spec({ name: 'request-success-rate', interval, thresholdRange: { min: 99 } }),
      shop('web'),
    );
    expect(m).toMatchObject({ outcome: 'pass', value: 100, message: '100 is at least the minimum 99' });
    expect(m.query).toContain('kubernetes_pod_name=~"web-[0-9a-zA-Z]+-[0-9a-zA-Z]+"');
  }, 40_000);

  it('fails a canary with 30% errors', async () => {
    const m = await measureWhenScraped(
      spec({ name: 'request-success-rate', interval, thresholdRange: { min: 99 } }),
      shop('api'),
    );
    expect(m.outcome).toBe('fail');
    expect(m.value).toBeCloseTo(70, 5);
    expect(m.message).toBe('70 is below the minimum 99');
  }, 40_000);

  it('measures the p99 latency in milliseconds', async () => {
    const m = await measureWhenScraped(
      spec({ name: 'request-duration', interval, thresholdRange: { max: 500 } }),
      shop('web'),
    );
    expect(m.outcome).toBe('pass');
    // Every request is in the (50 ms, 100 ms] bucket; p99 interpolates to 99.5 ms.
    expect(m.value).toBeCloseTo(99.5, 5);
  }, 40_000);
});

describe('values pushed through remote write', () => {
  it('computes the Istio success rate of the canary workload', async () => {
    const ctx = shop('cart', { provider: 'istio' });
    const failing = await measure({ ...pushedRate, thresholdRange: { min: 99 } }, ctx, deps());
    expect(failing.outcome).toBe('fail');
    expect(failing.value).toBeCloseTo(95, 5);
    const passing = await measure({ ...pushedRate, thresholdRange: { min: 90 } }, ctx, deps());
    expect(passing.outcome).toBe('pass');
  });

  it('judges a MetricTemplate value with templateVariables', async () => {
    addTemplate('latency', 'max(fledge_test_latency_ms{app="{{ variables.app }}"})');
    const metric = (max: number): NormalizedMetric =>
      spec({
        name: 'latency',
        templateRef: { name: 'latency' },
        templateVariables: { app: 'checkout' },
        thresholdRange: { max },
      });
    expect(await measure(metric(100), shop('checkout'), deps())).toMatchObject({
      outcome: 'fail',
      value: 120,
      query: 'max(fledge_test_latency_ms{app="checkout"})',
      message: '120 is above the maximum 100',
    });
    expect((await measure(metric(200), shop('checkout'), deps())).outcome).toBe('pass');
  });
});

describe('no data', () => {
  it('is noData when no series match', async () => {
    const m = await measure(pushedRate, shop('ghost', { provider: 'istio' }), deps());
    expect(m).toMatchObject({ outcome: 'noData', message: 'no data: the query returned no series' });
    expect(m.value).toBeUndefined();
  });

  it('is noData when the canary had no requests (0/0)', async () => {
    const m = await measure(pushedRate, shop('idle', { provider: 'istio' }), deps());
    expect(m.outcome).toBe('noData');
    expect(m.message).toContain('NaN');
  });
});

describe('errors from a real Prometheus', () => {
  it('reports a PromQL syntax error', async () => {
    addTemplate('broken', 'sum(rate(fledge_test_latency_ms[{{ interval }}])');
    const m = await measure(
      spec({ name: 'broken', templateRef: { name: 'broken' }, thresholdRange: { max: 1 } }),
      shop('x'),
      deps(),
    );
    expect(m.outcome).toBe('error');
    expect(m.message).toMatch(/^bad-query: Prometheus rejected the query \(bad_data\): .*parse error/);
  });

  it('refuses a query returning several series', async () => {
    addTemplate('per-app', 'fledge_test_latency_ms');
    const m = await measure(
      spec({ name: 'per-app', templateRef: { name: 'per-app' }, thresholdRange: { max: 1 } }),
      shop('x'),
      deps(),
    );
    expect(m.outcome).toBe('error');
    expect(m.message).toMatch(/^unusable-result: the query returned 2 series/);
  });

  it('reports a stopped Prometheus as a connection error, never as a failed check', async () => {
    const down = await startPrometheus();
    await down.stop();
    const m = await measure(
      spec({ name: 'request-success-rate', thresholdRange: { min: 99 } }),
      shop('web', { metricsServer: down.url }),
      deps(),
    );
    expect(m.outcome).toBe('error');
    expect(m.message).toContain(`connection: cannot reach Prometheus at ${down.url}`);
    expect(m.query).toContain('http_request_duration_seconds_count');
  }, 30_000);

  it('times out a slow Prometheus and succeeds through the same path when given time', async () => {
    const slow = await startProxy(prometheus.url, { delayMs: 1500 });
    proxies.push(slow);
    const metric: NormalizedMetric = { ...pushedRate, thresholdRange: { min: 90 } };
    const ctx = shop('cart', { provider: 'istio', metricsServer: slow.url });
    const timedOut = await measure(metric, ctx, deps({ queryTimeoutMs: 300 }));
    expect(timedOut).toMatchObject({
      outcome: 'error',
      message: `timeout: Prometheus at ${slow.url} did not answer within 0.3s`,
    });
    const patient = await measure(metric, ctx, deps({ queryTimeoutMs: 5000 }));
    expect(patient.outcome).toBe('pass');
  }, 20_000);
});

describe('Prometheus behind an authenticating proxy', () => {
  const metric = (template: string): NormalizedMetric =>
    spec({
      name: template,
      templateRef: { name: template },
      templateVariables: { app: 'search' },
      thresholdRange: { max: 100 },
    });

  it('sends the bearer token from the Secret', async () => {
    const proxy = await startProxy(prometheus.url, {
      authorized: (h) => h.authorization === 'Bearer s3cret',
    });
    proxies.push(proxy);
    const query = 'max(fledge_test_latency_ms{app="{{ variables.app }}"})';
    addTemplate('bearer-ok', query, { address: proxy.url, secretRef: { name: 'bearer-ok' } });
    addTemplate('bearer-bad', query, { address: proxy.url, secretRef: { name: 'bearer-bad' } });
    addTemplate('bearer-none', query, { address: proxy.url });
    secrets['shop/bearer-ok'] = { token: 's3cret' };
    secrets['shop/bearer-bad'] = { token: 'wrong' };

    expect(await measure(metric('bearer-ok'), shop('search'), deps())).toMatchObject({
      outcome: 'pass',
      value: 80,
    });
    for (const name of ['bearer-bad', 'bearer-none']) {
      const m = await measure(metric(name), shop('search'), deps());
      expect(m.outcome).toBe('error');
      expect(m.message).toContain(`auth: Prometheus at ${proxy.url} answered 401 Unauthorized`);
    }
  });

  it('sends basic credentials from the Secret', async () => {
    const expected = `Basic ${Buffer.from('fledge:pa55word').toString('base64')}`;
    const proxy = await startProxy(prometheus.url, { authorized: (h) => h.authorization === expected });
    proxies.push(proxy);
    addTemplate('basic', 'max(fledge_test_latency_ms{app="{{ variables.app }}"})', {
      address: proxy.url,
      secretRef: { name: 'basic' },
    });
    secrets['shop/basic'] = { username: 'fledge', password: 'pa55word' };
    expect(await measure(metric('basic'), shop('search'), deps())).toMatchObject({
      outcome: 'pass',
      value: 80,
    });
  });
});

describe('template injection', () => {
  it('keeps a hostile value inside its label matcher, so Prometheus finds no such app', async () => {
    addTemplate('inject-quoted', 'max(fledge_test_latency_ms{app="{{ variables.app }}"})');
    const m = await measure(
      spec({
        name: 'inject-quoted',
        templateRef: { name: 'inject-quoted' },
        // Unescaped, this would turn the query into `... or vector(1) or ...` and return 1.
        templateVariables: { app: 'x"}) or vector(1) or max(fledge_test_latency_ms{app="' },
        thresholdRange: { max: 100 },
      }),
      shop('x'),
      deps(),
    );
    expect(m).toMatchObject({ outcome: 'noData', message: 'no data: the query returned no series' });
    expect(m.query).toBe(
      'max(fledge_test_latency_ms{app="x\\"}) or vector(1) or max(fledge_test_latency_ms{app=\\""})',
    );
  });

  it('refuses a hostile value in a bare position before sending anything', async () => {
    addTemplate(
      'inject-bare',
      'max(max_over_time(fledge_test_latency_ms{app="checkout"}[{{ variables.window }}]))',
    );
    const metric = (window: string): NormalizedMetric =>
      spec({
        name: 'inject-bare',
        templateRef: { name: 'inject-bare' },
        templateVariables: { window },
        thresholdRange: { max: 1000 },
      });
    const refused = await measure(
      metric('5m])) or vector(1) or max((fledge_test_latency_ms[5m'),
      shop('x'),
      deps(),
    );
    expect(refused.outcome).toBe('error');
    expect(refused.message).toContain('unsafe outside quotes');
    expect(refused.query).toBeUndefined();
    expect(await measure(metric('5m'), shop('x'), deps())).toMatchObject({ outcome: 'pass', value: 120 });
  });
});

describe('every builtin query', () => {
  it.each(BuiltinRouters.flatMap((router) => BuiltinMetrics.map((metric) => [router, metric] as const)))(
    'of %s %s is valid PromQL that Prometheus accepts',
    async (router, metric) => {
      const ctx = shop('nothing-here', {
        provider: router,
        ingress: 'nothing-here',
        route: 'nothing-here-00001',
      });
      const m = await measure(spec({ name: metric, thresholdRange: { min: 0 } }), ctx, deps());
      // No such series exist, so anything but noData means the query itself is wrong.
      expect(m).toMatchObject({ outcome: 'noData' });
    },
  );
});
