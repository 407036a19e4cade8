import { describe, expect, it } from '@jest/globals';
import type { Canary, CanaryAnalysis, CanaryStatus } from '../../../src/api/index.ts';
import {
  age,
  createStatusCommand,
  formatDuration,
  formatRange,
  formatValue,
  isFinished,
  isRefused,
  progressLine,
  renderStatus,
  summarizeCanary,
  table,
} from '../../../src/cli/status.ts';
import { captureIO } from './capture.ts';

const now = new Date('2025-06-01T12:00:00Z');

function canary(
  analysis: CanaryAnalysis,
  status?: CanaryStatus,
  extra: Partial<Canary['spec']> = {},
): Canary {
  return {
    apiVersion: 'fledge.dev/v1beta1',
    kind: 'Canary',
    metadata: { name: 'podinfo', namespace: 'test', generation: 3 },
    spec: {
      provider: 'istio',
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
      analysis,
      ...extra,
    },
    ...(status ? { status } : {}),
  };
}

const progressive: CanaryAnalysis = {
  interval: '1m',
  threshold: 5,
  stepWeight: 20,
  maxWeight: 50,
  metrics: [
    { name: 'request-success-rate', interval: '1m', thresholdRange: { min: 99 } },
    { name: 'request-duration', interval: '1m', thresholdRange: { max: 500 } },
  ],
};

const progressing: CanaryStatus = {
  phase: 'Progressing',
  observedGeneration: 3,
  strategy: 'Canary',
  run: 2,
  lastAppliedSpec: 'abc123',
  canaryWeight: 40,
  trafficMode: 'Weighted',
  failedChecks: 1,
  lastTransitionTime: '2025-06-01T11:56:48Z',
  metrics: [
    {
      name: 'request-success-rate',
      value: 99.87654,
      verdict: 'Pass',
      lastMeasuredTime: '2025-06-01T11:59:50Z',
    },
    {
      name: 'request-duration',
      value: 612,
      verdict: 'Fail',
      message: 'above the maximum 500',
      lastMeasuredTime: '2025-06-01T11:59:50Z',
    },
  ],
  conditions: [
    {
      type: 'Promoted',
      status: 'Unknown',
      reason: 'Progressing',
      message: 'advancing canary weight 40',
      lastTransitionTime: '2025-06-01T11:56:48Z',
    },
  ],
};

describe('summarizeCanary', () => {
  it('places a progressive canary on its weight schedule, clamped to maxWeight', () => {
    const summary = summarizeCanary(canary(progressive, progressing));
    expect(summary).toMatchObject({
      phase: 'Progressing',
      strategy: 'Canary',
      canaryWeight: 40,
      steps: { reached: 2, total: 3, weights: [20, 40, 50] },
      failedChecks: 1,
      threshold: 5,
      run: 2,
      revision: 'abc123',
    });
    expect(summary.iterations).toBeUndefined();
  });

  it('attaches each metric its threshold range from the spec', () => {
    const [success, duration] = summarizeCanary(canary(progressive, progressing)).metrics;
    expect(success).toMatchObject({
      name: 'request-success-rate',
      verdict: 'Pass',
      thresholdRange: { min: 99 },
    });
    expect(duration).toMatchObject({ name: 'request-duration', value: 612, thresholdRange: { max: 500 } });
  });

  it('counts iterations for blue/green, using the default threshold when none is set', () => {
    const summary = summarizeCanary(
      canary(
        { interval: '30s', iterations: 10 },
        { phase: 'Progressing', iterations: 4 },
        { provider: 'kubernetes' },
      ),
    );
    expect(summary).toMatchObject({
      strategy: 'BlueGreen',
      iterations: { done: 4, total: 10 },
      threshold: 1,
    });
    expect(summary.steps).toBeUndefined();
  });

  it('has no phase and step 0 before the operator has reconciled it', () => {
    const summary = summarizeCanary(canary(progressive));
    expect(summary.phase).toBeNull();
    expect(summary.steps).toEqual({ reached: 0, total: 3, weights: [20, 40, 50] });
    expect(renderStatus(summary, now)).toContain('the operator has not reconciled this Canary yet');
  });

  it('lists control tokens the operator has not handled yet', () => {
    const annotated = canary(progressive, { ...progressing, handledControls: { abort: 'old' } });
    annotated.metadata.annotations = { 'fledge.dev/promote': 'new', 'fledge.dev/abort': 'old' };
    expect(summarizeCanary(annotated).pendingControls).toEqual({ promote: 'new' });
  });

  it('reports a spec it cannot read instead of failing the whole status', () => {
    const broken = canary({ interval: '1m' }, progressing);
    const summary = summarizeCanary(broken);
    expect(summary.specProblem).toContain('stepWeight');
    expect(summary.strategy).toBe('Canary');
    expect(summary.threshold).toBeUndefined();
    expect(renderStatus(summary, now)).toContain('Spec:           cannot be read:');
  });
});

