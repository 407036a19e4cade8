import { beforeAll, describe, expect, it } from '@jest/globals';
import type { CanaryStatus } from '../../../src/api/index.ts';
import { createStatusCommand, type StatusSummary } from '../../../src/cli/status.ts';
import { kubectl } from '../../harness/control-plane.ts';
import { createTestNamespace, integrationEnv } from '../../harness/env.ts';
import { captureIO } from '../../unit/cli/capture.ts';
import { createCanary, setStatus, target } from './canaries.ts';

// `fledge status` against a real apiserver: the tests play the operator by
// writing status, including while `--watch` is following the Canary.

let namespace = '';
let counter = 0;

beforeAll(async () => {
  namespace = await createTestNamespace('cli-status');
});

async function newCanary(): Promise<string> {
  const name = `observed-${++counter}`;
  await createCanary(namespace, name);
  return name;
}

const progressing: CanaryStatus = {
  phase: 'Progressing',
  observedGeneration: 1,
  strategy: 'Canary',
  run: 1,
  lastAppliedSpec: '7f9c4d',
  canaryWeight: 20,
  trafficMode: 'Weighted',
  failedChecks: 1,
  lastTransitionTime: '2025-06-01T11:00:00Z',
  metrics: [
    {
      name: 'request-success-rate',
      value: 98.5,
      verdict: 'Fail',
      message: 'below the minimum 99',
      lastMeasuredTime: '2025-06-01T11:59:30Z',
    },
  ],
  conditions: [
    {
      type: 'Promoted',
      status: 'Unknown',
      reason: 'Progressing',
      message: 'analysing weight 20',
      lastTransitionTime: '2025-06-01T11:00:00Z',
      observedGeneration: 1,
    },
  ],
};

function statusCommand(pollIntervalMs = 100) {
  const cap = captureIO();
  const command = createStatusCommand({ io: cap.io, pollIntervalMs });
  return {
    cap,
    run: (name: string, ...flags: string[]) => command.run([name, ...target(namespace), ...flags]),
  };
}

/** Resolves once `read()` satisfies `done`, polling briefly; fails the test after 10 s. */
async function until(read: () => string, done: (text: string) => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!done(read())) {
    if (Date.now() > deadline) throw new Error(`condition not met; output so far:\n${read()}`);
    await new Promise((wake) => setTimeout(wake, 50));
  }
}

describe('fledge status', () => {
  it('summarises phase, schedule, failed checks, metrics and conditions', async () => {
    const name = await newCanary();
    await setStatus(namespace, name, progressing);
    const { cap, run } = statusCommand();
    expect(await run(name)).toBe(0);
    const text = cap.out();
    expect(text).toContain(`Canary:         ${namespace}/${name}`);
    expect(text).toContain('Phase:          Progressing for ');
    expect(text).toContain('Weight:         20% (step 2 of 5: 10, 20, 30, 40, 50)');
    expect(text).toContain('Failed checks:  1 (rolls back at 3)');
    expect(text).toMatch(/request-success-rate {2}98\.5 {3}>= 99 {6}Fail {5}\S+ ago +below the minimum 99/);
    expect(text).toMatch(/Promoted {2}Unknown {2}Progressing {2}\S+ ago +analysing weight 20/);
  });

  it('prints the same facts as JSON with -o json', async () => {
    const name = await newCanary();
    await setStatus(namespace, name, progressing);
    const { cap, run } = statusCommand();
    expect(await run(name, '-o', 'json')).toBe(0);
    const summary = JSON.parse(cap.out()) as StatusSummary;
    expect(summary).toMatchObject({
      name,
      namespace,
      phase: 'Progressing',
      strategy: 'Canary',
      canaryWeight: 20,
      steps: { reached: 2, total: 5 },
      failedChecks: 1,
      threshold: 3,
      generation: 1,
      observedGeneration: 1,
    });
    expect(summary.metrics[0]).toMatchObject({ value: 98.5, verdict: 'Fail', thresholdRange: { min: 99 } });
  });

  it('shows a Canary the operator has not reconciled yet', async () => {
    const name = await newCanary();
    const { cap, run } = statusCommand();
    expect(await run(name)).toBe(0);
    expect(cap.out()).toContain('Phase:          (none: the operator has not reconciled this Canary yet)');
  });

  it('exits 1 naming the canary when it does not exist', async () => {
    const { cap, run } = statusCommand();
    expect(await run('missing')).toBe(1);
    expect(cap.err()).toContain(`canary "missing" not found in namespace "${namespace}"`);
  });
});

