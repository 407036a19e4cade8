import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { inPhase, waitForCanary } from '../../harness/canary.ts';
import { kubectl } from '../../harness/control-plane.ts';
import { createTestNamespace, integrationEnv } from '../../harness/env.ts';
import { startOperatorProcess, type OperatorProcess } from '../../harness/operator.ts';
import { waitFor } from '../../harness/processes.ts';
import { apply, canary, deployment } from './fixtures.ts';
import { startHookServer, type HookServer } from './hook-server.ts';

// A crash between writing a decision's status and writing its Events, made exact: the
// status records an Event no process wrote. The next operator process sends it, under the
// name it was decided with, and to the event webhook; the one after that finds it there and
// sends nothing twice, to the apiserver or the webhook.

interface EventObject {
  metadata: { name: string };
  reason?: string;
  note?: string;
  regarding?: { kind?: string; name?: string };
}

describe('Events decided before a crash', () => {
  const { kubeconfigPath } = integrationEnv();
  let namespace: string;
  let operator: OperatorProcess | undefined;
  let hooks: HookServer;
  const start = () =>
    startOperatorProcess({ kubeconfigPath, namespace, args: [`--event-webhook=${hooks.base}/events`] });
  const ctl = (...args: string[]) => kubectl(kubeconfigPath, ['-n', namespace, ...args]);
  const eventsOf = async (name: string): Promise<EventObject[]> =>
    (
      JSON.parse(await ctl('get', 'events.events.k8s.io', '-o', 'json')) as { items: EventObject[] }
    ).items.filter((e) => e.regarding?.kind === 'Canary' && e.regarding.name === name);

  beforeAll(async () => {
    namespace = await createTestNamespace('decided-events');
    hooks = await startHookServer();
  }, 60_000);
  afterAll(async () => {
    await operator?.stop();
    await hooks?.close();
  });

  it('are sent by the next process, once', async () => {
    operator = await start();
    await apply(
      kubeconfigPath,
      deployment(namespace, 'web', 'example/web:1'),
      canary(namespace, 'web', { analysis: { interval: '10s', threshold: 1, iterations: 2 } }),
    );
    await waitForCanary(kubeconfigPath, namespace, 'web', inPhase('Initialized'), { what: 'initialised' });
    // The first process's own Events reach the webhook before it dies; the patch below replaces
    // them in status, so one killed first would never be sent, and the check of keys below needs them.
    await waitFor('the first Events at the webhook', async () => hooks.calls.length > 0, 30_000);
    await operator.kill();

    // The decision the crash cut short: in status, never written as an Event.
    const decidedTime = new Date().toISOString();
    const note = `lost by a crash at ${decidedTime}`;
    await ctl(
      'patch',
      'canary',
      'web',
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({
        status: {
          lastEvents: { decidedTime, events: [{ reason: 'StepAdvanced', type: 'Normal', message: note }] },
        },
      }),
    );
    const name = `web.${Date.parse(decidedTime).toString(16)}-0`;
    expect((await eventsOf('web')).some((e) => e.note === note)).toBe(false);

    operator = await start();
    await waitFor('the lost Event', async () => (await eventsOf('web')).some((e) => e.note === note), 60_000);
    expect((await eventsOf('web')).filter((e) => e.note === note).map((e) => e.metadata.name)).toEqual([
      name,
    ]);

    const heard = () =>
      hooks.calls.filter((c) => (c.body.metadata as Record<string, string>).eventMessage === note);
    await waitFor('the lost Event at the webhook', async () => heard().length > 0, 30_000);

    // Another restart: the Event is found by its name, and not written again.
    await operator.stop();
    operator = await start();
    await waitFor(
      'the restarted operator to reconcile web',
      async () => (await operator!.logs()).some((l) => l.msg === 'decided' && l.name === 'web'),
      60_000,
    );
    expect((await eventsOf('web')).filter((e) => e.note === note).map((e) => e.metadata.name)).toEqual([
      name,
    ]);
    expect((await operator.logs()).filter((l) => l.msg === 'could not write event')).toEqual([]);

    // The webhook heard of the lost Event once, keyed by its name, and of no Event twice.
    const uid = await ctl('get', 'canary', 'web', '-o', 'jsonpath={.metadata.uid}');
    expect(heard().map((c) => c.key)).toEqual([`${uid}/event/${name.slice('web.'.length)}/0-events`]);
    const keys = hooks.calls.map((c) => c.key);
    expect(keys.length).toBeGreaterThan(1);
    expect(new Set(keys).size).toBe(keys.length);
  }, 240_000);
});
