import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { MANUAL_CONTROL_ANNOTATIONS, type Canary, type ManualControl, type Phase } from '../api/index.ts';
import { connect, KUBE_FLAGS_HELP, kubeFlagOptions, validateCanaryName } from './canary-client.ts';
import {
  EXIT_FAILED,
  EXIT_OK,
  parseCommandLine,
  processIO,
  runCli,
  singlePositional,
  type CliIO,
} from './cli-support.ts';
import { phasesAccepting } from '../engine/index.ts';
import type { Command } from './command.ts';

// `fledge promote|abort|retry NAME` write a fresh token to the control's
// annotation; `fledge pause|resume NAME` set spec.suspend. The operator decides
// what happens; the CLI only refuses requests the operator would ignore anyway.

/**
 * Phases in which the operator acts on each one-shot control. Must match the
 * engine's rule (src/engine/facts.ts); outside them it ignores the token with a
 * ControlIgnored warning event.
 */
export const CONTROL_PHASES: Readonly<Record<ManualControl, readonly Phase[]>> = {
  promote: phasesAccepting('promote'),
  abort: phasesAccepting('abort'),
  retry: phasesAccepting('retry'),
};

/** What the operator does with each control, for the confirmation message. */
const CONTROL_EFFECT: Readonly<Record<ManualControl, string>> = {
  promote: 'skips the rest of the analysis and any confirmation gate, and promotes once the canary is ready',
  abort: 'routes all traffic back to the primary and ends the run as Failed',
  retry: 'starts a new run of the same revision, without a change to the pod template',
};

/** What the command does, wrapped for --help. */
const CONTROL_HELP: Readonly<Record<ManualControl, string>> = {
  promote: `Promotes a canary now, without waiting for the rest of its analysis. The operator
skips the remaining analysis and any confirmation gate, and promotes as soon as the
canary workload is ready (readiness is never skipped).`,
  abort: `Aborts a canary run: the operator routes all traffic back to the primary and ends
the run as Failed. Acts on a paused canary too.`,
  retry: `Runs a Failed canary again: the operator starts a new run of the same revision, so
no change to the pod template is needed.`,
};

const CONTROL_SUMMARY: Readonly<Record<ManualControl, string>> = {
  promote: 'promote a canary now, skipping the rest of its analysis',
  abort: 'abort a canary run and roll back to the primary',
  retry: 'run a Failed canary again without changing its pod template',
};

/**
 * A fresh, unique value for a control annotation: the time (readable in
 * `kubectl describe`) plus a random suffix, so two requests in the same
 * millisecond still differ.
 */
export function controlToken(now: Date, suffix: string): string {
  return `${now.toISOString()}-${suffix}`;
}

function randomSuffix(): string {
  return randomBytes(4).toString('hex');
}

/** Why `control` makes no sense in `phase`, and what to do instead. */
function phaseHint(control: ManualControl, phase: Phase): string {
  if (phase === 'Terminating' || phase === 'Terminated') return 'the canary is being deleted';
  if (phase === 'Initializing' || phase === 'Initialized') {
    return 'no run is in progress; a new revision of the target starts one';
  }
  switch (control) {
    case 'promote':
      if (phase === 'Promoting' || phase === 'Finalising') return 'the canary is already being promoted';
      if (phase === 'Succeeded')
        return 'the last run already succeeded; a new revision of the target starts a run';
      return 'the run failed; "fledge retry" runs it again';
    case 'abort':
      if (phase === 'Promoting' || phase === 'Finalising') {
        return 'a promotion under way cannot be undone; deploy the previous version to start a new run';
      }
      if (phase === 'Succeeded') return 'nothing to abort; to go back, deploy the previous version';
      return 'the run has already failed and traffic is back on the primary';
    case 'retry':
      return 'retry restarts only a Failed run';
  }
}

/**
 * Undefined when the operator would act on `control` for this Canary; otherwise
 * the reason it would not (the command refuses unless --force).
 */
export function controlRefusal(control: ManualControl, canary: Pick<Canary, 'status'>): string | undefined {
  const phase = canary.status?.phase;
  const where = CONTROL_PHASES[control].join(', ');
  if (phase === undefined) {
    return `the canary has no status.phase yet: the operator has not reconciled it (is it running and watching this namespace?); ${control} acts only in phase ${where}`;
  }
  if (CONTROL_PHASES[control].includes(phase)) return undefined;
  return `the canary is ${phase}: ${control} acts only in phase ${where}; ${phaseHint(control, phase)}`;
}

/** The token of `control` still waiting for the operator, if any. */
export function pendingToken(
  control: ManualControl,
  canary: Pick<Canary, 'metadata' | 'status'>,
): string | undefined {
  const token = canary.metadata.annotations?.[MANUAL_CONTROL_ANNOTATIONS[control]];
  if (token === undefined || token === '') return undefined;
  return canary.status?.handledControls?.[control] === token ? undefined : token;
}

/** The merge patch that requests `control` with `token`. */
export function controlPatch(control: ManualControl, token: string): Record<string, unknown> {
  return { metadata: { annotations: { [MANUAL_CONTROL_ANNOTATIONS[control]]: token } } };
}

function controlUsage(control: ManualControl): string {
  return `Usage: fledge ${control} NAME [flags]

${CONTROL_HELP[control]}

Sets the annotation ${MANUAL_CONTROL_ANNOTATIONS[control]} on the Canary to a fresh token (the time plus
a random suffix); the operator acts once per token. Applies in phase
${CONTROL_PHASES[control].join(', ')}; in other phases the command refuses.

Flags:
  --force                   set the annotation whatever the phase (the operator still ignores
                            it outside those phases, with a ControlIgnored warning event)
${KUBE_FLAGS_HELP}
`;
}

