import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SCALE_TO_ZERO_NODE_SELECTOR } from '../../../src/workloads/index.ts';
import { inPhase, waitForCanary } from '../../harness/canary.ts';
import { kubectl } from '../../harness/control-plane.ts';
import { createTestNamespace, integrationEnv } from '../../harness/env.ts';
import { startOperatorProcess, type OperatorProcess } from '../../harness/operator.ts';
import { waitFor } from '../../harness/processes.ts';
import { apply, canary } from './fixtures.ts';
import { field, sampleDistinct } from './sampling.ts';

function daemonSet(namespace: string, name: string, image: string): object {
  const labels = { app: name };
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name, namespace },
    spec: {
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: { containers: [{ name: 'app', image, ports: [{ name: 'http', containerPort: 9898 }] }] },
      },
    },
  };
}

describe('DaemonSet target', () => {
  const { kubeconfigPath } = integrationEnv();
  let namespace: string;
  let operator: OperatorProcess;
  const image = (name: string) =>
    field(kubeconfigPath, namespace, 'daemonset', name, '{.spec.template.spec.containers[0].image}');
  const scaledToZero = async (name: string) =>
    (await field(
      kubeconfigPath,
      namespace,
      'daemonset',
      name,
      `{.spec.template.spec.nodeSelector.${SCALE_TO_ZERO_NODE_SELECTOR.replaceAll('.', '\\.')}}`,
    )) === 'true';

  beforeAll(async () => {
    namespace = await createTestNamespace('daemonset');
    operator = await startOperatorProcess({ kubeconfigPath, namespace });
  });
  afterAll(async () => operator?.stop());

  it('initialises a primary DaemonSet, analyses a new revision blue/green and promotes it', async () => {
    await apply(
      kubeconfigPath,
      daemonSet(namespace, 'agent', 'example/agent:1'),
      canary(namespace, 'agent', {
        targetRef: { apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'agent' },
        provider: 'kubernetes',
        analysis: { interval: '10s', threshold: 1, iterations: 2 },
      }),
    );
    await waitForCanary(kubeconfigPath, namespace, 'agent', inPhase('Initialized'), {
      what: 'initialisation',
    });
    expect(await image('agent-primary')).toBe('example/agent:1');
    expect(
      await field(kubeconfigPath, namespace, 'daemonset', 'agent-primary', '{.status.numberAvailable}'),
    ).toBe(
      await field(
        kubeconfigPath,
        namespace,
        'daemonset',
        'agent-primary',
        '{.status.desiredNumberScheduled}',
      ),
    );
    await waitFor('the target DaemonSet to be scaled to zero', () => scaledToZero('agent'));

    const targetState = sampleDistinct(async () => ((await scaledToZero('agent')) ? 'zero' : 'running'));
    await kubectl(kubeconfigPath, [
      '-n',
      namespace,
      'set',
      'image',
      'daemonset/agent',
      'app=example/agent:2',
    ]);
    let outcome: Awaited<ReturnType<typeof waitForCanary>>;
    try {
      outcome = await waitForCanary(kubeconfigPath, namespace, 'agent', inPhase('Succeeded', 'Failed'));
      await waitFor('the target DaemonSet to be scaled to zero again', () => scaledToZero('agent'));
    } finally {
      await targetState.stop();
    }
    const { status, path } = outcome;
    // Scaled up for the analysis, back to zero after the promotion.
    expect(targetState.seen()).toEqual(['zero', 'running', 'zero']);
    expect(status.phase).toBe('Succeeded');
    expect(status.iterations).toBe(2);
    expect(path).toEqual(expect.arrayContaining(['Progressing:0', 'Succeeded:0']));
    expect(await image('agent-primary')).toBe('example/agent:2');
    expect(await field(kubeconfigPath, namespace, 'svc', 'agent', '{.spec.selector.app}')).toBe(
      'agent-primary',
    );
    const events = await kubectl(kubeconfigPath, [
      'get',
      'events.events.k8s.io',
      '-n',
      namespace,
      '-o',
      'jsonpath={range .items[*]}{.reason}{"\\n"}{end}',
    ]);
    expect(events.split('\n')).toEqual(expect.arrayContaining(['Initialized', 'NewRevision', 'Promoted']));
  }, 180_000);
});
