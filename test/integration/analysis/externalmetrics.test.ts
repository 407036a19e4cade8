import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createTestNamespace, integrationEnv } from '../../harness/env.ts';
import { serveExternalMetrics, type AggregatedExternalMetrics } from '../../harness/external-metrics.ts';
import { startOperatorProcess, type OperatorProcess } from '../../harness/operator.ts';
import { apply } from '../controller/fixtures.ts';
import { analysedRelease, expectPromotedAndRolledBack } from './release.ts';

// The externalmetrics store through the real aggregation layer: an adapter
// registered with the test apiserver as the APIService
// v1beta1.external.metrics.k8s.io, asked by the operator through the apiserver.
// One Canary whose metric is in range is promoted, one whose metric is out of
// range is rolled back.
//
// The APIService is cluster-wide (one adapter per group and version), so only
// this file registers it, and deletes it when done; no other test may rely on
// external.metrics.k8s.io being served.

describe('externalmetrics store through the aggregation layer', () => {
  const { kubeconfigPath } = integrationEnv();
  let namespace: string;
  let metrics: AggregatedExternalMetrics;
  let operator: OperatorProcess;

  beforeAll(async () => {
    namespace = await createTestNamespace('extmetrics');
    metrics = await serveExternalMetrics(kubeconfigPath, namespace);
    operator = await startOperatorProcess({ kubeconfigPath, namespace });
    await apply(kubeconfigPath, {
      apiVersion: 'fledge.dev/v1beta1',
      kind: 'MetricTemplate',
      metadata: { name: 'success-rate', namespace },
      spec: {
        provider: { type: 'externalmetrics' },
        query: '{{ namespace }}/success-rate?labelSelector=canary%3D{{ name }}',
      },
    });
  }, 120_000);

  afterAll(async () => {
    await operator?.stop();
    await metrics?.close();
  });

  it('promotes a canary whose metric is in range and rolls back one whose metric is not', async () => {
    metrics.answer(namespace, 'success-rate', 'canary=good', ['99700m']);
    metrics.answer(namespace, 'success-rate', 'canary=bad', ['91']);
    const [good, bad] = await Promise.all([
      analysedRelease(kubeconfigPath, namespace, 'good', 'success-rate'),
      analysedRelease(kubeconfigPath, namespace, 'bad', 'success-rate'),
    ]);

    await expectPromotedAndRolledBack(
      kubeconfigPath,
      namespace,
      { name: 'good', status: good.status, value: 99.7 },
      { name: 'bad', status: bad.status, value: 91 },
    );

    // The values came through the apiserver, which named the operator's user to the adapter.
    expect(metrics.selectors).toEqual(expect.arrayContaining(['canary=good', 'canary=bad']));
    expect(new Set(metrics.users)).toContain('fledge-admin');
  }, 300_000);
});