export function createControlCommand(control: ManualControl, options: { io?: CliIO } = {}): Command {
  const io = options.io ?? processIO;
  return {
    summary: CONTROL_SUMMARY[control],
    run: (argv) =>
      runCli(io, control, async () => {
        const { values, positionals } = parseCommandLine(() =>
          parseArgs({
            args: argv,
            options: { ...kubeFlagOptions, force: { type: 'boolean' } },
            strict: true,
            allowPositionals: true,
          }),
        );
        if (values.help) {
          io.stdout(controlUsage(control));
          return EXIT_OK;
        }
        const name = validateCanaryName(singlePositional(positionals, 'NAME (the Canary)'));
        const { client, namespace } = connect(values);
        const canary = await client.get(namespace, name);
        const refusal = controlRefusal(control, canary);
        if (refusal !== undefined && !values.force) {
          io.stderr(
            `fledge ${control}: refusing to ${control} canary ${namespace}/${name}: ${refusal}.\n` +
              'The operator would ignore the request. Pass --force to set it anyway.\n',
          );
          return EXIT_FAILED;
        }
        const replaced = pendingToken(control, canary);
        const token = controlToken(new Date(), randomSuffix());
        await client.mergePatch(namespace, name, controlPatch(control, token));

        const annotation = MANUAL_CONTROL_ANNOTATIONS[control];
        const lines = [
          `${control} requested for canary ${namespace}/${name} (${annotation}=${token}).`,
          `The operator acts once per token: it ${CONTROL_EFFECT[control]}.`,
        ];
        if (refusal !== undefined) lines.push(`Forced: ${refusal}.`);
        if (replaced !== undefined) {
          lines.push(
            `This replaces the earlier request ${replaced}, which the operator had not handled yet.`,
          );
        }
        if (canary.spec.suspend === true) {
          lines.push(
            control === 'abort'
              ? 'The canary is paused (spec.suspend: true); abort acts anyway.'
              : `The canary is paused (spec.suspend: true): the operator acts on this once it is resumed (fledge resume ${name} -n ${namespace}).`,
          );
        }
        lines.push(`Follow it with: fledge status ${name} -n ${namespace} --watch`);
        io.stdout(`${lines.join('\n')}\n`);
        return EXIT_OK;
      }),
  };
}

const SUSPEND_SUMMARY = {
  pause: 'pause a canary in place (spec.suspend: true)',
  resume: 'resume a paused canary (spec.suspend: false)',
} as const;

function suspendUsage(verb: 'pause' | 'resume'): string {
  const effect =
    verb === 'pause'
      ? `Sets spec.suspend: true. The run freezes where it is: weight, step and counters stay, and nothing
advances or rolls back until "fledge resume". "fledge abort" still acts on a paused canary.`
      : 'Sets spec.suspend: false. The operator continues the run from where it stopped.';
  return `Usage: fledge ${verb} NAME [flags]

${effect}

spec.suspend is part of the spec: a GitOps tool (Argo CD, Flux) that syncs this Canary from Git may
set it back. To keep the change, commit "suspend: ${verb === 'pause'}" to the Canary in Git instead.

Flags:
${KUBE_FLAGS_HELP}
`;
}

export function createSuspendCommand(verb: 'pause' | 'resume', options: { io?: CliIO } = {}): Command {
  const io = options.io ?? processIO;
  const suspend = verb === 'pause';
  return {
    summary: SUSPEND_SUMMARY[verb],
    run: (argv) =>
      runCli(io, verb, async () => {
        const { values, positionals } = parseCommandLine(() =>
          parseArgs({ args: argv, options: kubeFlagOptions, strict: true, allowPositionals: true }),
        );
        if (values.help) {
          io.stdout(suspendUsage(verb));
          return EXIT_OK;
        }
        const name = validateCanaryName(singlePositional(positionals, 'NAME (the Canary)'));
        const { client, namespace } = connect(values);
        const canary = await client.get(namespace, name);
        if ((canary.spec.suspend === true) === suspend) {
          io.stdout(
            `canary ${namespace}/${name} is already ${suspend ? 'paused' : 'running'} (spec.suspend: ${suspend}); nothing changed.\n`,
          );
          return EXIT_OK;
        }
        await client.mergePatch(namespace, name, { spec: { suspend } });
        const status = canary.status;
        io.stdout(
          suspend
            ? `paused canary ${namespace}/${name} (spec.suspend: true) in phase ${status?.phase ?? '(none yet)'} at weight ${status?.canaryWeight ?? 0}%.\n` +
                `Nothing advances or rolls back until: fledge resume ${name} -n ${namespace}\n`
            : `resumed canary ${namespace}/${name} (spec.suspend: false): the operator continues the run from where it stopped.\n`,
        );
        io.stderr(
          `warning: spec.suspend is part of the spec: a GitOps tool (Argo CD, Flux) syncing this Canary from Git may set it back.\n` +
            `To keep it ${suspend ? 'paused' : 'running'}, commit "suspend: ${suspend}" to the Canary in Git.\n`,
        );
        return EXIT_OK;
      }),
  };
}

export const promoteCommand = createControlCommand('promote');
export const abortCommand = createControlCommand('abort');
export const retryCommand = createControlCommand('retry');
export const pauseCommand = createSuspendCommand('pause');
export const resumeCommand = createSuspendCommand('resume');
