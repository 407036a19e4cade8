import { expect } from '@jest/globals';
import type { CanaryStatus } from '../../../src/api/index.ts';
import { imageOf, inPhase, waitForCanary } from '../../harness/canary.ts';
import { apply, canary, deployment, setImage } from '../controller/fixtures.ts';
import { canaryEvents } from '../controller/history.ts';

/**
 * Creates a Deployment running example/app:1 and its Canary, waits until the
 * Canary is initialised, then starts a release by moving the image to example/app:2.
 */
export async function startRelease(
  kubeconfigPath: string,
  namespace: string,
  name: string,
  spec: Record<string, unknown>,
): Promise<void> {
  await apply(kubeconfigPath, deployment(namespace, name, 'example/app:1'), canary(namespace, name, spec));
  await waitForCanary(kubeconfigPath, namespace, name, inPhase('Initialized'), {
    what: `${name} initialised`,
    timeoutMs: 60_000,
  });
  await setImage(kubeconfigPath, namespace, name, 'example/app:2');
}

/**
 * Releases a blue/green canary whose one check, `success-rate`, reads the MetricTemplate `template`,
 * analysed every 10 s for two iterations and rolled back at the first failed check; resolves when it ends.
 */
export async function analysedRelease(
  kubeconfigPath: string,
  namespace: string,
  name: string,
  template: string,
  thresholdRange: { min: number } = { min: 99 },
): Promise<{ status: CanaryStatus; path: string[] }> {
  await startRelease(kubeconfigPath, namespace, name, {
    provider: 'kubernetes',
    analysis: {
      interval: '10s',
      iterations: 2,
      threshold: 1,
      metrics: [{ name: 'success-rate', interval: '1m', templateRef: { name: template }, thresholdRange }],
    },
  });
  return waitForCanary(kubeconfigPath, namespace, name, inPhase('Succeeded', 'Failed'), {
    timeoutMs: 150_000,
  });
}

interface Ended {
  name: string;
  status: CanaryStatus;
  /** The success rate the store reported. */
  value: number;
}

/** `good` was promoted on its value; `bad` was rolled back once on its value, below the minimum 99. */
export async function expectPromotedAndRolledBack(
  kubeconfigPath: string,
  namespace: string,
  good: Ended,
  bad: Ended,
): Promise<void> {
  expect(good.status.phase).toBe('Succeeded');
  expect(good.status.metrics?.find((m) => m.name === 'success-rate')).toMatchObject({
    value: good.value,
    verdict: 'Pass',
  });
  expect(await imageOf(kubeconfigPath, namespace, `${good.name}-primary`)).toBe('example/app:2');

  expect(bad.status.phase).toBe('Failed');
  expect(bad.status.metrics?.find((m) => m.name === 'success-rate')).toMatchObject({
    value: bad.value,
    verdict: 'Fail',
  });
  expect(await imageOf(kubeconfigPath, namespace, `${bad.name}-primary`)).toBe('example/app:1');
  const rolledBack = (await canaryEvents(kubeconfigPath, namespace, bad.name)).filter(
    (e) => e.reason === 'RolledBack',
  );
  expect(rolledBack).toHaveLength(1);
  expect(rolledBack[0]?.note).toContain(`success-rate: ${bad.value} is below the minimum 99`);
}
