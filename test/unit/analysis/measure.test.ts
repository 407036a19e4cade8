import { describe, expect, it } from '@jest/globals';
import type { Canary, MetricTemplate } from '../../../src/api/index.ts';
import {
  analysisContextFor,
  measure,
  type AnalysisContext,
  type MeasureDeps,
} from '../../../src/analysis/measure.ts';
import { noData, ProviderError, type NoData, type ProviderConfig } from '../../../src/analysis/provider.ts';
import { ProviderCache } from '../../../src/analysis/registry.ts';
import { metricSpec } from './fixtures.ts';

// measure() end to end with an in-memory metric store behind the provider
// port; the real Prometheus path is covered by test/integration/analysis.

type Answer = number | NoData | ProviderError;

interface Harness {
  deps: MeasureDeps;
  sent: { config: ProviderConfig; query: string; requestId?: string | undefined }[];
}

function harness(
  options: {
    answers?: Answer[];
    templates?: MetricTemplate[];
    secrets?: Record<string, Record<string, string>>;
    defaultMetricsServer?: string;
  } = {},
): Harness {
  const answers = [...(options.answers ?? [])];
  const sent: Harness['sent'] = [];
  const cache = new ProviderCache({
    factories: {
      prometheus: (config) => ({
        query: async (query, _signal, _intervalMs, requestId) => {
          sent.push({ config, query, requestId });
          const answer = answers.shift();
          if (answer === undefined) throw new Error('test store has no answer left');
          if (answer instanceof ProviderError) throw answer;
          return answer;
        },
        close: () => undefined,
      }),
    },
  });
  return {
    sent,
    deps: {
      getMetricTemplate: async ({ namespace, name }) =>
        options.templates?.find((t) => t.metadata.namespace === namespace && t.metadata.name === name),
      getSecretData: async ({ namespace, name }) => options.secrets?.[`${namespace}/${name}`],
      providerFor: (config) => cache.providerFor(config),
      ...(options.defaultMetricsServer && { defaultMetricsServer: options.defaultMetricsServer }),
      queryTimeoutMs: 5000,
      now: () => new Date('2025-03-04T05:06:07Z'),
    },
  };
}

const ctx: AnalysisContext = {
  name: 'podinfo',
  namespace: 'test',
  target: 'podinfo',
  service: 'podinfo',
  provider: 'istio',
  metricsServer: 'http://prometheus.istio-system:9090',
};

function template(
  name: string,
  namespace: string,
  query: string,
  provider: Partial<MetricTemplate['spec']['provider']> = {},
): MetricTemplate {
  return {
    apiVersion: 'fledge.dev/v1beta1',
    kind: 'MetricTemplate',
    metadata: { name, namespace },
    spec: { provider: { type: 'prometheus', ...provider }, query },
  };
}

const spec = (metric: Parameters<typeof metricSpec>[0]) => metricSpec(metric, 'test');

const successRate = spec({ name: 'request-success-rate', thresholdRange: { min: 99 } });

describe('measure: builtin metrics', () => {
  it('runs the builtin query for the router on the Canary metricsServer and judges it', async () => {
    const h = harness({ answers: [99.5] });
    const m = await measure(successRate, ctx, h.deps);
    expect(m).toEqual({
      name: 'request-success-rate',
      query: h.sent[0]?.query,
      outcome: 'pass',
      value: 99.5,
      message: '99.5 is at least the minimum 99',
      measuredAt: '2025-03-04T05:06:07.000Z',
    });
    expect(h.sent[0]?.query).toContain('istio_requests_total{reporter="destination"');
    expect(h.sent[0]?.query).toContain('[1m]');
    expect(h.sent[0]?.config).toEqual({
      type: 'prometheus',
      address: 'http://prometheus.istio-system:9090',
      timeoutMs: 5000,
    });
  });

  it("passes the engine's request id on to the store", async () => {
    const h = harness({ answers: [100] });
    await measure(successRate, ctx, h.deps, undefined, 'uid-1/r1/t2/metric/0-request-success-rate');
    expect(h.sent[0]?.requestId).toBe('uid-1/r1/t2/metric/0-request-success-rate');
  });

  it('converts the Go interval to a Prometheus range', async () => {
    const h = harness({ answers: [1] });
    await measure({ ...successRate, interval: '1.5m' }, ctx, h.deps);
    expect(h.sent[0]?.query).toContain('[1m30s]');
  });

  it('falls back to the controller default address, and says so when there is none', async () => {
    const { metricsServer: _unused, ...noServer } = ctx;
    const h = harness({ answers: [100], defaultMetricsServer: 'http://prom:9090' });
    await measure(successRate, noServer, h.deps);
    expect(h.sent[0]?.config.address).toBe('http://prom:9090');

    const m = await measure(successRate, noServer, harness().deps);
    expect(m).toMatchObject({ outcome: 'error' });
    expect(m.message).toContain('no Prometheus address for builtin metric request-success-rate');
    expect(m.query).toBeUndefined();
  });

  it('refuses a router without builtins instead of guessing one', async () => {
    const m = await measure(successRate, { ...ctx, provider: 'smi:v1alpha3' }, harness().deps);
    expect(m.outcome).toBe('error');
    expect(m.message).toContain('no query for provider "smi:v1alpha3"');
    expect(m.message).toContain('MetricTemplate');
  });

  it('says which variable a builtin misses', async () => {
    const m = await measure(successRate, { ...ctx, provider: 'nginx' }, harness().deps);
    expect(m.outcome).toBe('error');
    expect(m.message).toContain('builtin request-success-rate for nginx');
    expect(m.message).toContain('spec.ingressRef');
  });
});

