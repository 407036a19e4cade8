import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { imageOf, inPhase, waitForCanary } from '../../harness/canary.ts';
import { createTestNamespace, integrationEnv } from '../../harness/env.ts';
import { startOperatorProcess, type OperatorProcess } from '../../harness/operator.ts';
import { waitFor } from '../../harness/processes.ts';
import { startFakeGatewayController, type FakeGatewayController } from '../../harness/third-party.ts';
import { apply, canary, deployment, setImage } from './fixtures.ts';
import { phasePath, recordStatusHistory } from './history.ts';
import { watchImage, watchRouteWeights } from './sampling.ts';

describe('a new revision during the analysis', () => {
  const { kubeconfigPath } = integrationEnv();
  let namespace: string;
  let operator: OperatorProcess;
  let gateway: FakeGatewayController;

  beforeAll(async () => {
    namespace = await createTestNamespace('revisions');
    gateway = startFakeGatewayController(kubeconfigPath, namespace);
    operator = await startOperatorProcess({ kubeconfigPath, namespace });
  });
  afterAll(async () => {
    await operator?.stop();
    await gateway?.stop();
  });

  it('sends all traffic back to the primary, restarts the run and promotes only the newest revision', async () => {
    await apply(
      kubeconfigPath,
      deployment(namespace, 'web', 'example/web:1'),
      canary(namespace, 'web', {
        provider: 'gatewayapi:v1',
        service: { port: 9898, gatewayRefs: [{ name: 'public', namespace: 'gateways' }] },
        analysis: { interval: '10s', threshold: 1, maxWeight: 50, stepWeight: 25 },
      }),
    );
    await waitForCanary(kubeconfigPath, namespace, 'web', inPhase('Initialized'), { what: 'initialisation' });

    const history = recordStatusHistory(kubeconfigPath, namespace, 'web');
    // Watched, not polled: the route is back at 100 only until the restarted run's first step.
    const route = watchRouteWeights(kubeconfigPath, namespace, 'web');
    const primaryImage = watchImage(kubeconfigPath, namespace, 'web-primary');
    try {
      await waitFor('the status watch to start', async () => history.versions().length > 0);
      await setImage(kubeconfigPath, namespace, 'web', 'example/web:2');
      const midRun = await waitForCanary(
        kubeconfigPath,
        namespace,
        'web',
        (s) => s.phase === 'Progressing' && s.canaryWeight === 25,
        { what: 'the first revision at weight 25' },
      );
      const firstRun = midRun.status.run;
      expect(firstRun).toBeDefined();

      await setImage(kubeconfigPath, namespace, 'web', 'example/web:3');
      const { status } = await waitForCanary(
        kubeconfigPath,
        namespace,
        'web',
        inPhase('Succeeded', 'Failed'),
      );
      expect(status.phase).toBe('Succeeded');
      expect(status.run).toBe((firstRun as number) + 1);
    } finally {
      await Promise.all([route.stop(), primaryImage.stop(), history.stop()]);
    }

    // The intermediate revision never reached the primary.
    expect(primaryImage.seen()).toEqual(['example/web:1', 'example/web:3']);
    expect(await imageOf(kubeconfigPath, namespace, 'web-primary')).toBe('example/web:3');

    // The route went back to the primary when the new revision came in, then climbed again from scratch.
    expect(route.seen()).toEqual([
      'web-primary=100 web-canary=0',
      'web-primary=75 web-canary=25',
      'web-primary=100 web-canary=0',
      'web-primary=75 web-canary=25',
      'web-primary=50 web-canary=50',
      'web-primary=100 web-canary=0',
    ]);

    // The restarted run began at its start: no weight, no iterations, no failed checks, a fresh tick count.
    const versions = history.versions();
    const firstRun = versions.find((v) => v.status.phase === 'Progressing')?.status.run as number;
    const restart = versions.find((v) => v.status.run === firstRun + 1);
    expect(restart?.status).toMatchObject({
      phase: 'Progressing',
      canaryWeight: 0,
      iterations: 0,
      failedChecks: 0,
    });
    const lastTickOfFirstRun = versions.filter((v) => v.status.run === firstRun).at(-1)?.status.tick?.number;
    expect(lastTickOfFirstRun).toBeGreaterThanOrEqual(1);
    const firstTickOfRestart = versions.find((v) => v.status.run === firstRun + 1 && v.status.tick)?.status
      .tick?.number;
    expect(firstTickOfRestart).toBeLessThanOrEqual(1);
    expect(phasePath(versions)).toEqual([
      'Initialized:0',
      'Progressing:0',
      'Progressing:25',
      'Progressing:0',
      'Progressing:25',
      'Progressing:50',
      'Promoting:50',
      'Finalising:0',
      'Succeeded:0',
    ]);
  }, 180_000);
});
