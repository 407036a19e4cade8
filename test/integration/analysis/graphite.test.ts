import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { MetricTemplate } from '../../../src/api/index.ts';
import { measure, type AnalysisContext, type MeasureDeps } from '../../../src/analysis/measure.ts';
import { ProviderCache } from '../../../src/analysis/registry.ts';
import { startGraphite, type Graphite } from '../../harness/graphite.ts';
import { metricSpec } from '../../unit/analysis/fixtures.ts';

// The graphite store against Debian's Graphite (carbon-cache and graphite-web,
// started by the harness behind a basic-auth proxy), fed real points over
// carbon's plaintext protocol and measured exactly as the controller does.

const auth = { username: 'fledge', password: 'gr-Wq5vNc8xLz3t' };
const ctx: AnalysisContext = {
  name: 'podinfo',
  namespace: 'shop',
  target: 'podinfo',
  service: 'podinfo',
  provider: 'kubernetes',
};

describe('graphite store against a real Graphite', () => {
  let graphite: Graphite;
  const cache = new ProviderCache();
  const templates: MetricTemplate[] = [];
  const secrets: Record<string, Record<string, string>> = { 'shop/graphite-auth': auth };

  beforeAll(async () => {
    graphite = await startGraphite(auth);
    const now = Math.floor(Date.now() / 1000);
    await graphite.feed([
      { path: 'app.podinfo.success', value: 97, timestamp: now - 30 },
      { path: 'app.podinfo.success', value: 99.5, timestamp: now - 10 },
      { path: 'app.pod-a.requests', value: 3, timestamp: now - 10 },
      { path: 'app.pod-b.requests', value: 4, timestamp: now - 10 },
    ]);
  }, 120_000);

  afterAll(async () => {
    cache.close();
    await graphite?.stop();
  });

  const deps: MeasureDeps = {
    getMetricTemplate: async ({ namespace, name }) =>
      templates.find((t) => t.metadata.namespace === namespace && t.metadata.name === name),
    getSecretData: async ({ namespace, name }) => secrets[`${namespace}/${name}`],
    providerFor: (config) => cache.providerFor(config),
    queryTimeoutMs: 10_000,
    now: () => new Date(),
  };

  async function run(query: string, options: { secret?: string; interval?: string } = {}) {
    const name = `t${templates.length}`;
    templates.push({
      apiVersion: 'fledge.dev/v1beta1',
      kind: 'MetricTemplate',
      metadata: { name, namespace: 'shop' },
      spec: {
        provider: {
          type: 'graphite',
          address: graphite.url,
          secretRef: { name: options.secret ?? 'graphite-auth' },
        },
        query,
      },
    });
    return measure(
      metricSpec(
        {
          name: 'success',
          templateRef: { name },
          thresholdRange: { min: 99 },
          interval: options.interval ?? '1m',
        },
        'shop',
      ),
      ctx,
      deps,
    );
  }

  it('takes the last point of the series, with {{ interval }} in Graphite units', async () => {
    const m = await run(
      `target=summarize(app.{{ target }}.success, '{{ interval }}', 'last')
      &from=-{{ interval }}`,
      { interval: '2m' },
    );
    expect(m).toMatchObject({ outcome: 'pass', value: 99.5 });
    expect(m.query).toBe(`target=summarize(app.podinfo.success, '120s', 'last')\n      &from=-120s`);
  });

  it('has no data for a path nobody writes', async () => {
    expect(await run('target=app.{{ target }}.never&from=-5min')).toMatchObject({
      outcome: 'noData',
      message: 'no data: the query returned no series',
    });
  });

  it("refuses several series, and reports Graphite's own error for a bad query", async () => {
    const several = await run('target=app.*.requests&from=-5min');
    expect(several).toMatchObject({ outcome: 'error' });
    expect(several.message).toMatch(
      /^unusable-result: the query returned 2 series \(app\.pod-a\.requests, app\.pod-b\.requests\)/,
    );
    const bad = await run('target=app.podinfo.success&from=-5m');
    expect(bad).toMatchObject({ outcome: 'error' });
    expect(bad.message).toBe(
      "bad-query: Graphite rejected the query (HTTP 400): Invalid parameters (Invalid offset unit 'm')",
    );
  });

  it('sends the Secret as basic auth, and names the keys when Graphite refuses them', async () => {
    secrets['shop/wrong'] = { username: 'fledge', password: 'not-the-Password-1' };
    const refused = await run('target=app.podinfo.success&from=-5min', { secret: 'wrong' });
    expect(refused).toMatchObject({ outcome: 'error' });
    expect(refused.message).toBe(
      `auth: Graphite at ${graphite.url} answered 401 Unauthorized (Unauthorized); check username and password in the Secret named by spec.provider.secretRef`,
    );
    expect(graphite.unauthorized()).toBe(1);
  });
});
