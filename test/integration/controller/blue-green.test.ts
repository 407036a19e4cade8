import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { imageOf, inPhase, waitForCanary } from '../../harness/canary.ts';
import { kubectl } from '../../harness/control-plane.ts';
import { createTestNamespace, integrationEnv } from '../../harness/env.ts';
import { startOperatorProcess, type OperatorProcess } from '../../harness/operator.ts';
import { apply, canary, deployment, setImage } from './fixtures.ts';

describe('blue/green on the kubernetes router', () => {
  const { kubeconfigPath } = integrationEnv();
  let namespace: string;
  let operator: OperatorProcess;

  beforeAll(async () => {
    namespace = await createTestNamespace('bluegreen');
    operator = await startOperatorProcess({ kubeconfigPath, namespace });
  });
  afterAll(async () => operator?.stop());

  it('initialises, analyses a new revision for its iterations, switches and promotes', async () => {
    await apply(
      kubeconfigPath,
      deployment(namespace, 'web', 'example/web:1'),
      canary(namespace, 'web', {
        provider: 'kubernetes',
        analysis: { interval: '10s', threshold: 1, iterations: 2 },
      }),
    );
    await waitForCanary(kubeconfigPath, namespace, 'web', inPhase('Initialized'), { what: 'initialisation' });
    expect(await imageOf(kubeconfigPath, namespace, 'web-primary')).toBe('example/web:1');
    const replicas = await kubectl(kubeconfigPath, [
      '-n',
      namespace,
      'get',
      'deploy',
      'web',
      '-o',
      'jsonpath={.spec.replicas}',
    ]);
    expect(replicas).toBe('0');

    await setImage(kubeconfigPath, namespace, 'web', 'example/web:2');
    const { status, path } = await waitForCanary(
      kubeconfigPath,
      namespace,
      'web',
      inPhase('Succeeded', 'Failed'),
    );
    expect(status.phase).toBe('Succeeded');
    expect(path).toEqual(expect.arrayContaining(['Progressing:0', 'Succeeded:0']));
    expect(status.iterations).toBe(2);
    expect(await imageOf(kubeconfigPath, namespace, 'web-primary')).toBe('example/web:2');
    const selector = await kubectl(kubeconfigPath, [
      '-n',
      namespace,
      'get',
      'svc',
      'web',
      '-o',
      'jsonpath={.spec.selector.app}',
    ]);
    expect(selector).toBe('web-primary');
    const events = await kubectl(kubeconfigPath, [
      'get',
      'events.events.k8s.io',
      '-n',
      namespace,
      '-o',
      'jsonpath={range .items[*]}{.reason}{"\\n"}{end}',
    ]);
    expect(events.split('\n')).toEqual(
      expect.arrayContaining(['Initialized', 'NewRevision', 'StepAdvanced', 'Promoted']),
    );
  }, 240_000);
});
