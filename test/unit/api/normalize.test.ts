import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  deriveStrategy,
  normalizeCanary,
  parseGoDuration,
  thresholdRangeFromDeprecated,
  type Canary,
  type CanaryAnalysis,
  type CanarySpec,
  type Strategy,
} from '../../../src/api/index.ts';

const canary = (
  spec: Partial<CanarySpec>,
  namespace: string | null = 'apps',
): Pick<Canary, 'metadata' | 'spec'> => ({
  metadata: { name: 'podinfo', ...(namespace === null ? {} : { namespace }) },
  spec: {
    targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
    service: { port: 9898 },
    analysis: { stepWeight: 10 },
    ...spec,
  },
});

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    Object.values(value).forEach(deepFreeze);
    Object.freeze(value);
  }
  return value;
}

describe('normalizeCanary', () => {
  it("fills Flagger's defaults and reports each one", () => {
    const { spec, notes, strategy } = normalizeCanary(canary({}));
    expect(strategy).toBe('Canary');
    expect(spec).toMatchObject({
      progressDeadlineSeconds: 600,
      skipAnalysis: false,
      revertOnDeletion: false,
      suspend: false,
      service: { name: 'podinfo', port: 9898, portName: 'http', targetPort: 9898 },
      analysis: {
        interval: '60s',
        threshold: 1,
        stepWeight: 10,
        maxWeight: 100,
        mirror: false,
        primaryReadyThreshold: 100,
        canaryReadyThreshold: 100,
        metrics: [],
        webhooks: [],
        alerts: [],
      },
    });
    expect(notes.every((n) => n.kind === 'default')).toBe(true);
    expect(notes.map((n) => n.field)).toEqual(
      expect.arrayContaining([
        'spec.analysis.interval',
        'spec.analysis.maxWeight',
        'spec.progressDeadlineSeconds',
      ]),
    );
  });

  it('keeps explicit values and reports no default for them', () => {
    const { spec, notes } = normalizeCanary(
      canary({
        progressDeadlineSeconds: 60,
        suspend: true,
        analysis: { interval: '30s', threshold: 3, stepWeight: 5, maxWeight: 30, primaryReadyThreshold: 50 },
      }),
    );
    expect(spec.analysis).toMatchObject({
      interval: '30s',
      threshold: 3,
      maxWeight: 30,
      primaryReadyThreshold: 50,
    });
    expect(spec.progressDeadlineSeconds).toBe(60);
    expect(spec.suspend).toBe(true);
    expect(notes.map((n) => n.field)).not.toContain('spec.analysis.interval');
  });

  it('takes the maximum weight from the last explicit step and sets none for iterations', () => {
    expect(normalizeCanary(canary({ analysis: { stepWeights: [5, 20, 40] } })).spec.analysis.maxWeight).toBe(
      40,
    );
    const blueGreen = normalizeCanary(canary({ analysis: { iterations: 5 } }));
    expect(blueGreen.spec.analysis.maxWeight).toBeUndefined();
    expect(blueGreen.strategy).toBe('BlueGreen');
  });

  it('reads the deprecated canaryAnalysis as analysis', () => {
    const { spec, notes } = normalizeCanary(
      canary({ analysis: undefined, canaryAnalysis: { iterations: 3 } }),
    );
    expect(spec.analysis.iterations).toBe(3);
    expect(spec).not.toHaveProperty('canaryAnalysis');
    expect(notes).toContainEqual(expect.objectContaining({ field: 'spec.canaryAnalysis', kind: 'alias' }));
    expect(notes.map((n) => n.field)).toContain('spec.canaryAnalysis.interval');
  });

  it('maps the deprecated scalar threshold the way Flagger compared it', () => {
    const { spec, notes } = normalizeCanary(
      canary({
        analysis: {
          stepWeight: 10,
          metrics: [
            { name: 'request-success-rate', threshold: 99 },
            { name: 'request-duration', threshold: 500 },
            { name: 'errors', query: 'sum(up)', threshold: 2 },
            { name: 'error-count', templateRef: { name: 'errors' }, threshold: 5 },
            // Named like the builtin, but measured by its template: Flagger's template check was a ceiling.
            { name: 'request-success-rate', templateRef: { name: 'rate' }, threshold: 1 },
          ],
        },
      }),
    );
    expect(spec.analysis.metrics.map((m) => m.thresholdRange)).toEqual([
      { min: 99 },
      { max: 500 },
      { max: 2 },
      { max: 5 },
      { max: 1 },
    ]);
    expect(spec.analysis.metrics.every((m) => !('threshold' in m))).toBe(true);
    expect(spec.analysis.metrics[2]?.query).toBe('sum(up)');
    const aliasFields = notes.filter((n) => n.kind === 'alias').map((n) => n.field);
    expect(aliasFields).toEqual([
      'spec.analysis.metrics[0].threshold',
      'spec.analysis.metrics[1].threshold',
      'spec.analysis.metrics[2].threshold',
      'spec.analysis.metrics[2].query',
      'spec.analysis.metrics[3].threshold',
      'spec.analysis.metrics[4].threshold',
    ]);
    expect(thresholdRangeFromDeprecated({ name: 'request-success-rate', query: 'x' }, 1).bound).toBe('max');
  });

  it('resolves empty or missing webhook types, severities and reference namespaces', () => {
    const { spec, notes } = normalizeCanary(
      canary({
        analysis: {
          stepWeight: 10,
          metrics: [{ name: 'errors', templateRef: { name: 'errors' }, thresholdRange: { max: 1 } }],
          webhooks: [
            { name: 'a', url: 'http://a/', type: '' },
            { name: 'b', url: 'http://b/' },
            { name: 'c', url: 'http://c/', type: 'pre-rollout', timeout: '1m', retries: 2 },
          ],
          alerts: [
            { name: 'x', severity: '', providerRef: { name: 'slack' } },
            { name: 'y', severity: 'error', providerRef: { name: 'pager', namespace: 'ops' } },
          ],
        },
      }),
    );
    expect(spec.analysis.webhooks.map((w) => [w.type, w.timeout, w.retries])).toEqual([
      ['rollout', '10s', 0],
      ['rollout', '10s', 0],
      ['pre-rollout', '1m', 2],
    ]);
    expect(spec.analysis.alerts.map((a) => [a.severity, a.providerRef])).toEqual([
      ['info', { name: 'slack', namespace: 'apps' }],
      ['error', { name: 'pager', namespace: 'ops' }],
    ]);
    expect(spec.analysis.metrics[0]).toMatchObject({
      interval: '1m',
      templateRef: { name: 'errors', namespace: 'apps' },
    });
    expect(notes.filter((n) => n.kind === 'alias').map((n) => n.field)).toEqual([
      'spec.analysis.webhooks[0].type',
      'spec.analysis.alerts[0].severity',
    ]);
  });

  it('fills the session cookie lifetime and the default provider when given', () => {
    const { spec, notes } = normalizeCanary(
      canary({ analysis: { stepWeight: 10, sessionAffinity: { cookieName: 'c' } } }),
      { defaultProvider: 'linkerd' },
    );
    expect(spec.analysis.sessionAffinity).toEqual({ cookieName: 'c', maxAge: 86400 });
    expect(spec.provider).toBe('linkerd');
    expect(notes).toContainEqual(expect.objectContaining({ field: 'spec.provider', kind: 'default' }));
    expect(normalizeCanary(canary({ provider: 'istio' }), { defaultProvider: 'linkerd' }).spec.provider).toBe(
      'istio',
    );
  });

  it('never mutates its input', () => {
    const input = deepFreeze(
      canary({
        canaryAnalysis: { stepWeight: 5, metrics: [{ name: 'request-duration', threshold: 1 }] },
        analysis: undefined,
      }),
    );
    const before = structuredClone(input);
    normalizeCanary(input);
    expect(input).toEqual(before);
  });

  it('refuses objects the CRD schema would not have admitted, naming the field', () => {
    expect(() => normalizeCanary(canary({ analysis: undefined }))).toThrow('spec.analysis is required');
    expect(() => normalizeCanary(canary({}, null))).toThrow('metadata.namespace is required');
    expect(() =>
      normalizeCanary(canary({ analysis: { stepWeight: 1, metrics: [{ name: 'request-duration' }] } })),
    ).toThrow('spec.analysis.metrics[0].thresholdRange is required');
  });
});