describe('fledge status --watch', () => {
  it('follows the run line by line and exits 0 when it succeeds', async () => {
    const name = await newCanary();
    await setStatus(namespace, name, progressing);
    const { cap, run } = statusCommand();
    const exit = run(name, '--watch', '--timeout', '30s');

    await until(cap.out, (text) => text.includes('Failed checks:'));
    await setStatus(namespace, name, { canaryWeight: 40, failedChecks: 0 });
    await until(cap.out, (text) => text.includes('weight 40%  step 4/5  failed checks 0/3'));
    await setStatus(namespace, name, {
      phase: 'Succeeded',
      canaryWeight: 0,
      conditions: [
        {
          type: 'Promoted',
          status: 'True',
          reason: 'Succeeded',
          message: 'promoted 7f9c4d',
          lastTransitionTime: new Date().toISOString(),
          observedGeneration: 1,
        },
      ],
    });

    expect(await exit).toBe(0);
    const lines = cap.out().split('\n');
    expect(lines.filter((line) => / {2}Progressing {2}weight 40%/.test(line))).toHaveLength(1);
    expect(lines.some((line) => / {2}Succeeded {2}weight 0% .* - promoted 7f9c4d$/.test(line))).toBe(true);
    expect(cap.out()).toMatch(/\nCanary: +\S+\nPhase: +Succeeded for /);
  });

  it('exits 1 with the reason when the run fails, printing JSON lines with -o json', async () => {
    const name = await newCanary();
    await setStatus(namespace, name, progressing);
    const { cap, run } = statusCommand();
    const exit = run(name, '-w', '-o', 'json');

    await until(cap.out, (text) => text.includes('"phase":"Progressing"'));
    await setStatus(namespace, name, {
      phase: 'Failed',
      failedChecks: 3,
      conditions: [
        {
          type: 'Promoted',
          status: 'False',
          reason: 'Failed',
          message: 'rolled back: request-success-rate 97 below 99',
          lastTransitionTime: new Date().toISOString(),
          observedGeneration: 1,
        },
      ],
    });

    expect(await exit).toBe(1);
    const summaries = cap
      .out()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as StatusSummary);
    expect(summaries.map((s) => s.phase)).toEqual(['Progressing', 'Failed']);
    expect(cap.err()).toContain(
      `canary ${namespace}/${name} failed: rolled back: request-success-rate 97 below 99`,
    );
  });

  it('exits 1 after --timeout while the run is still going', async () => {
    const name = await newCanary();
    await setStatus(namespace, name, progressing);
    const { cap, run } = statusCommand();
    expect(await run(name, '--watch', '--timeout', '1s')).toBe(1);
    expect(cap.err()).toContain(
      `timed out after 1s waiting for canary ${namespace}/${name} to finish; last phase: Progressing`,
    );
  });

  it('does not stop on a terminal phase the operator reported before the latest spec change', async () => {
    const name = await newCanary();
    await setStatus(namespace, name, { ...progressing, phase: 'Succeeded' });
    // A spec change bumps metadata.generation past status.observedGeneration.
    await kubectl(integrationEnv().kubeconfigPath, [
      'patch',
      'canary',
      name,
      '-n',
      namespace,
      '--type=merge',
      '-p',
      '{"spec":{"analysis":{"threshold":4}}}',
    ]);
    const { cap, run } = statusCommand();
    const exit = run(name, '--watch', '--timeout', '30s');
    await until(cap.out, (text) => text.includes('Observed:       generation 1 of 2'));
    await setStatus(namespace, name, { phase: 'Progressing', observedGeneration: 2 });
    await until(cap.out, (text) => text.includes('  Progressing  weight 20%'));
    await setStatus(namespace, name, { phase: 'Succeeded' });
    expect(await exit).toBe(0);
  });
});
