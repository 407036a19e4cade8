import { describe, expect, it } from '@jest/globals';
import type { CanaryAnalysis, CanaryService, NormalizedCanarySpec } from '../../../src/api/index.ts';
import {
  capabilitiesOf,
  gatewayApiRouter,
  ignoredFields,
  kubernetesRouter,
  missingCapabilities,
  missingReferences,
  RouterConfigError,
  requestedFeatures,
  routerDeclarations,
} from '../../../src/routers/index.ts';
import { canary } from './fixtures.ts';

// Every router's capabilities against every strategy it may be asked for.

const strategies: Record<string, CanaryAnalysis> = {
  canary: { interval: '1m', stepWeight: 10, maxWeight: 50 },
  stepWeights: { interval: '1m', stepWeights: [10, 50] },
  abTesting: { interval: '1m', iterations: 5, match: [{ headers: { x: { exact: 'y' } } }] },
  blueGreen: { interval: '1m', iterations: 5 },
  mirroring: { interval: '1m', iterations: 5, mirror: true },
  sessionAffinity: { interval: '1m', stepWeight: 10, maxWeight: 50, sessionAffinity: { cookieName: 'c' } },
};

function specWith(analysis: CanaryAnalysis, service: Partial<CanaryService> = {}): NormalizedCanarySpec {
  return canary({ analysis, service }).spec;
}

describe('router capabilities', () => {
  it("are the router's own declaration", () => {
    expect(capabilitiesOf('gatewayapi:v1beta1')).toBe(gatewayApiRouter);
    expect(capabilitiesOf('gatewayapi')).toBe(gatewayApiRouter);
    expect(capabilitiesOf('kubernetes')).toBe(kubernetesRouter);
  });

  // Every declared provider against every strategy: a router that exists refuses exactly
  // the traffic shapes its declaration leaves out; one that does not exists is refused whole.
  for (const declaration of routerDeclarations) {
    for (const [strategy, analysis] of Object.entries(strategies)) {
      for (const provider of declaration.providers) {
        it(`${provider} with ${strategy}`, () => {
          const spec = specWith(analysis);
          delete spec.service?.gatewayRefs;
          if (declaration.availability.state !== 'available') {
            expect(() => capabilitiesOf(provider)).toThrow(RouterConfigError);
            return;
          }
          const unsupported = requestedFeatures(spec)
            .filter(({ feature }) => !declaration.features.includes(feature))
            .map(({ field }) => field);
          expect(missingCapabilities(spec, capabilitiesOf(provider)).map((f) => f.field)).toEqual(
            unsupported,
          );
        });
      }
    }
  }

  it('refuse a provider without a router as ProviderUnavailable', () => {
    for (const provider of ['gloo', 'kuma', 'no-such-mesh']) {
      let thrown: unknown;
      try {
        capabilitiesOf(provider);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(RouterConfigError);
      expect((thrown as RouterConfigError).reason).toBe('ProviderUnavailable');
    }
  });

  const expected: Record<string, { kubernetes: string[]; gatewayapi: string[] }> = {
    canary: { kubernetes: ['spec.analysis.stepWeight'], gatewayapi: [] },
    stepWeights: { kubernetes: ['spec.analysis.stepWeights'], gatewayapi: [] },
    abTesting: { kubernetes: ['spec.analysis.match'], gatewayapi: [] },
    blueGreen: { kubernetes: [], gatewayapi: [] },
    mirroring: { kubernetes: ['spec.analysis.mirror'], gatewayapi: [] },
    sessionAffinity: {
      kubernetes: ['spec.analysis.stepWeight', 'spec.analysis.sessionAffinity'],
      gatewayapi: [],
    },
  };
  for (const [strategy, analysis] of Object.entries(strategies)) {
    for (const capabilities of [kubernetesRouter, gatewayApiRouter]) {
      const provider = capabilities.provider as 'kubernetes' | 'gatewayapi';
      it(`${provider} with ${strategy}: ${expected[strategy]?.[provider].length ? 'refused' : 'allowed'}`, () => {
        // gatewayRefs come with the fixture; only a gatewayapi router reads them.
        const spec = specWith(analysis);
        if (provider === 'kubernetes') delete spec.service?.gatewayRefs;
        const findings = missingCapabilities(spec, capabilities);
        expect(findings.map((f) => f.field)).toEqual(expected[strategy]?.[provider]);
        for (const finding of findings) expect(finding.message).toContain(finding.field);
      });
    }
  }

  it('refuses the routing fields of spec.service a router does not apply', () => {
    const spec = specWith(strategies.blueGreen as CanaryAnalysis, {
      retries: { attempts: 3 },
      timeout: '5s',
      corsPolicy: { allowOrigins: [{ exact: 'https://example.com' }] },
    });
    delete spec.service?.gatewayRefs;
    expect(missingCapabilities(spec, kubernetesRouter).map((f) => f.field)).toEqual([
      'spec.service.timeout',
      'spec.service.retries',
      'spec.service.corsPolicy',
    ]);
    const onGateway = specWith(strategies.blueGreen as CanaryAnalysis, {
      retries: { attempts: 3 },
      timeout: '5s',
    });
    expect(missingCapabilities(onGateway, gatewayApiRouter).map((f) => f.field)).toEqual([
      'spec.service.retries',
    ]);
  });
});

describe('missing references', () => {
  it('are the Gateways a gatewayapi HTTPRoute attaches to; kubernetes needs none', () => {
    const spec = specWith(strategies.canary as CanaryAnalysis);
    expect(missingReferences(spec, gatewayApiRouter)).toEqual([]);
    delete spec.service?.gatewayRefs;
    expect(missingReferences(spec, gatewayApiRouter).map((f) => f.field)).toEqual([
      'spec.service.gatewayRefs',
    ]);
    expect(missingReferences(spec, kubernetesRouter)).toEqual([]);
  });
});

describe('ignored fields', () => {
  it('names fields nothing reads, and those that change no routing for the router', () => {
    const spec = specWith(strategies.blueGreen as CanaryAnalysis, {
      meshName: 'global',
      unmanagedMetadata: { labels: ['team'] },
      match: [{ name: 'everything', uri: { prefix: '/' } }],
    });
    spec.upstreamRef = { name: 'up' } as NormalizedCanarySpec['upstreamRef'];
    expect(ignoredFields(spec, kubernetesRouter).map((f) => f.field)).toEqual([
      'spec.upstreamRef',
      'spec.service.meshName',
      'spec.service.unmanagedMetadata',
    ]);
    expect(ignoredFields(spec, gatewayApiRouter).map((f) => f.field)).toEqual([
      'spec.upstreamRef',
      'spec.service.unmanagedMetadata',
      'spec.service.match[0].name',
    ]);
  });

  it('is empty for a plain spec', () => {
    expect(ignoredFields(specWith(strategies.canary as CanaryAnalysis), gatewayApiRouter)).toEqual([]);
  });
});
