import { describe, expect, it } from '@jest/globals';
import { RouterConfigError } from '../../../src/routers/index.ts';
import { apexTargetFor, readApexSelector } from '../../../src/routers/kubernetes.ts';

describe('apexTargetFor', () => {
  it('selects the primary at canary weight 0 and the canary at 100', () => {
    expect(apexTargetFor({ primaryWeight: 100, canaryWeight: 0, mirror: false })).toBe('primary');
    expect(apexTargetFor({ primaryWeight: 0, canaryWeight: 100, mirror: false })).toBe('canary');
  });

  it('refuses a partial split instead of ignoring it', () => {
    expect(() => apexTargetFor({ primaryWeight: 60, canaryWeight: 40, mirror: false })).toThrow(
      RouterConfigError,
    );
    expect(() => apexTargetFor({ primaryWeight: 60, canaryWeight: 40, mirror: false })).toThrow(
      /weights must be 100\/0 or 0\/100, got primary 60 \/ canary 40/,
    );
  });

  it('refuses mirroring', () => {
    expect(() => apexTargetFor({ primaryWeight: 100, canaryWeight: 0, mirror: true })).toThrow(
      /cannot mirror/,
    );
  });

  it('refuses weights not adding up to 100', () => {
    expect(() => apexTargetFor({ primaryWeight: 0, canaryWeight: 0, mirror: false })).toThrow(RangeError);
  });
});

describe('readApexSelector', () => {
  const primary = { app: 'podinfo-primary' };
  const canary = { app: 'podinfo' };

  it('tells which Service the apex copies', () => {
    expect(readApexSelector({ app: 'podinfo-primary' }, primary, canary)).toBe('primary');
    expect(readApexSelector({ app: 'podinfo' }, primary, canary)).toBe('canary');
  });

  it('compares whole selectors, not subsets', () => {
    expect(readApexSelector({ app: 'podinfo', tier: 'web' }, primary, canary)).toBeUndefined();
    expect(readApexSelector({}, primary, canary)).toBeUndefined();
    expect(readApexSelector(undefined, primary, canary)).toBeUndefined();
  });
});
