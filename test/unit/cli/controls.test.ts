import { describe, expect, it } from '@jest/globals';
import { Phases, type Canary, type CanaryStatus, type Phase } from '../../../src/api/index.ts';
import {
  CONTROL_PHASES,
  controlPatch,
  controlRefusal,
  controlToken,
  createControlCommand,
  createSuspendCommand,
  pendingToken,
} from '../../../src/cli/controls.ts';
import { captureIO } from './capture.ts';

function canary(status?: CanaryStatus, annotations?: Record<string, string>): Canary {
  return {
    apiVersion: 'fledge.dev/v1beta1',
    kind: 'Canary',
    metadata: { name: 'podinfo', namespace: 'test', ...(annotations ? { annotations } : {}) },
    spec: {
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
      analysis: { interval: '1m', stepWeight: 10 },
    },
    ...(status ? { status } : {}),
  };
}

describe('controlToken', () => {
  it('is the ISO time followed by the suffix', () => {
    expect(controlToken(new Date('2025-01-02T03:04:05.678Z'), 'a1b2')).toBe('2025-01-02T03:04:05.678Z-a1b2');
  });

  it('differs for the same instant when the suffix differs', () => {
    const at = new Date(0);
    expect(controlToken(at, 'aa')).not.toBe(controlToken(at, 'bb'));
  });
});

describe('controlRefusal', () => {
  it.each(Phases.map((phase) => [phase]))('decides promote, abort and retry in phase %s', (phase: Phase) => {
    for (const control of ['promote', 'abort', 'retry'] as const) {
      const refusal = controlRefusal(control, canary({ phase }));
      if (CONTROL_PHASES[control].includes(phase)) expect(refusal).toBeUndefined();
      else expect(refusal).toContain(`the canary is ${phase}: ${control} acts only in phase`);
    }
  });

  it('allows promote and abort while the run is active, retry only after a failure', () => {
    expect(CONTROL_PHASES.promote).toEqual(['Waiting', 'Progressing', 'WaitingPromotion']);
    expect(CONTROL_PHASES.abort).toEqual(['Waiting', 'Progressing', 'WaitingPromotion']);
    expect(CONTROL_PHASES.retry).toEqual(['Failed']);
  });

  it('says what to do instead', () => {
    expect(controlRefusal('retry', canary({ phase: 'Succeeded' }))).toContain(
      'retry restarts only a Failed run',
    );
    expect(controlRefusal('abort', canary({ phase: 'Succeeded' }))).toContain('deploy the previous version');
    expect(controlRefusal('abort', canary({ phase: 'Promoting' }))).toContain(
      'a promotion under way cannot be undone',
    );
    expect(controlRefusal('promote', canary({ phase: 'Failed' }))).toContain('"fledge retry"');
    expect(controlRefusal('promote', canary({ phase: 'Initialized' }))).toContain('no run is in progress');
  });

  it('refuses every control before the operator has set a phase', () => {
    for (const control of ['promote', 'abort', 'retry'] as const) {
      expect(controlRefusal(control, canary())).toContain('has no status.phase yet');
    }
  });
});

describe('pendingToken', () => {
  it('is the annotation value while status has not recorded it as handled', () => {
    const annotated = canary({ phase: 'Progressing' }, { 'fledge.dev/promote': 'tok-2' });
    expect(pendingToken('promote', annotated)).toBe('tok-2');
    expect(pendingToken('abort', annotated)).toBeUndefined();
  });

  it('is undefined once status.handledControls holds the same token', () => {
    const handled = canary(
      { phase: 'Progressing', handledControls: { promote: 'tok-2' } },
      { 'fledge.dev/promote': 'tok-2' },
    );
    expect(pendingToken('promote', handled)).toBeUndefined();
  });

  it('treats an empty annotation as no request', () => {
    expect(pendingToken('retry', canary({ phase: 'Failed' }, { 'fledge.dev/retry': '' }))).toBeUndefined();
  });
});

describe('controlPatch', () => {
  it('merge-patches only the control annotation', () => {
    expect(controlPatch('abort', 't1')).toEqual({ metadata: { annotations: { 'fledge.dev/abort': 't1' } } });
    expect(controlPatch('retry', 't2')).toEqual({ metadata: { annotations: { 'fledge.dev/retry': 't2' } } });
  });
});

describe('control commands on the command line', () => {
  it.each([
    [['--help'], 0, 'out', 'Usage: fledge promote NAME'],
    [[], 2, 'err', 'missing NAME'],
    [['a', 'b'], 2, 'err', 'expected one NAME (the Canary), got 2: a b'],
    [['--bogus', 'a'], 2, 'err', "Unknown option '--bogus'"],
    [['-n'], 2, 'err', "'-n, --namespace <value>' argument missing"],
    [['Bad_Name'], 2, 'err', 'NAME "Bad_Name" is not a valid Canary name'],
    [['podinfo', '-n', 'Bad NS'], 2, 'err', '-n/--namespace "Bad NS" is not a valid namespace name'],
    [
      ['podinfo', '--kubeconfig', '/nonexistent/kubeconfig'],
      1,
      'err',
      'kubeconfig file "/nonexistent/kubeconfig" does not exist',
    ],
  ] as const)('promote %j exits %i', async (argv, code, stream, text) => {
    const cap = captureIO();
    expect(await createControlCommand('promote', { io: cap.io }).run([...argv])).toBe(code);
    expect(cap[stream]()).toContain(text);
  });

  it('names the subcommand and points to --help on usage errors', async () => {
    const cap = captureIO();
    expect(await createControlCommand('retry', { io: cap.io }).run([])).toBe(2);
    expect(cap.err()).toBe('fledge retry: missing NAME (the Canary)\nRun "fledge retry --help" for usage.\n');
  });

  it('documents --force and the phases in each control help', async () => {
    for (const control of ['promote', 'abort', 'retry'] as const) {
      const cap = captureIO();
      expect(await createControlCommand(control, { io: cap.io }).run(['-h'])).toBe(0);
      expect(cap.out()).toContain(`fledge.dev/${control}`);
      expect(cap.out()).toContain(CONTROL_PHASES[control].join(', '));
      expect(cap.out()).toContain('--force');
    }
  });

  it('pause and resume reject --force and explain the GitOps caveat in their help', async () => {
    const cap = captureIO();
    expect(await createSuspendCommand('pause', { io: cap.io }).run(['podinfo', '--force'])).toBe(2);
    expect(cap.err()).toContain("Unknown option '--force'");
    const help = captureIO();
    expect(await createSuspendCommand('resume', { io: help.io }).run(['--help'])).toBe(0);
    expect(help.out()).toContain('commit "suspend: false" to the Canary in Git');
  });
});
