import { describe, expect, it } from '@jest/globals';
import type { KubeObjectClient } from '../../../src/kube/client.ts';
import {
  GatewayApiRouter,
  KubernetesRouter,
  RouterConfigError,
  createRouter,
  resolveProvider,
  routableCanary,
  validateWeights,
  type Router,
} from '../../../src/routers/index.ts';

// The registry never calls the client while building a router.
const deps = { client: {} as KubeObjectClient };

describe('resolveProvider', () => {
  it.each([
    ['kubernetes', 'kubernetes'],
    ['gatewayapi', 'gatewayapi'],
    ['gatewayapi:v1', 'gatewayapi'],
    ['gatewayapi:v1beta1', 'gatewayapi'],
  ])('resolves %s to %s', (provider, expected) => {
    expect(resolveProvider(provider)).toBe(expected);
  });

  it('names an unknown provider and the known ones', () => {
    expect(() => resolveProvider('nginxx')).toThrow(RouterConfigError);
    expect(() => resolveProvider('nginxx')).toThrow(
      'unknown provider "nginxx" in spec.provider; known providers: kubernetes, gatewayapi, gatewayapi:v1, gatewayapi:v1beta1',
    );
  });

  it('says a Flagger provider without a router yet is not available, rather than falling back', () => {
    expect(() => resolveProvider('istio')).toThrow(
      /provider "istio" has no router in this version of Fledge yet/,
    );
    expect(() => resolveProvider('smi:v1alpha3:linkerd')).toThrow(/has no router in this version/);
  });

  it('does not resolve names inherited from Object.prototype', () => {
    expect(() => resolveProvider('constructor')).toThrow(/unknown provider "constructor"/);
  });

  it('finds a router added to the table under its own name', () => {
    const fake = { provider: 'istio' } as Router;
    expect(createRouter('istio', deps, { istio: () => fake })).toBe(fake);
  });
});

describe('createRouter', () => {
  it('builds the router for each provider', () => {
    expect(createRouter('kubernetes', deps)).toBeInstanceOf(KubernetesRouter);
    expect(createRouter('gatewayapi:v1beta1', deps)).toBeInstanceOf(GatewayApiRouter);
    expect(createRouter('gatewayapi:v1', deps).provider).toBe('gatewayapi');
  });
});

describe('validateWeights', () => {
  it('accepts whole percentages adding up to 100', () => {
    expect(() => validateWeights({ primaryWeight: 70, canaryWeight: 30, mirror: false })).not.toThrow();
  });

  it.each([
    [{ primaryWeight: 70, canaryWeight: 20 }, /must be 100, got 70 \+ 20/],
    [{ primaryWeight: 110, canaryWeight: -10 }, /primaryWeight must be an integer from 0 to 100, got 110/],
    [{ primaryWeight: 50.5, canaryWeight: 49.5 }, /primaryWeight must be an integer/],
  ])('rejects %j', (weights, message) => {
    expect(() => validateWeights({ ...weights, mirror: false })).toThrow(message);
  });
});

describe('routableCanary', () => {
  it('needs the identity the apiserver assigns', () => {
    expect(() =>
      routableCanary({
        apiVersion: 'fledge.dev/v1beta1',
        kind: 'Canary',
        metadata: { name: 'x', namespace: 'y' },
        spec: {
          targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'x' },
          analysis: { iterations: 1 },
        },
      }),
    ).toThrow(/metadata.name, namespace and uid/);
  });
});
