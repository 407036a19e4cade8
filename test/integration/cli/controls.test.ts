import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ManualControl, Phase } from '../../../src/api/index.ts';
import { createControlCommand, createSuspendCommand } from '../../../src/cli/controls.ts';
import { kubectl } from '../../harness/control-plane.ts';
import { createTestNamespace, integrationEnv } from '../../harness/env.ts';
import { captureIO } from '../../unit/cli/capture.ts';
import { createCanary, getCanary, setStatus, target } from './canaries.ts';

// The manual-control commands against a real apiserver with the Fledge CRDs:
// each test creates its own Canary, puts it in a phase by writing its status
// (there is no operator here), runs the command and reads the object back.

const TOKEN = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z-[0-9a-f]{8}$/;

let namespace = '';
let counter = 0;

beforeAll(async () => {
  namespace = await createTestNamespace('cli-controls');
});

/** A fresh Canary in `phase` (no status at all when phase is undefined). */
async function canaryIn(phase: Phase | undefined, annotations: Record<string, string> = {}): Promise<string> {
  const name = `controlled-${++counter}`;
  await createCanary(namespace, name, annotations);
  if (phase !== undefined) await setStatus(namespace, name, { phase, canaryWeight: 20, failedChecks: 0 });
  return name;
}

async function control(action: ManualControl, name: string, ...flags: string[]) {
  const cap = captureIO();
  const code = await createControlCommand(action, { io: cap.io }).run([name, ...target(namespace), ...flags]);
  return { code, out: cap.out(), err: cap.err() };
}

async function suspend(verb: 'pause' | 'resume', name: string) {
  const cap = captureIO();
  const code = await createSuspendCommand(verb, { io: cap.io }).run([name, ...target(namespace)]);
  return { code, out: cap.out(), err: cap.err() };
}

describe.each([
  ['promote', 'Progressing'],
  ['promote', 'WaitingPromotion'],
  ['abort', 'Waiting'],
  ['abort', 'Progressing'],
  ['retry', 'Failed'],
] as const)('fledge %s in phase %s', (action, phase) => {
  it('sets a fresh token on its annotation and says what was requested', async () => {
    const name = await canaryIn(phase);
    const result = await control(action, name);
    expect(result).toMatchObject({ code: 0, err: '' });
    const token = (await getCanary(namespace, name)).metadata.annotations?.[`fledge.dev/${action}`];
    expect(token).toMatch(TOKEN);
    expect(result.out).toContain(
      `${action} requested for canary ${namespace}/${name} (fledge.dev/${action}=${token}).`,
    );
    expect(result.out).toContain('The operator acts once per token');
  });
});

