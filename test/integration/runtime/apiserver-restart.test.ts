import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { imageOf, inPhase, waitForCanary } from '../../harness/canary.ts';
import { kubectl, startControlPlane, type ControlPlane } from '../../harness/control-plane.ts';
import { installCrds } from '../../harness/install.ts';
import { startOperatorProcess, type OperatorProcess } from '../../harness/operator.ts';
import { waitFor } from '../../harness/processes.ts';
import { apply, canary, deployment, setImage } from '../controller/fixtures.ts';

// The kube-apiserver itself goes away for longer than a node lease (40 s here) in the middle of
// a run and comes back on the same etcd. A control plane of its own: stopping the shared
// apiserver would stop every other file. See docs/testing.md for what such an outage does to the
// sandbox (and to a real cluster).

const readyOf = (kubeconfigPath: string, namespace: string) =>
  kubectl(kubeconfigPath, [
    '-n',
    namespace,
    'get',
    'pods',
    '-o',
    'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}',
  ]).then((out) => out.split('\n').filter(Boolean));

describe('a 50 s kube-apiserver outage mid-run', () => {
  const namespace = 'outage';
  let plane: ControlPlane;
  let operator: OperatorProcess | undefined;

  beforeAll(async () => {
    plane = await startControlPlane({ nodes: 1 });
    await installCrds(plane.kubeconfigPath);
    await kubectl(plane.kubeconfigPath, ['create', 'namespace', namespace]);
  }, 180_000);

  afterAll(async () => {
    await operator?.stop();
    await plane?.stop();
  });

  it('the run finishes on its own once the apiserver is back, promoted as it would have been', async () => {
    const { kubeconfigPath } = plane;
    operator = await startOperatorProcess({ kubeconfigPath, namespace, name: 'outage' });
    await apply(
      kubeconfigPath,
      deployment(namespace, 'app', 'example/app:1'),
      canary(namespace, 'app', {
        provider: 'kubernetes',
        analysis: { interval: '10s', threshold: 1, iterations: 3 },
      }),
    );
    await waitForCanary(kubeconfigPath, namespace, 'app', inPhase('Initialized'), {
      what: 'app initialised',
      timeoutMs: 90_000,
    });
    await setImage(kubeconfigPath, namespace, 'app', 'example/app:2');
    await waitForCanary(kubeconfigPath, namespace, 'app', (s) => (s.iterations ?? 0) >= 1, {
      what: 'the first iteration',
      timeoutMs: 90_000,
    });
    await plane.apiserverOutage(50_000);
    const { status } = await waitForCanary(kubeconfigPath, namespace, 'app', inPhase('Succeeded', 'Failed'), {
      what: 'the run to end after the outage',
      timeoutMs: 240_000,
    });
    expect(status.phase).toBe('Succeeded');
    expect(await imageOf(kubeconfigPath, namespace, 'app-primary')).toBe('example/app:2');
    expect(operator.exited()).toBe(false);
    // Every pod serves again, whether or not the node controller marked them NotReady meanwhile.
    await waitFor('every pod Ready', async () =>
      (await readyOf(kubeconfigPath, namespace)).every((ready) => ready === 'True'),
    );
  }, 420_000);

  it('a pod marked NotReady while its node was unreachable is reported Ready again, as a kubelet would', async () => {
    const { kubeconfigPath } = plane;
    await apply(kubeconfigPath, deployment(namespace, 'marked', 'example/app:1', 1));
    await waitFor('the pod Ready', async () => {
      const pods = await kubectl(kubeconfigPath, [
        '-n',
        namespace,
        'get',
        'pods',
        '-l',
        'app=marked',
        '-o',
        'name',
      ]);
      return pods.trim() !== '' && (await readyOf(kubeconfigPath, namespace)).every((r) => r === 'True');
    });
    const pod = (
      await kubectl(kubeconfigPath, ['-n', namespace, 'get', 'pods', '-l', 'app=marked', '-o', 'name'])
    ).trim();
    // What the node lifecycle controller writes when a node's lease lapses.
    const marked = await kubectl(kubeconfigPath, [
      '-n',
      namespace,
      'patch',
      pod,
      '--subresource=status',
      '--type=strategic',
      '-p',
      JSON.stringify({
        status: { conditions: [{ type: 'Ready', status: 'False', reason: 'NodeStatusUnknown' }] },
      }),
      '-o',
      'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
    ]);
    expect(marked).toBe('False');
    const readiness = () =>
      kubectl(kubeconfigPath, [
        '-n',
        namespace,
        'get',
        pod,
        '-o',
        'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
      ]);
    await waitFor('the pod Ready again', async () => (await readiness()) === 'True', 30_000);
  }, 120_000);
});
