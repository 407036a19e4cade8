import { describe, expect, it } from '@jest/globals';
import { RouterConfigError } from '../../../src/routers/index.ts';
import { linkerdRouter } from '../../../src/routers/linkerd.ts';
import { osmRouter } from '../../../src/routers/osm.ts';
import { smiRouter, smiVersionOf } from '../../../src/routers/smi.ts';

describe('the SMI providers', () => {
  it.each([
    ['smi:v1alpha1', 'v1alpha1'],
    ['smi:v1alpha2', 'v1alpha2'],
    ['smi:v1alpha3', 'v1alpha3'],
  ])('%s writes TrafficSplit %s', (provider, version) => {
    expect(smiVersionOf(provider)).toBe(version);
  });

  it('refuses a provider string naming no version', () => {
    expect(() => smiVersionOf('smi')).toThrow(RouterConfigError);
  });

  it('are available, and only smi declares A/B testing (checked per version)', () => {
    for (const declaration of [linkerdRouter, smiRouter, osmRouter])
      expect(declaration.availability.state).toBe('available');
    expect(linkerdRouter.features).not.toContain('abTesting');
    expect(osmRouter.features).not.toContain('abTesting');
    expect(smiRouter.features).toContain('abTesting');
    expect(smiRouter.permissions.map((p) => p.apiGroup)).toEqual(['split.smi-spec.io', 'specs.smi-spec.io']);
  });
});

describe('smi checkExpressible', () => {
  const spec = (provider: string) =>
    ({
      provider,
      analysis: {
        interval: '1m',
        iterations: 2,
        threshold: 1,
        match: [{ headers: { 'x-canary': { exact: '1' } } }],
      },
    }) as unknown as Parameters<NonNullable<typeof smiRouter.checkExpressible>>[0];

  it('refuses A/B testing for v1alpha1 and v1alpha2, accepts it for v1alpha3', () => {
    expect(() => smiRouter.checkExpressible?.(spec('smi:v1alpha1'))).toThrow(
      /a TrafficSplit v1alpha1 cannot match requests/,
    );
    expect(() => smiRouter.checkExpressible?.(spec('smi:v1alpha2'))).toThrow(RouterConfigError);
    expect(() => smiRouter.checkExpressible?.(spec('smi:v1alpha3'))).not.toThrow();
  });
});
