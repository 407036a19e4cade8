import { describe, expect, it } from '@jest/globals';
import type { CanaryAnalysis, CanaryService, NormalizedCanarySpec } from '../../../src/api/index.ts';
import {
  capabilitiesOf,
  GATEWAY_API_CAPABILITIES,
  ignoredFields,
  KUBERNETES_CAPABILITIES,
  missingCapabilities,
  missingReferences,
  RouterConfigError,
  routerCapabilities,
  routerFactories,
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
  it('are declared for every router there is', () => {
    expect(Object.keys(routerCapabilities).sort()).toEqual(Object.keys(routerFactories).sort());
    expect(capabilitiesOf('gatewayapi:v1beta1')).toBe(GATEWAY_API_CAPABILITIES);
    expect(capabilitiesOf('kubernetes')).toBe(KUBERNETES_CAPABILITIES);
  });

  it('refuse a provider without a router as ProviderUnavailable', () => {
    for (const provider of ['istio', 'nginx', 'linkerd', 'no-such-mesh']) {
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
    for (const capabilities of [KUBERNETES_CAPABILITIES, GATEWAY_API_CAPABILITIES]) {
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
    expect(missingCapabilities(spec, KUBERNETES_CAPABILITIES).map((f) => f.field)).toEqual([
      'spec.service.timeout',
      'spec.service.retries',
      'spec.service.corsPolicy',
    ]);
    const onGateway = specWith(strategies.blueGreen as CanaryAnalysis, {
      retries: { attempts: 3 },
      timeout: '5s',
    });
    expect(missingCapabilities(onGateway, GATEWAY_API_CAPABILITIES).map((f) => f.field)).toEqual([
      'spec.service.retries',
    ]);
  });
});

describe('missing references', () => {
  it('are the Gateways a gatewayapi HTTPRoute attaches to; kubernetes needs none', () => {
    const spec = specWith(strategies.canary as CanaryAnalysis);
    expect(missingReferences(spec, GATEWAY_API_CAPABILITIES)).toEqual([]);
    delete spec.service?.gatewayRefs;
    expect(missingReferences(spec, GATEWAY_API_CAPABILITIES).map((f) => f.field)).toEqual([
      'spec.service.gatewayRefs',
    ]);
    expect(missingReferences(spec, KUBERNETES_CAPABILITIES)).toEqual([]);
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
    expect(ignoredFields(spec, KUBERNETES_CAPABILITIES).map((f) => f.field)).toEqual([
      'spec.upstreamRef',
      'spec.service.meshName',
      'spec.service.unmanagedMetadata',
    ]);
    expect(ignoredFields(spec, GATEWAY_API_CAPABILITIES).map((f) => f.field)).toEqual([
      'spec.upstreamRef',
      'spec.service.unmanagedMetadata',
      'spec.service.match[0].name',
    ]);
  });

  it('is empty for a plain spec', () => {
    expect(ignoredFields(specWith(strategies.canary as CanaryAnalysis), GATEWAY_API_CAPABILITIES)).toEqual(
      [],
    );
  });
});