describe('one-shot controls', () => {
  it('writes a new token on every request, keeps other annotations, and notes a replaced pending one', async () => {
    const name = await canaryIn('Progressing', { 'team.example/owner': 'payments' });
    await control('promote', name);
    const first = (await getCanary(namespace, name)).metadata.annotations?.['fledge.dev/promote'];
    const again = await control('promote', name);
    const annotations = (await getCanary(namespace, name)).metadata.annotations ?? {};
    expect(again.code).toBe(0);
    expect(annotations['fledge.dev/promote']).toMatch(TOKEN);
    expect(annotations['fledge.dev/promote']).not.toBe(first);
    expect(annotations['team.example/owner']).toBe('payments');
    expect(again.out).toContain(
      `This replaces the earlier request ${first}, which the operator had not handled yet.`,
    );
  });

  it('does not note a replacement when the operator already handled the previous token', async () => {
    const name = await canaryIn('Progressing', { 'fledge.dev/abort': 'old-token' });
    await setStatus(namespace, name, { handledControls: { abort: 'old-token' } });
    const result = await control('abort', name);
    expect(result.code).toBe(0);
    expect(result.out).not.toContain('replaces');
  });

  it.each([
    ['retry', 'Progressing', 'retry restarts only a Failed run'],
    ['abort', 'Succeeded', 'nothing to abort; to go back, deploy the previous version'],
    ['abort', 'Promoting', 'a promotion under way cannot be undone'],
    ['promote', 'Failed', 'the run failed; "fledge retry" runs it again'],
    ['promote', undefined, 'the canary has no status.phase yet'],
  ] as const)('refuses %s in phase %s and leaves the Canary alone', async (action, phase, reason) => {
    const name = await canaryIn(phase);
    const before = await getCanary(namespace, name);
    const result = await control(action, name);
    expect(result.code).toBe(1);
    expect(result.out).toBe('');
    expect(result.err).toContain(`refusing to ${action} canary ${namespace}/${name}`);
    expect(result.err).toContain(reason);
    expect(result.err).toContain('Pass --force to set it anyway.');
    const after = await getCanary(namespace, name);
    expect(after.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
  });

  it('sets the token anyway with --force and says it was forced', async () => {
    const name = await canaryIn('Succeeded');
    const result = await control('retry', name, '--force');
    expect(result.code).toBe(0);
    expect(result.out).toContain('Forced: the canary is Succeeded: retry acts only in phase Failed');
    expect((await getCanary(namespace, name)).metadata.annotations?.['fledge.dev/retry']).toMatch(TOKEN);
  });

  it('warns that a paused canary acts on promote only once resumed', async () => {
    const name = await canaryIn('Progressing');
    await suspend('pause', name);
    const result = await control('promote', name);
    expect(result.code).toBe(0);
    expect(result.out).toContain(
      `the operator acts on this once it is resumed (fledge resume ${name} -n ${namespace})`,
    );
  });

  it('reports a missing canary with its name and namespace, exit 1', async () => {
    const result = await control('abort', 'no-such-canary');
    expect(result.code).toBe(1);
    expect(result.err).toBe(
      `fledge abort: canary "no-such-canary" not found in namespace "${namespace}" (check NAME and -n/--namespace; kubectl get canaries -n ${namespace} lists them)\n`,
    );
  });
});

describe('fledge pause and resume', () => {
  it('sets spec.suspend, warns about GitOps, and does nothing when already in that state', async () => {
    const name = await canaryIn('Progressing');

    const paused = await suspend('pause', name);
    expect(paused.code).toBe(0);
    expect(paused.out).toContain(
      `paused canary ${namespace}/${name} (spec.suspend: true) in phase Progressing at weight 20%`,
    );
    expect(paused.err).toContain(
      'a GitOps tool (Argo CD, Flux) syncing this Canary from Git may set it back',
    );
    expect(paused.err).toContain('commit "suspend: true" to the Canary in Git');
    const afterPause = await getCanary(namespace, name);
    expect(afterPause.spec.suspend).toBe(true);

    const again = await suspend('pause', name);
    expect(again).toMatchObject({ code: 0, err: '' });
    expect(again.out).toContain('is already paused (spec.suspend: true); nothing changed');
    expect((await getCanary(namespace, name)).metadata.resourceVersion).toBe(
      afterPause.metadata.resourceVersion,
    );

    const resumed = await suspend('resume', name);
    expect(resumed.code).toBe(0);
    expect(resumed.out).toContain(`resumed canary ${namespace}/${name} (spec.suspend: false)`);
    expect(resumed.err).toContain('commit "suspend: false" to the Canary in Git');
    expect((await getCanary(namespace, name)).spec.suspend).toBe(false);
  });
});

describe('namespace selection', () => {
  let dir = '';
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("uses the kubeconfig context's namespace when -n is not given", async () => {
    const name = await canaryIn('Progressing');
    dir = await mkdtemp(join(tmpdir(), 'fledge-cli-'));
    const kubeconfig = join(dir, 'kubeconfig');
    await copyFile(integrationEnv().kubeconfigPath, kubeconfig);
    await kubectl(kubeconfig, ['config', 'set-context', '--current', `--namespace=${namespace}`]);

    const cap = captureIO();
    const code = await createSuspendCommand('pause', { io: cap.io }).run([name, '--kubeconfig', kubeconfig]);
    expect(code).toBe(0);
    expect(cap.out()).toContain(`paused canary ${namespace}/${name}`);
    expect((await getCanary(namespace, name)).spec.suspend).toBe(true);
  });
});
