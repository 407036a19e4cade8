import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { inPhase, waitForCanary } from '../../harness/canary.ts';
import { createTestNamespace, integrationEnv } from '../../harness/env.ts';
import { startOperatorProcess, type OperatorProcess } from '../../harness/operator.ts';
import { apply, canary, deployment, setImage } from '../controller/fixtures.ts';

// An operator that watches one namespace still resolves a MetricTemplate kept in
// another (a shared "monitoring" namespace), reading it from the apiserver.

describe('a MetricTemplate in another namespace', () => {
  const { kubeconfigPath, prometheusUrl } = integrationEnv();
  let namespace: string;
  let templates: string;
  let operator: OperatorProcess;

  beforeAll(async () => {
    [namespace, templates] = await Promise.all([
      createTestNamespace('xns-app'),
      createTestNamespace('xns-mon'),
    ]);
    operator = await startOperatorProcess({ kubeconfigPath, namespace });
  });
  afterAll(async () => operator?.stop());

  it('is used by an operator watching only the Canary namespace', async () => {
    await apply(kubeconfigPath, {
      apiVersion: 'fledge.dev/v1beta1',
      kind: 'MetricTemplate',
      metadata: { name: 'constant', namespace: templates },
      spec: { provider: { type: 'prometheus', address: prometheusUrl }, query: 'vector(100)' },
    });
    await apply(
      kubeconfigPath,
      deployment(namespace, 'web', 'example/web:1'),
      canary(namespace, 'web', {
        provider: 'kubernetes',
        analysis: {
          interval: '10s',
          threshold: 1,
          iterations: 1,
          metrics: [
            {
              name: 'always-fine',
              templateRef: { name: 'constant', namespace: templates },
              thresholdRange: { min: 99 },
            },
          ],
        },
      }),
    );
    await waitForCanary(kubeconfigPath, namespace, 'web', inPhase('Initialized'));
    await setImage(kubeconfigPath, namespace, 'web', 'example/web:2');
    const { status } = await waitForCanary(kubeconfigPath, namespace, 'web', inPhase('Succeeded', 'Failed'));
    expect(status.phase).toBe('Succeeded');
    expect(status.metrics?.find((m) => m.name === 'always-fine')).toMatchObject({
      verdict: 'Pass',
      value: 100,
    });
  }, 180_000);
});