describe('measure: MetricTemplates', () => {
  const errors = template(
    'errors',
    'test',
    'sum(rate(errors_total{app="{{ target }}",path="{{ variables.path }}"}[{{ interval }}]))',
  );
  const metric = spec({
    name: 'errors',
    templateRef: { name: 'errors' },
    templateVariables: { path: '/api' },
    thresholdRange: { max: 1 },
    interval: '30s',
  });

  it('looks the template up in the Canary namespace by default and renders it', async () => {
    const h = harness({ answers: [2], templates: [errors] });
    const m = await measure(metric, ctx, h.deps);
    expect(m).toMatchObject({ outcome: 'fail', value: 2, message: '2 is above the maximum 1' });
    expect(m.query).toBe('sum(rate(errors_total{app="podinfo",path="/api"}[30s]))');
  });

  it('honours templateRef.namespace and reports a missing template', async () => {
    const shared = template('errors', 'monitoring', 'vector(0)', { address: 'http://shared:9090' });
    const h = harness({ answers: [0], templates: [shared] });
    const found = await measure(
      { ...metric, templateRef: { name: 'errors', namespace: 'monitoring' } },
      ctx,
      h.deps,
    );
    expect(found.outcome).toBe('pass');
    expect(h.sent[0]?.config.address).toBe('http://shared:9090');

    const missing = await measure(metric, ctx, h.deps);
    expect(missing).toMatchObject({ outcome: 'error', message: 'MetricTemplate test/errors not found' });
  });

  it('reports a template error with the template name, without sending anything', async () => {
    const h = harness({ templates: [errors] });
    const m = await measure({ ...metric, templateVariables: {} }, ctx, h.deps);
    expect(m.outcome).toBe('error');
    expect(m.message).toMatch(
      /^query template: MetricTemplate test\/errors: .*\{\{ variables\.path \}\} is not set/,
    );
    expect(h.sent).toHaveLength(0);
  });

  it('passes Secret credentials, TLS settings and flattened headers to the provider', async () => {
    const authed = template('errors', 'test', 'vector(1)', {
      address: 'https://prom.example:9090',
      secretRef: { name: 'prom-auth' },
      headers: { 'X-Scope-OrgID': ['tenant-a'], Accept: ['a', 'b'], Empty: [] },
      insecureSkipVerify: true,
    });
    const h = harness({ answers: [0], templates: [authed], secrets: { 'test/prom-auth': { token: 't' } } });
    await measure(metric, ctx, h.deps);
    expect(h.sent[0]?.config).toEqual({
      type: 'prometheus',
      address: 'https://prom.example:9090',
      timeoutMs: 5000,
      headers: { 'X-Scope-OrgID': 'tenant-a', Accept: 'a, b' },
      credentials: { type: 'bearer', token: 't' },
      tls: { insecureSkipVerify: true },
    });
  });

  it('reports a missing or unusable Secret', async () => {
    const authed = template('errors', 'test', 'vector(1)', { secretRef: { name: 'prom-auth' } });
    const missing = await measure(metric, ctx, harness({ templates: [authed] }).deps);
    expect(missing.message).toBe(
      'Secret test/prom-auth (spec.provider.secretRef of MetricTemplate test/errors) not found',
    );
    const bad = await measure(
      metric,
      ctx,
      harness({ templates: [authed], secrets: { 'test/prom-auth': { username: 'u' } } }).deps,
    );
    expect(bad.message).toBe(
      'config: Secret test/prom-auth has username without password; basic auth needs both',
    );
  });

  it('uses the Canary address for a prometheus template without one, and refuses other types without one', async () => {
    const h = harness({ answers: [0], templates: [errors] });
    await measure(metric, ctx, h.deps);
    expect(h.sent[0]?.config.address).toBe(ctx.metricsServer);

    const graphite = template('errors', 'test', 'x', { type: 'graphite' });
    const m = await measure(metric, ctx, harness({ templates: [graphite] }).deps);
    expect(m.message).toBe('MetricTemplate test/errors has no spec.provider.address');
  });

  it('names the Secret keys a store needs when the template has no secretRef, or the Secret lacks them', async () => {
    const splunk = template('errors', 'test', 'x', { type: 'splunk', address: 'https://api.signalfx.com' });
    const m = await measure(metric, ctx, harness({ templates: [splunk] }).deps);
    expect(m.message).toBe(
      'MetricTemplate test/errors has no spec.provider.secretRef; splunk needs a Secret with sf_token_key',
    );
    const withRef = template('errors', 'test', 'x', {
      type: 'splunk',
      address: 'https://api.signalfx.com',
      secretRef: { name: 'sfx' },
    });
    const lacking = await measure(
      metric,
      ctx,
      harness({ templates: [withRef], secrets: { 'test/sfx': { token: 'abc' } } }).deps,
    );
    expect(lacking.message).toBe('config: Secret test/sfx has no sf_token_key; the store needs them');
  });

  it('names a declared provider type that has no implementation yet', async () => {
    const external = template('errors', 'test', 'x', { type: 'externalmetrics' });
    const m = await measure(metric, ctx, harness({ templates: [external] }).deps);
    expect(m).toMatchObject({ outcome: 'error' });
    expect(m.message).toBe(
      'config: this version of Fledge cannot query metric provider type "externalmetrics" in spec.provider.type; known types: prometheus',
    );
  });
});

