import { parseArgs } from 'node:util';
import {
  MANUAL_CONTROL_ANNOTATIONS,
  normalizeCanary,
  parseGoDuration,
  shortCommit,
  type Canary,
  type CanaryThresholdRange,
  type Condition,
  type ManualControl,
  type MetricStatus,
  type PendingConfirmation,
  type Phase,
  type Stall,
  type Strategy,
  type TrafficMode,
} from '../api/index.ts';
import { RefusalReasons } from '../controller/refusals.ts';
import { canaryWeights } from '../engine/index.ts';
import { isRetriable } from '../kube/errors.ts';
import {
  CanaryRequestError,
  connect,
  KUBE_FLAGS_HELP,
  kubeFlagOptions,
  validateCanaryName,
  type CanaryClient,
} from './canary-client.ts';
import {
  EXIT_FAILED,
  EXIT_OK,
  parseCommandLine,
  processIO,
  runCli,
  singlePositional,
  UsageError,
  type CliIO,
} from './cli-support.ts';
import type { Command } from './command.ts';
import { pendingToken } from './controls.ts';

// `fledge status NAME`: what a Canary is doing, read from its status and
// explained with its spec (threshold, schedule). `--watch` follows the run to
// its end, so a CI job can wait on a release and fail with it.

export interface SummaryMetric extends MetricStatus {
  /** From the spec, so a value can be read against its bounds. */
  thresholdRange?: CanaryThresholdRange;
}

/** Everything `status` shows, as plain data: the text view renders it, `-o json` prints it. */
export interface StatusSummary {
  name: string;
  namespace: string;
  /** Null until the operator first reconciles the Canary. */
  phase: Phase | null;
  suspended: boolean;
  strategy?: Strategy;
  run?: number;
  /** Revision of the target the current or last run is about. */
  revision?: string;
  /** Revision of the source (the Git commit) that applied that target, when it named one. */
  sourceRevision?: string;
  canaryWeight: number;
  trafficMode?: TrafficMode;
  /** Progressive canary: how many of the weight steps have been reached. */
  steps?: { reached: number; total: number; weights: number[] };
  /** Blue/green and A/B testing: analysed iterations of the configured number. */
  iterations?: { done: number; total: number };
  failedChecks: number;
  /** Failed checks that make the run roll back. */
  threshold?: number;
  lastTransitionTime?: string;
  generation?: number;
  observedGeneration?: number;
  stalled?: Stall;
  pendingConfirmation?: PendingConfirmation;
  /** Control tokens set on the Canary that the operator has not handled yet. */
  pendingControls: Partial<Record<ManualControl, string>>;
  metrics: SummaryMetric[];
  conditions: Condition[];
  /** Set when the spec could not be read; threshold and schedule are then unknown. */
  specProblem?: string;
  /** Set when the operator refuses the Canary as written (Ready=False with a refusal reason). */
  refused?: { reason: string; message: string; observedGeneration?: number };
  /** What the run goes on without (fields the router ignores, alerts with no AlertProvider), from Ready. */
  ignored?: string;
}

export const TERMINAL_PHASES: readonly Phase[] = ['Succeeded', 'Failed'];
const IGNORED_MARK = 'ignored: ';