describe('a refused Canary', () => {
  const refusedStatus: CanaryStatus = {
    conditions: [
      {
        type: 'Ready',
        status: 'False',
        reason: 'CapabilityMissing',
        message: 'spec.analysis.match asks for A/B testing, which provider kubernetes cannot do',
        lastTransitionTime: '2025-06-01T11:59:00Z',
        observedGeneration: 1,
      },
    ],
  };

  it('says why, instead of waiting for a first reconcile', () => {
    const refused = canary(progressive, refusedStatus);
    refused.metadata.generation = 1;
    const summary = summarizeCanary(refused);
    expect(summary.refused).toMatchObject({ reason: 'CapabilityMissing' });
    expect(isRefused(summary)).toBe(true);
    const text = renderStatus(summary, now);
    expect(text).toContain('Phase:          (none: the operator refuses this Canary as written)');
    expect(text).toContain('Refused:        CapabilityMissing: spec.analysis.match asks for A/B testing');
    expect(progressLine(summary)).toContain('refused: CapabilityMissing');
  });

  it('is not refused once the spec changed after the refusal', () => {
    const changed = canary(progressive, refusedStatus);
    changed.metadata.generation = 2;
    expect(isRefused(summarizeCanary(changed))).toBe(false);
  });

  it('is not a refusal when Ready is False for a failed run', () => {
    const failed = canary(progressive, {
      conditions: [
        { type: 'Ready', status: 'False', reason: 'Failed', message: 'x', lastTransitionTime: '' },
      ],
    });
    expect(summarizeCanary(failed).refused).toBeUndefined();
  });
});

describe('what a run goes on without', () => {
  it('has its own line, from the end of the Ready message', () => {
    const missing =
      'spec.analysis.alerts[0].providerRef: AlertProvider test/pager not found, so alert on-call is not sent: ' +
      'create it, or fix spec.analysis.alerts[0].providerRef';
    const summary = summarizeCanary(
      canary(progressive, {
        phase: 'Initialized',
        conditions: [
          {
            type: 'Ready',
            status: 'True',
            reason: 'Initialized',
            message: `Deployment initialization completed.; ignored: ${missing}`,
            lastTransitionTime: '2025-06-01T11:59:00Z',
          },
        ],
      }),
    );
    expect(summary.ignored).toBe(missing);
    expect(renderStatus(summary, now)).toContain(`Ignored:        ${missing} (the run goes on without it)`);
    expect(summarizeCanary(canary(progressive, progressing)).ignored).toBeUndefined();
  });
});

describe('isFinished', () => {
  it('is true for Succeeded and Failed once the status is about the current generation', () => {
    for (const phase of ['Succeeded', 'Failed'] as const) {
      expect(isFinished(summarizeCanary(canary(progressive, { ...progressing, phase })))).toBe(true);
    }
  });

  it('is false while the run is active', () => {
    for (const phase of ['Initializing', 'Waiting', 'Progressing', 'Promoting', 'Finalising'] as const) {
      expect(isFinished(summarizeCanary(canary(progressive, { ...progressing, phase })))).toBe(false);
    }
  });

  it('is false for a terminal phase left over from before the latest spec change', () => {
    const stale = summarizeCanary(
      canary(progressive, { ...progressing, phase: 'Succeeded', observedGeneration: 2 }),
    );
    expect(isFinished(stale)).toBe(false);
    expect(progressLine(stale)).toContain('status behind spec');
  });
});

