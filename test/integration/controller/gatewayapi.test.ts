import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { imageOf, inPhase, waitForCanary } from '../../harness/canary.ts';
import { createTestNamespace, integrationEnv } from '../../harness/env.ts';
import { startOperatorProcess, type OperatorProcess } from '../../harness/operator.ts';
import { waitFor } from '../../harness/processes.ts';
import { startFakeGatewayController, type FakeGatewayController } from '../../harness/third-party.ts';
import { apply, canary, deployment, setImage } from './fixtures.ts';
import { field, routeWeights, watchRouteWeights } from './sampling.ts';

describe('progressive traffic on the gatewayapi router', () => {
  const { kubeconfigPath } = integrationEnv();
  let namespace: string;
  let operator: OperatorProcess;
  let gateway: FakeGatewayController;

  beforeAll(async () => {
    namespace = await createTestNamespace('gwapi');
    gateway = startFakeGatewayController(kubeconfigPath, namespace);
    operator = await startOperatorProcess({ kubeconfigPath, namespace });
  });
  afterAll(async () => {
    await operator?.stop();
    await gateway?.stop();
  });

  it('steps the HTTPRoute weights up to maxWeight without overshooting and promotes', async () => {
    await apply(
      kubeconfigPath,
      deployment(namespace, 'web', 'example/web:1'),
      canary(namespace, 'web', {
        provider: 'gatewayapi:v1',
        service: { port: 9898, gatewayRefs: [{ name: 'public', namespace: 'gateways' }] },
        analysis: { interval: '10s', threshold: 1, maxWeight: 50, stepWeight: 20 },
      }),
    );
    await waitForCanary(kubeconfigPath, namespace, 'web', inPhase('Initialized'), { what: 'initialisation' });
    expect(await routeWeights(kubeconfigPath, namespace, 'web')).toBe('web-primary=100 web-canary=0');

    const route = watchRouteWeights(kubeconfigPath, namespace, 'web');
    await setImage(kubeconfigPath, namespace, 'web', 'example/web:2');
    let outcome: Awaited<ReturnType<typeof waitForCanary>>;
    let routePath: string[];
    try {
      outcome = await waitForCanary(kubeconfigPath, namespace, 'web', inPhase('Succeeded', 'Failed'));
    } finally {
      routePath = await route.stop();
    }

    expect(outcome.status.phase).toBe('Succeeded');
    // Every weight the route carried, in order: 20, 40, then 50 (not 60), then all back to the primary.
    expect(routePath).toEqual([
      'web-primary=100 web-canary=0',
      'web-primary=80 web-canary=20',
      'web-primary=60 web-canary=40',
      'web-primary=50 web-canary=50',
      'web-primary=100 web-canary=0',
    ]);
    const progressingWeights = outcome.path
      .filter((step) => step.startsWith('Progressing:'))
      .map((step) => Number(step.split(':')[1]));
    expect([...new Set(progressingWeights)].filter((w) => w > 0)).toEqual([20, 40, 50]);
    expect(Math.max(...outcome.path.map((step) => Number(step.split(':')[1])))).toBe(50);
    expect(outcome.path.at(-1)).toBe('Succeeded:0');

    expect(await imageOf(kubeconfigPath, namespace, 'web-primary')).toBe('example/web:2');
    expect(await routeWeights(kubeconfigPath, namespace, 'web')).toBe('web-primary=100 web-canary=0');
    await waitFor(
      'the target to be scaled to zero',
      async () => (await field(kubeconfigPath, namespace, 'deploy', 'web', '{.spec.replicas}')) === '0',
    );
  }, 180_000);
});