export function summarizeCanary(canary: Canary): StatusSummary {
  const status = canary.status ?? {};
  const summary: StatusSummary = {
    name: canary.metadata.name ?? '',
    namespace: canary.metadata.namespace ?? '',
    phase: status.phase ?? null,
    suspended: canary.spec.suspend === true,
    // Filled from the spec below; listed here so -o json keeps a readable key order.
    strategy: undefined,
    run: status.run,
    revision: status.lastAppliedSpec,
    sourceRevision: status.sourceRevision,
    canaryWeight: status.canaryWeight ?? 0,
    trafficMode: status.trafficMode,
    steps: undefined,
    iterations: undefined,
    failedChecks: status.failedChecks ?? 0,
    threshold: undefined,
    lastTransitionTime: status.lastTransitionTime,
    generation: canary.metadata.generation,
    observedGeneration: status.observedGeneration,
    stalled: status.stalled,
    pendingConfirmation: status.pendingConfirmation,
    pendingControls: {},
    metrics: [],
    conditions: status.conditions ?? [],
  };
  for (const control of Object.keys(MANUAL_CONTROL_ANNOTATIONS) as ManualControl[]) {
    const token = pendingToken(control, canary);
    if (token !== undefined) summary.pendingControls[control] = token;
  }

  let thresholds = new Map<string, CanaryThresholdRange>();
  try {
    const normalized = normalizeCanary(canary);
    const analysis = normalized.spec.analysis;
    const strategy = status.strategy ?? normalized.strategy;
    const weights = strategy === 'Canary' ? canaryWeights(analysis) : undefined;
    summary.strategy = strategy;
    summary.threshold = analysis.threshold;
    thresholds = new Map(analysis.metrics.map((metric) => [metric.name, metric.thresholdRange]));
    if (weights !== undefined) {
      const reached = weights.filter((weight) => weight <= summary.canaryWeight).length;
      summary.steps = { reached, total: weights.length, weights };
    } else if (analysis.iterations !== undefined) {
      summary.iterations = { done: status.iterations ?? 0, total: analysis.iterations };
    }
  } catch (err) {
    summary.strategy = status.strategy;
    summary.specProblem = (err as Error).message;
  }
  const ready = summary.conditions.find((c) => c.type === 'Ready');
  if (ready?.status === 'False' && (RefusalReasons as readonly string[]).includes(ready.reason)) {
    summary.refused = {
      reason: ready.reason,
      message: ready.message ?? '',
      ...(ready.observedGeneration === undefined ? {} : { observedGeneration: ready.observedGeneration }),
    };
  }
  // The operator appends "ignored: ..." to the Ready message (reconciler.ts, reportIgnored).
  const ignoredAt = ready?.message?.indexOf(IGNORED_MARK) ?? -1;
  if (summary.refused === undefined && ready?.message !== undefined && ignoredAt >= 0)
    summary.ignored = ready.message.slice(ignoredAt + IGNORED_MARK.length);
  summary.metrics = (status.metrics ?? []).map((metric) => {
    const range = thresholds.get(metric.name);
    return range === undefined ? metric : { ...metric, thresholdRange: range };
  });
  return summary;
}

/** Terminal, and about the latest spec (a stale Succeeded must not end a wait). */
export function isFinished(summary: StatusSummary): boolean {
  if (summary.phase === null || !TERMINAL_PHASES.includes(summary.phase)) return false;
  return !isStatusBehind(summary);
}

/** Refused by the operator as the latest spec stands: nothing will move until it changes. */
export function isRefused(summary: StatusSummary): boolean {
  const generation = summary.refused?.observedGeneration;
  return generation !== undefined && (summary.generation === undefined || generation >= summary.generation);
}

function isStatusBehind(summary: StatusSummary): boolean {
  return (
    summary.generation !== undefined &&
    summary.observedGeneration !== undefined &&
    summary.observedGeneration < summary.generation
  );
}

// ------------------------------------------------------------------ text view