describe('deriveStrategy', () => {
  const cases: [CanaryAnalysis, Strategy][] = [
    [{ stepWeight: 10 }, 'Canary'],
    [{ stepWeight: 10, mirror: true }, 'Canary'],
    [{ iterations: 5 }, 'BlueGreen'],
    [{ iterations: 5, mirror: true }, 'BlueGreenMirroring'],
    [{ iterations: 5, match: [{ headers: { 'x-canary': { exact: 'y' } } }] }, 'ABTesting'],
  ];
  it.each(cases)('%j is %s', (analysis, strategy) => {
    expect(deriveStrategy(analysis)).toBe(strategy);
  });
});

describe('parseGoDuration', () => {
  it.each([
    ['10s', 10_000],
    ['1m', 60_000],
    ['1h30m', 5_400_000],
    ['1.5h', 5_400_000],
    ['250ms', 250],
    ['1m0.5s', 60_500],
    ['500us', 0.5],
    ['0s', 0],
  ])('%s is %d ms', (text, ms) => {
    expect(parseGoDuration(text)).toBeCloseTo(ms, 9);
  });

  it.each(['', '10', '1 m', '-1s', '1min', 'm', '1d'])('rejects %j naming the field', (text) => {
    expect(() => parseGoDuration(text, 'spec.analysis.interval')).toThrow(
      `spec.analysis.interval: "${text}"`,
    );
  });

  it('adds up any sequence of whole units', () => {
    const unit = fc.constantFrom(['h', 3_600_000], ['m', 60_000], ['s', 1000], ['ms', 1]);
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(1000), unit), { minLength: 1, maxLength: 5 }), (parts) => {
        const text = parts.map(([n, [u]]) => `${n}${u}`).join('');
        const total = parts.reduce((sum, [n, [, ms]]) => sum + n * ms, 0);
        expect(parseGoDuration(text)).toBe(total);
      }),
    );
  });
});
