import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { CanaryStatus, Condition } from '../../../src/api/index.ts';
import { createStatusCommand } from '../../../src/cli/status.ts';
import { canaryStatus, inPhase, waitForCanary } from '../../harness/canary.ts';
import { kubectl } from '../../harness/control-plane.ts';
import { createTestNamespace, integrationEnv } from '../../harness/env.ts';
import { startOperatorProcess, type OperatorProcess } from '../../harness/operator.ts';
import { captureIO } from '../../unit/cli/capture.ts';
import { apply, canary, deployment, setImage } from './fixtures.ts';

// Setups that used to run and "succeed" while serving nothing the user meant: a
// targetPort no container exposes and a target at zero replicas are refused, naming
// the field and the fix; a missing AlertProvider is named in Ready and `fledge status`
// while the release goes on. Each proceeds once fixed, with the same operator.

const blueGreen = { interval: '10s', threshold: 1, iterations: 2 };

const readyOf = (status: CanaryStatus): Condition | undefined =>
  status.conditions?.find((c) => c.type === 'Ready');

describe('broken setups', () => {
  const { kubeconfigPath } = integrationEnv();
  let namespace: string;
  let operator: OperatorProcess;
  const ctl = (...args: string[]) => kubectl(kubeconfigPath, ['-n', namespace, ...args]);
  const replicasOf = async (name: string) =>
    Number(await ctl('get', 'deployment', name, '-o', 'jsonpath={.spec.replicas}'));
  const refusedWith = (reason: string) => (s: CanaryStatus) =>
    readyOf(s)?.status === 'False' && readyOf(s)?.reason === reason;
  const statusText = async (name: string) => {
    const cap = captureIO();
    expect(
      await createStatusCommand({ io: cap.io }).run([name, '--kubeconfig', kubeconfigPath, '-n', namespace]),
    ).toBe(0);
    return cap.out();
  };

  beforeAll(async () => {
    namespace = await createTestNamespace('broken');
    operator = await startOperatorProcess({ kubeconfigPath, namespace });
  }, 60_000);
  afterAll(async () => operator?.stop());

  it('refuses a targetPort no container exposes, by number or by name, until it is fixed', async () => {
    await apply(
      kubeconfigPath,
      deployment(namespace, 'by-number', 'example/web:1'),
      canary(namespace, 'by-number', { service: { port: 80, targetPort: 8080 }, analysis: blueGreen }),
      deployment(namespace, 'by-name', 'example/web:1'),
      canary(namespace, 'by-name', { service: { port: 9898, targetPort: 'web' }, analysis: blueGreen }),
    );
    for (const [name, says] of [
      ['by-number', 'exposes port 8080'],
      ['by-name', 'exposes a port named "web"'],
    ] as const) {
      const { status } = await waitForCanary(kubeconfigPath, namespace, name, refusedWith('TargetInvalid'), {
        what: `${name} refused`,
        timeoutMs: 60_000,
      });
      expect(readyOf(status)?.message).toContain(
        `spec.service.targetPort: no container of Deployment ${namespace}/${name} ${says}`,
      );
      expect(readyOf(status)?.message).toContain('it exposes http 9898/TCP (app)');
      expect(await ctl('get', 'deployment', `${name}-primary`, '--ignore-not-found', '-o', 'name')).toBe('');
    }
    expect(await statusText('by-name')).toMatch(/Refused: +TargetInvalid: spec\.service\.targetPort/);

    for (const name of ['by-number', 'by-name'])
      await ctl(
        'patch',
        'canary',
        name,
        '--type=merge',
        '-p',
        JSON.stringify({ spec: { service: { targetPort: 'http' } } }),
      );
    for (const name of ['by-number', 'by-name']) {
      const { status } = await waitForCanary(kubeconfigPath, namespace, name, inPhase('Initialized'), {
        what: `${name} initialised once fixed`,
        timeoutMs: 120_000,
      });
      expect(readyOf(status)?.status).toBe('True');
    }
  }, 300_000);

  it('refuses a target scaled to zero before its first run, and never its own scale to zero', async () => {
    await apply(
      kubeconfigPath,
      deployment(namespace, 'idle', 'example/idle:1', 0),
      canary(namespace, 'idle', { analysis: blueGreen }),
    );
    const { status } = await waitForCanary(
      kubeconfigPath,
      namespace,
      'idle',
      refusedWith('TargetScaledToZero'),
      { what: 'idle refused', timeoutMs: 60_000 },
    );
    expect(readyOf(status)?.message).toContain(
      `spec.targetRef: Deployment ${namespace}/idle has spec.replicas 0 and no primary yet`,
    );
    expect(readyOf(status)?.message).toContain('kubectl scale deployment/idle --replicas=N');
    // Nothing was created from the zero-sized target.
    expect(await ctl('get', 'deployment', 'idle-primary', '--ignore-not-found', '-o', 'name')).toBe('');

    await ctl('scale', 'deployment/idle', '--replicas=3');
    await waitForCanary(kubeconfigPath, namespace, 'idle', inPhase('Initialized'), {
      what: 'idle initialised once scaled up',
      timeoutMs: 120_000,
    });
    expect(await replicasOf('idle-primary')).toBe(3);

    // Fledge scaled the target to zero itself, then releases and scales it to zero again:
    // neither is refused.
    await setImage(kubeconfigPath, namespace, 'idle', 'example/idle:2');
    const released = await waitForCanary(kubeconfigPath, namespace, 'idle', inPhase('Succeeded', 'Failed'), {
      what: 'idle released',
    });
    expect(released.status.phase).toBe('Succeeded');
    expect(await replicasOf('idle')).toBe(0);
    // Another reconcile at rest, on a target Fledge holds at zero.
    await ctl('annotate', 'canary', 'idle', `test.fledge.dev/poke=${Date.now()}`, '--overwrite');
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const after = await canaryStatus(kubeconfigPath, namespace, 'idle');
    expect(after.phase).toBe('Succeeded');
    expect(readyOf(after)?.reason).not.toBe('TargetScaledToZero');
  }, 300_000);

  it('names a missing AlertProvider in Ready and fledge status, and releases anyway', async () => {
    const alerts = [{ name: 'on-call', severity: 'error', providerRef: { name: 'pager' } }];
    await apply(
      kubeconfigPath,
      deployment(namespace, 'alerted', 'example/alerted:1'),
      canary(namespace, 'alerted', { analysis: { ...blueGreen, alerts } }),
    );
    const missing =
      `spec.analysis.alerts[0].providerRef: AlertProvider ${namespace}/pager not found, so alert on-call ` +
      'is not sent: create it, or fix spec.analysis.alerts[0].providerRef';
    const { status } = await waitForCanary(kubeconfigPath, namespace, 'alerted', inPhase('Initialized'), {
      what: 'alerted initialised',
    });
    expect(readyOf(status)).toMatchObject({ status: 'True', message: expect.stringContaining(missing) });
    expect(await statusText('alerted')).toContain(`Ignored:        ${missing}`);

    await setImage(kubeconfigPath, namespace, 'alerted', 'example/alerted:2');
    const released = await waitForCanary(
      kubeconfigPath,
      namespace,
      'alerted',
      inPhase('Succeeded', 'Failed'),
      {
        what: 'alerted released',
      },
    );
    expect(released.status.phase).toBe('Succeeded');
    expect(readyOf(released.status)?.message).toContain(missing);

    // Created, the AlertProvider is no longer reported, without a restart.
    await apply(kubeconfigPath, {
      apiVersion: 'fledge.dev/v1beta1',
      kind: 'AlertProvider',
      metadata: { name: 'pager', namespace },
      spec: { type: 'webhook', address: 'http://127.0.0.1:9/alerts' },
    });
    await waitForCanary(
      kubeconfigPath,
      namespace,
      'alerted',
      (s) => readyOf(s)?.status === 'True' && !(readyOf(s)?.message ?? '').includes('pager'),
      { what: 'the note gone once the AlertProvider exists', timeoutMs: 60_000 },
    );
    expect(operator.exited()).toBe(false);
  }, 300_000);
});