/** Kubernetes-style short duration: 45s, 3m12s, 2h5m, 3d4h. */
export function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  const part = (value: number, unit: string) => (value > 0 ? `${value}${unit}` : '');
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${part(seconds % 60, 's')}`;
  if (seconds < 86_400)
    return `${Math.floor(seconds / 3600)}h${part(Math.floor((seconds % 3600) / 60), 'm')}`;
  return `${Math.floor(seconds / 86_400)}d${part(Math.floor((seconds % 86_400) / 3600), 'h')}`;
}

/** How long ago `iso` was; the raw text when it is not a timestamp. */
export function age(iso: string, now: Date): string {
  const at = Date.parse(iso);
  return Number.isNaN(at) ? iso : formatDuration(now.getTime() - at);
}

/** At most five significant digits, without trailing zeros or exponents for everyday values. */
export function formatValue(value: number): string {
  return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(5)));
}

export function formatRange(range: CanaryThresholdRange | undefined): string {
  if (range?.min !== undefined && range.max !== undefined) {
    return `${formatValue(range.min)}..${formatValue(range.max)}`;
  }
  if (range?.min !== undefined) return `>= ${formatValue(range.min)}`;
  if (range?.max !== undefined) return `<= ${formatValue(range.max)}`;
  return '-';
}

/** Left-aligned columns two spaces apart; the last column is not padded. */
export function table(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }
  return rows.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}

function weightText(summary: StatusSummary): string {
  const weight = `${summary.canaryWeight}%`;
  const steps = summary.steps;
  return steps ? `${weight} (step ${steps.reached} of ${steps.total}: ${steps.weights.join(', ')})` : weight;
}

function failedChecksText(summary: StatusSummary): string {
  return summary.threshold === undefined
    ? String(summary.failedChecks)
    : `${summary.failedChecks} (rolls back at ${summary.threshold})`;
}

/** `3f9c2ab (main@sha1:3f9c2ab…)`: the short commit messages use, then the revision in full. */
function commitText(revision: string): string {
  const short = shortCommit(revision);
  return short === revision ? revision : `${short} (${revision})`;
}

export function renderStatus(summary: StatusSummary, now: Date): string {
  const fields: [string, string][] = [];
  const field = (label: string, value: string) => fields.push([`${label}:`, value]);
  const ref = `${summary.name} -n ${summary.namespace}`;

  field('Canary', `${summary.namespace}/${summary.name}`);
  if (summary.phase === null) {
    field(
      'Phase',
      summary.refused === undefined
        ? '(none: the operator has not reconciled this Canary yet)'
        : '(none: the operator refuses this Canary as written)',
    );
  } else {
    const since = summary.lastTransitionTime;
    field(
      'Phase',
      since === undefined ? summary.phase : `${summary.phase} for ${age(since, now)} (since ${since})`,
    );
  }
  if (summary.suspended) field('Paused', `yes (spec.suspend: true); resume with: fledge resume ${ref}`);
  if (summary.strategy !== undefined) field('Strategy', summary.strategy);
  if (summary.run !== undefined) {
    field(
      'Run',
      summary.revision === undefined ? String(summary.run) : `${summary.run} (revision ${summary.revision})`,
    );
  }
  if (summary.sourceRevision !== undefined) field('Commit', commitText(summary.sourceRevision));
  field('Weight', weightText(summary));
  if (summary.iterations !== undefined) {
    field('Iterations', `${summary.iterations.done} of ${summary.iterations.total}`);
  }
  if (summary.trafficMode !== undefined) field('Traffic', summary.trafficMode);
  field('Failed checks', failedChecksText(summary));
  if (summary.stalled !== undefined) {
    const { reason, message, since } = summary.stalled;
    field('Waiting on', `${reason} for ${age(since, now)}: ${message}`);
  }
  if (summary.pendingConfirmation !== undefined) {
    const { gate, since } = summary.pendingConfirmation;
    field('Confirmation', `waiting for the ${gate} webhooks for ${age(since, now)}`);
  }
  for (const [control, token] of Object.entries(summary.pendingControls)) {
    field('Requested', `${control} (token ${token}), not yet handled by the operator`);
  }
  if (isStatusBehind(summary)) {
    field(
      'Observed',
      `generation ${summary.observedGeneration} of ${summary.generation}: the operator has not processed the latest spec change yet`,
    );
  }
  if (summary.specProblem !== undefined) field('Spec', `cannot be read: ${summary.specProblem}`);
  if (summary.refused !== undefined) {
    field(
      'Refused',
      `${summary.refused.reason}: ${summary.refused.message} (nothing moves until this is fixed)`,
    );
  }
  if (summary.ignored !== undefined) field('Ignored', `${summary.ignored} (the run goes on without it)`);

  const lines = table(fields);
  if (summary.metrics.length > 0) {
    lines.push('Metrics:');
    const rows = summary.metrics.map((m) => [
      m.name,
      m.value === undefined ? '-' : formatValue(m.value),
      formatRange(m.thresholdRange),
      m.verdict,
      `${age(m.lastMeasuredTime, now)} ago`,
      m.message ?? '',
    ]);
    lines.push(
      ...table([['NAME', 'VALUE', 'THRESHOLD', 'VERDICT', 'MEASURED', 'MESSAGE'], ...rows]).map(indent),
    );
  }
  if (summary.conditions.length > 0) {
    lines.push('Conditions:');
    const rows = summary.conditions.map((c) => [
      c.type,
      c.status,
      c.reason,
      `${age(c.lastTransitionTime, now)} ago`,
      c.message ?? '',
    ]);
    lines.push(...table([['TYPE', 'STATUS', 'REASON', 'CHANGED', 'MESSAGE'], ...rows]).map(indent));
  }
  return `${lines.join('\n')}\n`;
}

const indent = (line: string) => `  ${line}`;

/** One line per observed change while watching; the same line twice means nothing changed. */
export function progressLine(summary: StatusSummary): string {
  const parts: string[] = [summary.phase ?? '(no phase yet)', `weight ${summary.canaryWeight}%`];
  if (summary.steps !== undefined) parts.push(`step ${summary.steps.reached}/${summary.steps.total}`);
  if (summary.iterations !== undefined) {
    parts.push(`iterations ${summary.iterations.done}/${summary.iterations.total}`);
  }
  parts.push(
    summary.threshold === undefined
      ? `failed checks ${summary.failedChecks}`
      : `failed checks ${summary.failedChecks}/${summary.threshold}`,
  );
  if (summary.suspended) parts.push('paused');
  if (summary.stalled !== undefined) parts.push(`waiting on ${summary.stalled.reason}`);
  if (summary.refused !== undefined) parts.push(`refused: ${summary.refused.reason}`);
  if (summary.pendingConfirmation !== undefined)
    parts.push(`waiting for ${summary.pendingConfirmation.gate}`);
  if (isStatusBehind(summary)) parts.push('status behind spec');
  const promoted = summary.conditions.find((c) => c.type === 'Promoted');
  if (promoted?.message) parts.push(`- ${promoted.message}`);
  return parts.join('  ');
}

// ------------------------------------------------------------------ command

const usage = `Usage: fledge status NAME [flags]

