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
  kubernetesRouter,
  type Router,
  type RouterDeclaration,
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
      'unknown provider "nginxx" in spec.provider; known providers: kubernetes, gatewayapi:v1, gatewayapi:v1beta1',
    );
  });

  it('says a Flagger provider without a router yet is not available, rather than falling back', () => {
    expect(() => resolveProvider('kuma')).toThrow(
      /provider "kuma" has no router in this version of Fledge yet/,
    );
    expect(() => resolveProvider('gloo')).toThrow(/has no router in this version/);
  });

  it('refuses a withdrawn provider with what to use instead', () => {
    expect(() => resolveProvider('appmesh:v1beta2')).toThrow(
      /provider "appmesh:v1beta2" is refused: AWS discontinued App Mesh .* gatewayapi:v1/,
    );
  });

  it('does not resolve names inherited from Object.prototype', () => {
    expect(() => resolveProvider('constructor')).toThrow(/unknown provider "constructor"/);
  });

  it('builds a router added to the declarations under its own names', () => {
    const fake = { provider: 'mesh' } as Router;
    const declaration = {
      ...kubernetesRouter,
      provider: 'mesh',
      providers: ['mesh:v1'],
      availability: { state: 'available', create: () => fake },
    } satisfies RouterDeclaration;
    expect(createRouter('mesh:v1', deps, [declaration])).toBe(fake);
    expect(() => createRouter('kubernetes', deps, [declaration])).toThrow(/unknown provider "kubernetes"/);
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
