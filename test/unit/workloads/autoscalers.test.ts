import { describe, expect, it } from '@jest/globals';
import type { AutoscalerRef } from '../../../src/api/index.ts';
import {
  pointQueryAtPrimary,
  renderPrimaryHpa,
  renderPrimaryScaledObject,
  scalerMinReplicas,
  type AutoscalerRenderInput,
} from '../../../src/workloads/autoscalers.ts';
import type { HorizontalPodAutoscalerObject, ScaledObjectObject } from '../../../src/workloads/objects.ts';
import { owner } from './fixtures.ts';

const hpaRef: AutoscalerRef = { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', name: 'web' };
const soRef: AutoscalerRef = { apiVersion: 'keda.sh/v1alpha1', kind: 'ScaledObject', name: 'web-so' };

const input = (ref: AutoscalerRef): AutoscalerRenderInput => ({
  owner,
  targetName: 'web',
  ref,
  includeLabelPrefixes: [],
});

function hpa(): HorizontalPodAutoscalerObject {
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name: 'web', namespace: 'shop', labels: { 'helm.toolkit.fluxcd.io/name': 'web' } },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
      minReplicas: 2,
      maxReplicas: 6,
      metrics: [
        {
          type: 'Resource',
          resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } },
        },
      ],
      behavior: { scaleDown: { stabilizationWindowSeconds: 120 } },
    },
  };
}

function scaledObject(): ScaledObjectObject {
  return {
    apiVersion: 'keda.sh/v1alpha1',
    kind: 'ScaledObject',
    metadata: {
      name: 'web-so',
      namespace: 'shop',
      annotations: { 'autoscaling.keda.sh/paused-replicas': '0', 'autoscaling.keda.sh/paused': 'true' },
    },
    spec: {
      scaleTargetRef: { name: 'web' },
      pollingInterval: 15,
      minReplicaCount: 1,
      maxReplicaCount: 10,
      advanced: { horizontalPodAutoscalerConfig: { name: 'web-hpa', behavior: { scaleDown: {} } } },
      triggers: [
        {
          type: 'prometheus',
          name: 'rps',
          metadata: {
            serverAddress: 'http://prom:9090',
            query: 'sum(rate(http_requests_total{app="web"}[1m]))',
            threshold: '10',
          },
        },
        {
          type: 'prometheus',
          name: 'latency',
          metadata: { query: 'histogram_quantile(0.99, x{deployment="web-canary"})', threshold: '1' },
        },
        { type: 'cpu', metadata: { value: '60' } },
      ],
    },
  };
}

describe('renderPrimaryHpa', () => {
  it('copies the spec, points it at <target>-primary and names it <autoscaler>-primary', () => {
    const copy = renderPrimaryHpa(hpa(), input(hpaRef));
    expect(copy.metadata).toMatchObject({ name: 'web-primary', namespace: 'shop', labels: undefined });
    expect(copy.metadata.ownerReferences?.[0]).toMatchObject({
      kind: 'Canary',
      uid: owner.uid,
      controller: true,
    });
    expect(copy.spec).toEqual({
      ...hpa().spec,
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web-primary' },
    });
  });

  it('applies primaryScalerReplicas', () => {
    const copy = renderPrimaryHpa(
      hpa(),
      input({ ...hpaRef, primaryScalerReplicas: { minReplicas: 4, maxReplicas: 12 } }),
    );
    expect(copy.spec).toMatchObject({ minReplicas: 4, maxReplicas: 12 });
    const onlyMax = renderPrimaryHpa(hpa(), input({ ...hpaRef, primaryScalerReplicas: { maxReplicas: 8 } }));
    expect(onlyMax.spec).toMatchObject({ minReplicas: 2, maxReplicas: 8 });
  });

  it('rejects bounds that cross, naming the setting to fix', () => {
    expect(() =>
      renderPrimaryHpa(hpa(), input({ ...hpaRef, primaryScalerReplicas: { minReplicas: 9 } })),
    ).toThrow(/minimum 9 above maximum 6: fix spec.autoscalerRef.primaryScalerReplicas/);
  });

  it('rejects an HPA that scales something other than the target', () => {
    const other = hpa();
    other.spec.scaleTargetRef.name = 'api';
    expect(() => renderPrimaryHpa(other, input(hpaRef))).toThrow(
      'HorizontalPodAutoscaler web (spec.autoscalerRef) scales Deployment api, not the target Deployment web',
    );
  });
});

