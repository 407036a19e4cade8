import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { canaryWeights, planFor, stampOf } from '../../../src/engine/index.ts';
import { sameConfigs } from '../../../src/engine/strategy.ts';
import { specOf } from './world.ts';

describe('schedules', () => {
  it('equal steps stop at maxWeight exactly, never above it', () => {
    expect(canaryWeights(specOf({ stepWeight: 20, maxWeight: 50 }).analysis)).toEqual([20, 40, 50]);
    expect(canaryWeights(specOf({ stepWeight: 25, maxWeight: 100 }).analysis)).toEqual([25, 50, 75, 100]);
    expect(canaryWeights(specOf({ stepWeight: 30, maxWeight: 30 }).analysis)).toEqual([30]);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100 }), fc.integer({ min: 0, max: 99 }), (step, extra) => {
        const max = Math.min(100, step + extra);
        const weights = canaryWeights(specOf({ stepWeight: step, maxWeight: max }).analysis);
        expect(weights.at(-1)).toBe(max);
        expect(Math.max(...weights)).toBe(max);
        weights.slice(1).forEach((w, i) => expect(w - (weights[i] as number)).toBeLessThanOrEqual(step));
      }),
      { numRuns: 200 },
    );
  });

  it('a canary without a schedule is an error that names the fields', () => {
    const analysis = { ...specOf({ stepWeight: 10 }).analysis, stepWeight: undefined };
    expect(() => canaryWeights(analysis)).toThrow(/stepWeight .* or stepWeights/);
    const iterationsGone = { ...specOf({ iterations: 2 }).analysis, iterations: undefined };
    expect(() => planFor('BlueGreen', iterationsGone)).toThrow(/spec.analysis.iterations is required/);
  });

  it('gates each canary step with confirm-traffic-increase and promotion with confirm-promotion', () => {
    const plan = planFor('Canary', specOf({ stepWeights: [10, 50], mirror: true }).analysis);
    expect(plan).toEqual({
      stages: [
        { traffic: 'Mirror', canaryWeight: 0, iterations: 0, enterGate: 'confirm-traffic-increase' },
        { traffic: 'Weighted', canaryWeight: 10, iterations: 0, enterGate: 'confirm-traffic-increase' },
        { traffic: 'Weighted', canaryWeight: 50, iterations: 0, enterGate: 'confirm-traffic-increase' },
      ],
      promotionGate: 'confirm-promotion',
    });
  });

  it('blue/green ends with all traffic on the canary, entered through confirm-promotion', () => {
    const plan = planFor('BlueGreenMirroring', specOf({ iterations: 2, mirror: true }).analysis);
    expect(
      plan.stages.map((s) => `${s.traffic}:${s.canaryWeight}:${s.iterations}:${s.enterGate ?? '-'}`),
    ).toEqual(['Mirror:0:1:-', 'Mirror:0:2:-', 'Weighted:100:2:confirm-promotion']);
    expect(plan.promotionGate).toBeUndefined();
    expect(
      planFor('ABTesting', specOf({ iterations: 2, match: [{ headers: { a: { exact: 'b' } } }] }).analysis),
    ).toEqual({
      stages: [
        { traffic: 'Matched', canaryWeight: 0, iterations: 1 },
        { traffic: 'Matched', canaryWeight: 0, iterations: 2 },
      ],
      promotionGate: 'confirm-promotion',
    });
  });
});

describe('stamps and configs', () => {
  it('a stamp is the revision alone without configs, and changes with any config checksum', () => {
    expect(stampOf('abc', {})).toBe('abc');
    const one = stampOf('abc', { 'configmap/a': '1', 'secret/b': '2' });
    expect(one).toMatch(/^abc\+[0-9a-f]{16}$/);
    expect(stampOf('abc', { 'secret/b': '2', 'configmap/a': '1' })).toBe(one);
    expect(stampOf('abc', { 'configmap/a': '1', 'secret/b': '3' })).not.toBe(one);
  });

  it('compares config maps by content', () => {
    expect(sameConfigs({ a: '1' }, { a: '1' })).toBe(true);
    expect(sameConfigs({ a: '1' }, { a: '2' })).toBe(false);
    expect(sameConfigs({ a: '1' }, { a: '1', b: '2' })).toBe(false);
    expect(sameConfigs(undefined, {})).toBe(true);
  });
});
