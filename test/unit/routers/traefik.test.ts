import { describe, expect, it } from '@jest/globals';
import { RouterConfigError } from '../../../src/routers/index.ts';
import {
  readTraefikService,
  renderHandoffTraefikService,
  renderTraefikService,
  type TraefikService,
} from '../../../src/routers/traefik.ts';
import { canary } from './fixtures.ts';

const traefikCanary = canary({
  provider: 'traefik',
  service: { port: 9898, apex: { labels: { team: 'a' } } },
});

const weighted = (primaryWeight: number, canaryWeight: number) => ({
  primaryWeight,
  canaryWeight,
  mirror: false,
});

describe('TraefikService rendering', () => {
  it('weighs <apex>-primary and <apex>-canary on spec.service.port', () => {
    const object = renderTraefikService(traefikCanary, weighted(70, 30), true);
    expect(object.apiVersion).toBe('traefik.io/v1alpha1');
    expect(object.kind).toBe('TraefikService');
    expect(object.metadata.name).toBe('podinfo');
    expect(object.spec).toEqual({
      weighted: {
        services: [
          { name: 'podinfo-primary', port: 9898, weight: 70 },
          { name: 'podinfo-canary', port: 9898, weight: 30 },
        ],
      },
    });
  });

  it('carries the apex labels, the Flux marks and an owner reference only when owned', () => {
    const owned = renderTraefikService(traefikCanary, weighted(100, 0), true);
    expect(owned.metadata.labels).toEqual({ team: 'a' });
    expect(owned.metadata.annotations).toEqual({
      'kustomize.toolkit.fluxcd.io/reconcile': 'disabled',
      'helm.toolkit.fluxcd.io/driftDetection': 'disabled',
    });
    expect(owned.metadata.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'Canary', uid: 'canary-uid' }),
    ]);
    expect(
      renderTraefikService(traefikCanary, weighted(100, 0), false).metadata.ownerReferences,
    ).toBeUndefined();
  });

  it('mirrors the primary to the canary, and refuses mirroring with a canary weight', () => {
    const object = renderTraefikService(
      traefikCanary,
      { primaryWeight: 100, canaryWeight: 0, mirror: true },
      true,
    );
    expect(object.spec).toEqual({
      mirroring: {
        name: 'podinfo-primary',
        port: 9898,
        mirrors: [{ name: 'podinfo-canary', port: 9898, percent: 100 }],
      },
    });
    expect(() =>
      renderTraefikService(traefikCanary, { primaryWeight: 90, canaryWeight: 10, mirror: true }, true),
    ).toThrow(RouterConfigError);
  });

  it('hands back everything to the apex Service, without the Flux marks', () => {
    const handoff = renderHandoffTraefikService(traefikCanary, false);
    expect(handoff.spec).toEqual({ weighted: { services: [{ name: 'podinfo', port: 9898, weight: 100 }] } });
    expect(handoff.metadata.annotations).toBeUndefined();
    expect(handoff.metadata.ownerReferences).toBeUndefined();
  });
});

describe('TraefikService read-back', () => {
  const live = (spec: TraefikService['spec']): TraefikService => ({
    apiVersion: 'traefik.io/v1alpha1',
    kind: 'TraefikService',
    metadata: { name: 'podinfo', namespace: 'test' },
    spec,
  });

  it('reads what it renders', () => {
    for (const routes of [weighted(100, 0), weighted(55, 45), weighted(0, 100)]) {
      expect(readTraefikService(renderTraefikService(traefikCanary, routes, true), traefikCanary)).toEqual({
        ok: true,
        weights: { primaryWeight: routes.primaryWeight, canaryWeight: routes.canaryWeight, mirrored: false },
      });
    }
    const mirrored = renderTraefikService(
      traefikCanary,
      { primaryWeight: 100, canaryWeight: 0, mirror: true },
      true,
    );
    expect(readTraefikService(mirrored, traefikCanary)).toEqual({
      ok: true,
      weights: { primaryWeight: 100, canaryWeight: 0, mirrored: true },
    });
  });

  it('turns relative weights into percentages, a missing weight counting as 1', () => {
    const read = readTraefikService(
      live({
        weighted: {
          services: [
            { name: 'podinfo-primary', port: 9898, weight: 3 },
            { name: 'podinfo-canary', port: 9898 },
          ],
        },
      }),
      traefikCanary,
    );
    expect(read).toEqual({ ok: true, weights: { primaryWeight: 75, canaryWeight: 25, mirrored: false } });
  });

  it('names what it cannot read', () => {
    const noCanary = readTraefikService(
      live({ weighted: { services: [{ name: 'podinfo-primary', port: 9898, weight: 1 }] } }),
      traefikCanary,
    );
    expect(noCanary).toEqual({
      ok: false,
      reason: 'TraefikService test/podinfo does not weigh service podinfo-canary',
    });
    const zero = readTraefikService(
      live({
        weighted: {
          services: [
            { name: 'podinfo-primary', port: 9898, weight: 0 },
            { name: 'podinfo-canary', port: 9898, weight: 0 },
          ],
        },
      }),
      traefikCanary,
    );
    expect(zero.ok).toBe(false);
    const elsewhere = readTraefikService(
      live({
        mirroring: {
          name: 'other',
          port: 80,
          mirrors: [{ name: 'podinfo-canary', port: 9898, percent: 100 }],
        },
      }),
      traefikCanary,
    );
    expect(elsewhere).toEqual({
      ok: false,
      reason: 'TraefikService test/podinfo does not mirror podinfo-primary to podinfo-canary',
    });
  });
});
