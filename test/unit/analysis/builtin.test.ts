import { describe, expect, it } from '@jest/globals';
import { RouterProviders } from '../../../src/api/canary.ts';
import {
  BuiltinMetrics,
  BuiltinRouters,
  builtinQueryTemplate,
  builtinRouterFor,
  builtinRouterMetrics,
} from '../../../src/analysis/builtin.ts';
import { renderQuery, type TemplateVariables } from '../../../src/analysis/template.ts';

const vars: TemplateVariables = {
  name: 'podinfo',
  namespace: 'test',
  target: 'podinfo',
  service: 'podinfo',
  ingress: 'podinfo',
  route: 'podinfo-00002',
  interval: '1m',
  variables: {},
};

function render(router: (typeof BuiltinRouters)[number], metric: (typeof BuiltinMetrics)[number]): string {
  const prepare = builtinRouterMetrics.get(router)?.prepareVariables;
  return renderQuery(builtinQueryTemplate(router, metric), prepare ? prepare(vars) : vars);
}

describe('builtin table', () => {
  it('covers every router named in the issue', () => {
    expect([...BuiltinRouters].sort()).toEqual(
      [
        'kubernetes',
        'gatewayapi',
        'istio',
        'linkerd',
        'nginx',
        'contour',
        'gloo',
        'traefik',
        'skipper',
        'apisix',
        'kuma',
        'osm',
        'appmesh',
        'knative',
      ].sort(),
    );
  });

  it.each(BuiltinRouters.flatMap((r) => BuiltinMetrics.map((m) => [r, m] as const)))(
    '%s has %s, rendering to a query with no placeholder left and balanced brackets',
    (router, metric) => {
      const query = render(router, metric);
      expect(query).not.toContain('{{');
      expect(query).toContain('[1m]');
      for (const [open, close] of ['()', '{}', '[]']) {
        expect(query.split(open as string).length).toBe(query.split(close as string).length);
      }
    },
  );

  it('asks for a percentage of non-failed requests and for milliseconds', () => {
    expect(render('istio', 'request-success-rate')).toBe(
      'sum(rate(istio_requests_total{reporter="destination",destination_workload_namespace="test",destination_workload="podinfo",response_code!~"5.."}[1m])) / sum(rate(istio_requests_total{reporter="destination",destination_workload_namespace="test",destination_workload="podinfo"}[1m])) * 100',
    );
    // Seconds-based histograms are scaled to milliseconds, millisecond ones are not.
    expect(render('kubernetes', 'request-duration')).toMatch(/^histogram_quantile\(0\.99, .*\) \* 1000$/);
    expect(render('istio', 'request-duration')).toMatch(
      /^histogram_quantile\(0\.99, .*milliseconds_bucket.*\)\)\)$/,
    );
    expect(render('nginx', 'request-duration')).toMatch(/_sum\{.*\/ .*_count\{.*\* 1000$/);
  });

  it('mangles names for skipper the way skipper does', () => {
    const query = renderQuery(builtinQueryTemplate('skipper', 'request-success-rate'), {
      ...builtinRouterMetrics.get('skipper')!.prepareVariables!({
        ...vars,
        namespace: 'team-a',
        ingress: 'web.app',
      }),
    });
    expect(query).toContain('route=~"kube(ew)?_team_a__web_app_canary__.*__podinfo_canary(_[0-9]+)?"');
  });

  it('uses ingress for nginx and route for knative and apisix', () => {
    expect(builtinQueryTemplate('nginx', 'request-success-rate')).toContain('{{ ingress }}');
    expect(builtinQueryTemplate('knative', 'request-duration')).toContain('{{ route }}');
    expect(builtinQueryTemplate('apisix', 'request-success-rate')).toContain('{{ route }}');
  });
});

describe('builtinRouterFor', () => {
  it('drops API versions from the Canary provider', () => {
    expect(builtinRouterFor('gatewayapi:v1')).toBe('gatewayapi');
    expect(builtinRouterFor('gatewayapi:v1beta1')).toBe('gatewayapi');
    expect(builtinRouterFor('appmesh:v1beta2')).toBe('appmesh');
    expect(builtinRouterFor('istio')).toBe('istio');
  });

  it('has no builtin for SMI or unknown providers instead of falling back to Istio', () => {
    expect(builtinRouterFor('smi:v1alpha3')).toBeUndefined();
    expect(builtinRouterFor('istio:service')).toBeUndefined();
    expect(builtinRouterFor('nope')).toBeUndefined();
  });

  it('maps every router provider of the Canary API except SMI', () => {
    const unmapped = RouterProviders.filter((p) => builtinRouterFor(p) === undefined);
    expect(unmapped).toEqual(['smi:v1alpha1', 'smi:v1alpha2', 'smi:v1alpha3']);
  });
});
