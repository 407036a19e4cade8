import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { CanaryStatus } from '../../../src/api/index.ts';
import { statusMergePatch } from '../../../src/engine/index.ts';

/** RFC 7386: how the apiserver applies a merge patch. */
function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const result: Record<string, unknown> =
    typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = applyMergePatch(result[key], value);
  }
  return result;
}

describe('statusMergePatch', () => {
  it('sends only what changed, with null for removed keys', () => {
    const previous: CanaryStatus = {
      phase: 'Progressing',
      canaryWeight: 20,
      stalled: { reason: 'CanaryNotReady', message: 'x', since: '2030-01-01T00:00:00.000Z' },
      noDataChecks: { a: 1, b: 2 },
      metrics: [{ name: 'a', verdict: 'Pass', lastMeasuredTime: '2030-01-01T00:00:00.000Z' }],
    };
    const next: CanaryStatus = {
      phase: 'Progressing',
      canaryWeight: 40,
      noDataChecks: { a: 1 },
      metrics: [],
    };
    expect(statusMergePatch(previous, next)).toEqual({
      canaryWeight: 40,
      stalled: null,
      noDataChecks: { b: null },
      metrics: [],
    });
    expect(statusMergePatch(next, next)).toEqual({});
    // A key set to undefined is absent, as JSON.stringify would send it.
    expect(statusMergePatch(previous, { ...previous, canaryWeight: undefined })).toEqual({
      canaryWeight: null,
    });
  });

  it('sees no change in objects whose keys come in another order', () => {
    const decided: CanaryStatus = {
      phase: 'Progressing',
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'Progressing',
          lastTransitionTime: '2030-01-01T00:00:00.000Z',
        },
      ],
      tick: { number: 2, startedTime: '2030-01-01T00:00:00.000Z', evaluated: true },
    };
    // As the apiserver serves it: every object's keys sorted.
    const served = {
      conditions: [
        {
          lastTransitionTime: '2030-01-01T00:00:00.000Z',
          reason: 'Progressing',
          status: 'True',
          type: 'Ready',
        },
      ],
      phase: 'Progressing',
      tick: { evaluated: true, number: 2, startedTime: '2030-01-01T00:00:00.000Z' },
    } as CanaryStatus;
    expect(statusMergePatch(served, decided)).toEqual({});
  });

  it('turns any previous status into the next one when applied', () => {
    const status = fc.record(
      {
        phase: fc.constantFrom('Progressing' as const, 'Failed' as const),
        canaryWeight: fc.integer({ min: 0, max: 100 }),
        trackedConfigs: fc.dictionary(fc.constantFrom('configmap/a', 'secret/b', 'configmap/c'), fc.string()),
        handledControls: fc.record({ promote: fc.string(), abort: fc.string() }, { requiredKeys: [] }),
        tick: fc.record({
          number: fc.nat(),
          startedTime: fc.constant('2030-01-01T00:00:00.000Z'),
          evaluated: fc.boolean(),
        }),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(status, status, (previous, next) => {
        expect(applyMergePatch(previous, statusMergePatch(previous, next))).toEqual(next);
      }),
      { numRuns: 200 },
    );
  });
});