describe('renderStatus', () => {
  it('names the commit that applied the target of the run', () => {
    const sourceRevision = `main@sha1:${'3f9c2ab'.padEnd(40, '0')}`;
    const summary = summarizeCanary(canary(progressive, { ...progressing, sourceRevision }));
    expect(summary.sourceRevision).toBe(sourceRevision);
    const lines = renderStatus(summary, now).split('\n');
    expect(lines.slice(3, 5)).toEqual([
      'Run:            2 (revision abc123)',
      `Commit:         3f9c2ab (${sourceRevision})`,
    ]);
  });

  it('shows phase with its age, the schedule, checks against the threshold, metrics and conditions', () => {
    const text = renderStatus(summarizeCanary(canary(progressive, progressing)), now);
    expect(text.split('\n')).toEqual([
      'Canary:         test/podinfo',
      'Phase:          Progressing for 3m12s (since 2025-06-01T11:56:48Z)',
      'Strategy:       Canary',
      'Run:            2 (revision abc123)',
      'Weight:         40% (step 2 of 3: 20, 40, 50)',
      'Traffic:        Weighted',
      'Failed checks:  1 (rolls back at 5)',
      'Metrics:',
      '  NAME                  VALUE   THRESHOLD  VERDICT  MEASURED  MESSAGE',
      '  request-success-rate  99.877  >= 99      Pass     10s ago',
      '  request-duration      612     <= 500     Fail     10s ago   above the maximum 500',
      'Conditions:',
      '  TYPE      STATUS   REASON       CHANGED    MESSAGE',
      '  Promoted  Unknown  Progressing  3m12s ago  advancing canary weight 40',
      '',
    ]);
  });

  it('explains a paused canary, a stall, a confirmation gate and a pending control', () => {
    const held = canary(
      progressive,
      {
        ...progressing,
        stalled: { reason: 'CanaryNotReady', message: '1 of 2 pods ready', since: '2025-06-01T11:58:00Z' },
        pendingConfirmation: { gate: 'confirm-promotion', since: '2025-06-01T11:00:00Z' },
      },
      { suspend: true },
    );
    held.metadata.annotations = { 'fledge.dev/abort': 'tok' };
    const text = renderStatus(summarizeCanary(held), now);
    expect(text).toContain(
      'Paused:         yes (spec.suspend: true); resume with: fledge resume podinfo -n test',
    );
    expect(text).toContain('Waiting on:     CanaryNotReady for 2m: 1 of 2 pods ready');
    expect(text).toContain('Confirmation:   waiting for the confirm-promotion webhooks for 1h');
    expect(text).toContain('Requested:      abort (token tok), not yet handled by the operator');
  });

  it('says when the status lags behind the spec', () => {
    const text = renderStatus(
      summarizeCanary(canary(progressive, { ...progressing, observedGeneration: 2 })),
      now,
    );
    expect(text).toContain(
      'Observed:       generation 2 of 3: the operator has not processed the latest spec change yet',
    );
  });
});

describe('progressLine', () => {
  it('condenses the position, checks and condition message into one line', () => {
    expect(progressLine(summarizeCanary(canary(progressive, progressing)))).toBe(
      'Progressing  weight 40%  step 2/3  failed checks 1/5  - advancing canary weight 40',
    );
  });

  it('changes when the weight changes, so the watch prints it', () => {
    const before = progressLine(summarizeCanary(canary(progressive, progressing)));
    const after = progressLine(summarizeCanary(canary(progressive, { ...progressing, canaryWeight: 50 })));
    expect(after).not.toBe(before);
    expect(after).toContain('step 3/3');
  });
});

describe('formatting', () => {
  it.each([
    [0, '0s'],
    [45_900, '45s'],
    [60_000, '1m'],
    [192_000, '3m12s'],
    [3_600_000, '1h'],
    [7_500_000, '2h5m'],
    [86_400_000 * 3 + 3_600_000 * 4, '3d4h'],
    [-5_000, '0s'],
  ])('formatDuration(%i) is %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it('ages timestamps and passes through text that is not one', () => {
    expect(age('2025-06-01T11:59:00Z', now)).toBe('1m');
    expect(age('soon', now)).toBe('soon');
  });

  it.each([
    [99, '99'],
    [99.87654, '99.877'],
    [0.00012345678, '0.00012346'],
    [1234567.8, '1234600'],
  ])('formatValue(%d) is %s', (value, text) => {
    expect(formatValue(value)).toBe(text);
  });

  it('shows threshold ranges as bounds', () => {
    expect(formatRange({ min: 99 })).toBe('>= 99');
    expect(formatRange({ max: 500 })).toBe('<= 500');
    expect(formatRange({ min: 1, max: 2.5 })).toBe('1..2.5');
    expect(formatRange(undefined)).toBe('-');
  });

  it('pads every column but the last', () => {
    expect(
      table([
        ['A', 'BBB', 'x'],
        ['CC', 'D', ''],
      ]),
    ).toEqual(['A   BBB  x', 'CC  D']);
  });
});

describe('status on the command line', () => {
  it.each([
    [['--timeout', '5m', 'podinfo'], '--timeout needs --watch'],
    [['podinfo', '-w', '--timeout', 'soon'], '--timeout: "soon" is not a Go duration'],
    [['podinfo', '-w', '--timeout', '0s'], '--timeout "0s" must be longer than zero'],
    [['podinfo', '-o', 'yaml'], '-o/--output "yaml" is not supported: use text or json'],
    [['podinfo', '--watch=yes'], "Option '-w, --watch' does not take an argument"],
    [[], 'missing NAME'],
  ])('%j is a usage error', async (argv, message) => {
    const cap = captureIO();
    expect(await createStatusCommand({ io: cap.io }).run(argv)).toBe(2);
    expect(cap.err()).toContain(message);
  });

  it('documents the exit codes of --watch', async () => {
    const cap = captureIO();
    expect(await createStatusCommand({ io: cap.io }).run(['--help'])).toBe(0);
    expect(cap.out()).toContain(
      '0 when it Succeeded, 1 when it Failed, the operator refuses it as written, or\n--timeout passed first',
    );
  });
});