Shows what a Canary is doing: phase, strategy, weight and step (or iterations),
failed checks against the threshold, each metric's last value and verdict, and
the conditions.

With --watch, prints a line for every change and exits when the run ends:
0 when it Succeeded, 1 when it Failed, the operator refuses it as written, or
--timeout passed first.

Flags:
${KUBE_FLAGS_HELP}
  -w, --watch               follow the Canary until phase Succeeded or Failed
  --timeout DURATION        with --watch: give up after this long (Go duration: 90s, 10m, 1h);
                            default: wait until the run ends
  -o, --output FORMAT       text (default) or json (with --watch: one JSON object per line)
`;

const OUTPUT_FORMATS = ['text', 'json'] as const;
type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export interface StatusCommandOptions {
  io?: CliIO;
  /** How often --watch reads the Canary. Default 2 s. */
  pollIntervalMs?: number;
}

export function createStatusCommand(options: StatusCommandOptions = {}): Command {
  const io = options.io ?? processIO;
  const pollIntervalMs = options.pollIntervalMs ?? 2_000;
  return {
    summary: 'show a canary run: phase, weight, checks and metrics (--watch: wait for the end)',
    run: (argv) =>
      runCli(io, 'status', async () => {
        const { values, positionals } = parseCommandLine(() =>
          parseArgs({
            args: argv,
            options: {
              ...kubeFlagOptions,
              watch: { type: 'boolean', short: 'w' },
              timeout: { type: 'string' },
              output: { type: 'string', short: 'o', default: 'text' },
            },
            strict: true,
            allowPositionals: true,
          }),
        );
        if (values.help) {
          io.stdout(usage);
          return EXIT_OK;
        }
        const name = validateCanaryName(singlePositional(positionals, 'NAME (the Canary)'));
        const output = parseOutput(values.output);
        if (values.timeout !== undefined && !values.watch) {
          throw new UsageError('--timeout needs --watch');
        }
        const timeoutMs = values.timeout === undefined ? undefined : parseTimeout(values.timeout);
        const { client, namespace } = connect(values);
        if (!values.watch) {
          const summary = summarizeCanary(await client.get(namespace, name));
          io.stdout(
            output === 'json' ? `${JSON.stringify(summary, null, 2)}\n` : renderStatus(summary, new Date()),
          );
          return EXIT_OK;
        }
        return watch({ io, pollIntervalMs, client, namespace, name, output, timeoutMs });
      }),
  };
}

function parseOutput(value: string): OutputFormat {
  const format = OUTPUT_FORMATS.find((known) => known === value);
  if (format === undefined) {
    throw new UsageError(`-o/--output "${value}" is not supported: use ${OUTPUT_FORMATS.join(' or ')}`);
  }
  return format;
}

function parseTimeout(value: string): number {
  let ms: number;
  try {
    ms = parseGoDuration(value, '--timeout');
  } catch (err) {
    throw new UsageError((err as Error).message, { cause: err });
  }
  if (ms <= 0) throw new UsageError(`--timeout "${value}" must be longer than zero`);
  return ms;
}

interface WatchContext {
  io: CliIO;
  pollIntervalMs: number;
  client: CanaryClient;
  namespace: string;
  name: string;
  output: OutputFormat;
  timeoutMs: number | undefined;
}

async function watch(ctx: WatchContext): Promise<number> {
  const { io, client, namespace, name } = ctx;
  const deadline = ctx.timeoutMs === undefined ? Infinity : Date.now() + ctx.timeoutMs;
  let shown: string | undefined;
  let latest: StatusSummary | undefined;
  let lastError: string | undefined;
  for (;;) {
    let canary: Canary | undefined;
    try {
      canary = await client.get(namespace, name);
      lastError = undefined;
    } catch (err) {
      if (!(err instanceof CanaryRequestError)) throw err;
      if (err.kube.reason === 'NotFound' && latest !== undefined) {
        throw new Error(`canary ${namespace}/${name} was deleted while watching`, { cause: err });
      }
      // A CI job should not fail on one dropped connection: keep trying until the deadline.
      if (!isRetriable(err.kube)) throw err;
      if (err.message !== lastError) io.stderr(`fledge status: ${err.message}; retrying\n`);
      lastError = err.message;
    }
    if (canary !== undefined) {
      const summary = summarizeCanary(canary);
      const finished = isFinished(summary);
      if (ctx.output === 'json') {
        const line = JSON.stringify(summary);
        if (line !== shown) io.stdout(`${line}\n`);
        shown = line;
      } else {
        const line = progressLine(summary);
        if (latest === undefined) io.stdout(renderStatus(summary, new Date()));
        else if (line !== shown) io.stdout(`${new Date().toISOString()}  ${line}\n`);
        if (finished && latest !== undefined) io.stdout(`\n${renderStatus(summary, new Date())}`);
        shown = line;
      }
      latest = summary;
      if (finished) return finish(io, summary);
      if (isRefused(summary)) {
        const { reason, message } = summary.refused ?? { reason: '', message: '' };
        io.stderr(`fledge status: canary ${namespace}/${name} is refused (${reason}): ${message}\n`);
        return EXIT_FAILED;
      }
    }
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      const phase = latest === undefined ? '(never read)' : (latest.phase ?? '(none yet)');
      io.stderr(
        `fledge status: timed out after ${formatDuration(ctx.timeoutMs ?? 0)} waiting for canary ${namespace}/${name} to finish; last phase: ${phase}\n`,
      );
      return EXIT_FAILED;
    }
    await new Promise((wake) => setTimeout(wake, Math.min(ctx.pollIntervalMs, remaining)));
  }
}

function finish(io: CliIO, summary: StatusSummary): number {
  const ref = `${summary.namespace}/${summary.name}`;
  if (summary.phase === 'Succeeded') return EXIT_OK;
  const promoted = summary.conditions.find((c) => c.type === 'Promoted');
  io.stderr(`fledge status: canary ${ref} failed${promoted?.message ? `: ${promoted.message}` : ''}\n`);
  return EXIT_FAILED;
}

export const statusCommand = createStatusCommand();
