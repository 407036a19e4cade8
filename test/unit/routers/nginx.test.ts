import { describe, expect, it } from '@jest/globals';
import type { ABMatch, CanaryAnalysis } from '../../../src/api/index.ts';
import { RouterConfigError, routableCanary } from '../../../src/routers/index.ts';
import type { Ingress } from '../../../src/routers/ingress.ts';
import { abAnnotations, readCanaryWeight, renderCanaryIngress } from '../../../src/routers/nginx.ts';

const P = 'nginx.ingress.kubernetes.io/';

function nginxCanary(analysis: CanaryAnalysis = { interval: '1m', stepWeight: 10, maxWeight: 50 }) {
  return routableCanary({
    apiVersion: 'fledge.dev/v1beta1',
    kind: 'Canary',
    metadata: { name: 'web', namespace: 'test', uid: 'canary-uid' },
    spec: {
      provider: 'nginx',
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
      ingressRef: { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', name: 'public' },
      service: { port: 80 },
      analysis,
    },
  });
}

const user: Ingress = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'Ingress',
  metadata: {
    name: 'public',
    namespace: 'test',
    labels: { app: 'web' },
    annotations: {
      [`${P}proxy-body-size`]: '8m',
      [`${P}canary-weight`]: '7',
      'kubectl.kubernetes.io/last-applied-configuration': '{}',
    },
  },
  spec: {
    ingressClassName: 'nginx',
    rules: [
      {
        host: 'web.example.com',
        http: {
          paths: [
            { path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } },
          ],
        },
      },
    ],
  },
};

const flux = {
  'kustomize.toolkit.fluxcd.io/reconcile': 'disabled',
  'helm.toolkit.fluxcd.io/driftDetection': 'disabled',
};

describe('the canary Ingress', () => {
  it('is a copy of the user Ingress with the weight, the user annotations minus canary ones, and the Flux marks', () => {
    const copy = renderCanaryIngress(nginxCanary(), user, 30, true);
    expect(copy.metadata.name).toBe('public-canary');
    expect(copy.metadata.labels).toEqual({ app: 'web' });
    expect(copy.metadata.annotations).toEqual({
      [`${P}proxy-body-size`]: '8m',
      [`${P}canary`]: 'true',
      [`${P}canary-weight`]: '30',
      ...flux,
    });
    expect(copy.metadata.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'Canary', uid: 'canary-uid' }),
    ]);
    expect(copy.spec.rules?.[0]?.http?.paths[0]?.backend.service?.name).toBe('web-canary');
    expect(renderCanaryIngress(nginxCanary(), user, 30, false).metadata.ownerReferences).toBeUndefined();
  });

  it('routes A/B testing by header and cookie with weight 0 for everyone else', () => {
    const analysis: CanaryAnalysis = {
      interval: '1m',
      iterations: 2,
      threshold: 1,
      match: [
        { headers: { 'x-canary': { exact: 'insider' } } },
        { headers: { cookie: { exact: 'canary' } } },
      ],
    };
    expect(renderCanaryIngress(nginxCanary(analysis), user, 100, true).metadata.annotations).toEqual({
      [`${P}proxy-body-size`]: '8m',
      [`${P}canary`]: 'true',
      [`${P}canary-weight`]: '0',
      [`${P}canary-by-header`]: 'x-canary',
      [`${P}canary-by-header-value`]: 'insider',
      [`${P}canary-by-cookie`]: 'canary',
      ...flux,
    });
  });

  it.each<[ABMatch, Record<string, string>]>([
    [
      { headers: { 'x-canary': { regex: 'a|b' } } },
      { [`${P}canary-by-header`]: 'x-canary', [`${P}canary-by-header-pattern`]: 'a|b' },
    ],
    [
      { headers: { 'x-canary': { prefix: 'v1.' } } },
      { [`${P}canary-by-header`]: 'x-canary', [`${P}canary-by-header-pattern`]: '^v1\\.' },
    ],
    [
      { headers: { 'x-canary': { suffix: '-beta' } } },
      { [`${P}canary-by-header`]: 'x-canary', [`${P}canary-by-header-pattern`]: '-beta$' },
    ],
  ])('writes %j as %j', (match, expected) => {
    expect(abAnnotations([match])).toEqual(expected);
  });

  it.each<[string, ABMatch[], RegExp]>([
    [
      'two conditions in one entry',
      [{ headers: { a: { exact: '1' }, b: { exact: '2' } } }],
      /match\[0\]: ingress-nginx cannot require several conditions/,
    ],
    [
      'two headers',
      [{ headers: { a: { exact: '1' } } }, { headers: { b: { exact: '2' } } }],
      /match\[1\]: ingress-nginx routes the canary by one header only/,
    ],
    [
      'a cookie by pattern',
      [{ headers: { Cookie: { regex: 'x' } } }],
      /headers\.cookie: give the cookie name as exact/,
    ],
    ['query parameters', [{ queryParams: { beta: { exact: '1' } } }], /remove queryParams and sourceLabels/],
  ])('refuses %s', (_what, matches, message) => {
    expect(() => abAnnotations(matches)).toThrow(RouterConfigError);
    expect(() => abAnnotations(matches)).toThrow(message);
  });
});

describe('reading the canary weight back', () => {
  const copy = (annotations: Record<string, string>): Ingress => ({
    ...user,
    metadata: { name: 'public-canary', namespace: 'test', annotations },
  });

  it('reads the weight from the annotations, out of the total', () => {
    expect(readCanaryWeight(copy({ [`${P}canary`]: 'true', [`${P}canary-weight`]: '40' }))).toEqual({
      ok: true,
      canaryWeight: 40,
    });
    expect(
      readCanaryWeight(
        copy({ [`${P}canary`]: 'true', [`${P}canary-weight`]: '250', [`${P}canary-weight-total`]: '1000' }),
      ),
    ).toEqual({ ok: true, canaryWeight: 25 });
  });

  it('reads no copy, or one without the canary annotation, as all traffic to the primary', () => {
    expect(readCanaryWeight(undefined)).toEqual({ ok: true, canaryWeight: 0 });
    expect(readCanaryWeight(copy({ [`${P}canary-weight`]: '40' }))).toEqual({ ok: true, canaryWeight: 0 });
  });

  it('reads A/B routing as every matching request to the canary', () => {
    expect(
      readCanaryWeight(
        copy({ [`${P}canary`]: 'true', [`${P}canary-weight`]: '0', [`${P}canary-by-cookie`]: 'c' }),
      ),
    ).toEqual({ ok: true, canaryWeight: 100 });
  });

  it('reports an unreadable weight', () => {
    expect(readCanaryWeight(copy({ [`${P}canary`]: 'true', [`${P}canary-weight`]: 'half' }))).toEqual({
      ok: false,
      reason: `Ingress test/public-canary has an unreadable ${P}canary-weight "half" (total 100)`,
    });
  });
});