describe('pointQueryAtPrimary', () => {
  it.each([
    ['rate(x{app="web"}[1m])', 'rate(x{app="web-primary"}[1m])'],
    ['rate(x{deployment="web-canary"}[1m])', 'rate(x{deployment="web-primary"}[1m])'],
    ['rate(x{deployment="web-primary"}[1m])', 'rate(x{deployment="web-primary"}[1m])'],
    ['rate(x{pod=~"web-.*"}[1m])', 'rate(x{pod=~"web-primary-.*"}[1m])'],
    ['rate(web_requests_total{app="myweb"}[1m])', 'rate(web_requests_total{app="myweb"}[1m])'],
    [
      "SELECT count(*) FROM jobs WHERE queue = 'web'",
      "SELECT count(*) FROM jobs WHERE queue = 'web-primary'",
    ],
  ])('%s -> %s', (query, expected) => {
    expect(pointQueryAtPrimary(query, 'web')).toBe(expected);
  });

  it('treats regex characters in the name literally', () => {
    expect(pointQueryAtPrimary('x{app="a.b"} y{app="aXb"}', 'a.b')).toBe('x{app="a.b-primary"} y{app="aXb"}');
  });
});

describe('renderPrimaryScaledObject', () => {
  it('targets the primary, drops the pause annotations and renames a named HPA', () => {
    const copy = renderPrimaryScaledObject(scaledObject(), input(soRef));
    expect(copy.metadata.name).toBe('web-so-primary');
    expect(copy.metadata.annotations).toBeUndefined();
    expect(copy.spec.scaleTargetRef).toEqual({ name: 'web-primary' });
    expect(copy.spec.advanced).toEqual({
      horizontalPodAutoscalerConfig: { name: 'web-hpa-primary', behavior: { scaleDown: {} } },
    });
    expect(copy.spec.pollingInterval).toBe(15);
  });

  it('points trigger queries at the primary unless primaryScalerQueries replaces them', () => {
    const copy = renderPrimaryScaledObject(
      scaledObject(),
      input({
        ...soRef,
        primaryScalerQueries: { latency: 'histogram_quantile(0.99, x{deployment="web-primary"})' },
      }),
    );
    expect(copy.spec.triggers.map((t) => t.metadata)).toEqual([
      {
        serverAddress: 'http://prom:9090',
        query: 'sum(rate(http_requests_total{app="web-primary"}[1m]))',
        threshold: '10',
      },
      { query: 'histogram_quantile(0.99, x{deployment="web-primary"})', threshold: '1' },
      { value: '60' },
    ]);
  });

  it('rejects primaryScalerQueries for triggers that do not exist', () => {
    expect(() =>
      renderPrimaryScaledObject(scaledObject(), input({ ...soRef, primaryScalerQueries: { rsp: 'x' } })),
    ).toThrow(
      'primaryScalerQueries names triggers ScaledObject web-so does not have: rsp (its named triggers: rps, latency)',
    );
  });

  it('applies primaryScalerReplicas and checks the bounds', () => {
    const copy = renderPrimaryScaledObject(
      scaledObject(),
      input({ ...soRef, primaryScalerReplicas: { minReplicas: 3 } }),
    );
    expect(copy.spec).toMatchObject({ minReplicaCount: 3, maxReplicaCount: 10 });
    expect(() =>
      renderPrimaryScaledObject(
        scaledObject(),
        input({ ...soRef, primaryScalerReplicas: { minReplicas: 11 } }),
      ),
    ).toThrow(/ScaledObject for the primary would have minimum 11 above maximum 10/);
  });

  it('does not modify the source', () => {
    const source = scaledObject();
    const before = structuredClone(source);
    renderPrimaryScaledObject(source, input({ ...soRef, primaryScalerQueries: { rps: 'q' } }));
    expect(source).toEqual(before);
  });
});

describe('scalerMinReplicas', () => {
  it('is the autoscaler minimum, at least 1', () => {
    expect(scalerMinReplicas(hpa(), 'HorizontalPodAutoscaler')).toBe(2);
    const idle = scaledObject();
    idle.spec.minReplicaCount = 0;
    expect(scalerMinReplicas(idle, 'ScaledObject')).toBe(1);
  });
});