describe('measure: outcomes', () => {
  it('keeps the query and the error kind when the provider fails', async () => {
    const h = harness({
      answers: [new ProviderError('timeout', 'Prometheus at http://p did not answer within 5s')],
    });
    const m = await measure(successRate, ctx, h.deps);
    expect(m).toMatchObject({
      outcome: 'error',
      query: h.sent[0]?.query,
      message: 'timeout: Prometheus at http://p did not answer within 5s',
    });
    expect(m.value).toBeUndefined();
  });

  it('reports no data as noData', async () => {
    const h = harness({ answers: [noData('the query returned no series')] });
    expect(await measure(successRate, ctx, h.deps)).toMatchObject({
      outcome: 'noData',
      message: 'no data: the query returned no series',
    });
  });

  it('runs a deprecated inline query on the Canary metricsServer', async () => {
    const h = harness({ answers: [3] });
    const m = await measure(
      spec({ name: 'custom', query: 'sum(up{job="{{ target }}"})', thresholdRange: { max: 2 } }),
      ctx,
      h.deps,
    );
    expect(m).toMatchObject({
      outcome: 'fail',
      query: 'sum(up{job="podinfo"})',
      message: '3 is above the maximum 2',
    });
    expect(h.sent[0]?.config.address).toBe(ctx.metricsServer);
  });

  it('refuses an interval that cannot be a Prometheus range', async () => {
    const m = await measure({ ...successRate, interval: '1500us' }, ctx, harness().deps);
    expect(m.outcome).toBe('error');
    expect(m.message).toContain('metric interval "1500us"');
  });

  it('refuses a metric that is neither builtin nor templated', async () => {
    const m = await measure(spec({ name: 'latency', thresholdRange: { max: 1 } }), ctx, harness().deps);
    expect(m.message).toBe(
      'metric "latency" is not a builtin (request-success-rate, request-duration) and has no templateRef',
    );
  });

  it('never throws, even when a dependency does', async () => {
    const h = harness();
    const deps: MeasureDeps = {
      ...h.deps,
      getMetricTemplate: () => Promise.reject(new Error('informer not synced')),
    };
    const m = await measure(
      spec({ name: 'x', templateRef: { name: 'x' }, thresholdRange: { max: 1 } }),
      ctx,
      deps,
    );
    expect(m).toMatchObject({ outcome: 'error', message: 'unexpected error: informer not synced' });
  });
});

describe('analysisContextFor', () => {
  const canary = {
    apiVersion: 'fledge.dev/v1beta1',
    kind: 'Canary',
    metadata: { name: 'web', namespace: 'shop' },
    spec: {
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web-app' },
      service: { port: 80 },
      ingressRef: { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', name: 'web-ing' },
    },
  } as unknown as Canary;

  it('takes names from the Canary with Flagger defaults', () => {
    expect(analysisContextFor(canary, { defaultProvider: 'nginx' })).toEqual({
      name: 'web',
      namespace: 'shop',
      target: 'web-app',
      service: 'web-app',
      ingress: 'web-ing',
      provider: 'nginx',
    });
  });

  it('prefers the Canary provider, service name, metricsServer and a given route', () => {
    const custom = {
      ...canary,
      spec: {
        ...canary.spec,
        provider: 'knative',
        metricsServer: 'http://p:9090',
        service: { name: 'web', port: 80 },
      },
    } as unknown as Canary;
    expect(analysisContextFor(custom, { defaultProvider: 'nginx', route: 'web-00002' })).toMatchObject({
      provider: 'knative',
      service: 'web',
      metricsServer: 'http://p:9090',
      route: 'web-00002',
    });
  });
});
