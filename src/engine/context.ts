import { cloneJson } from '../api/clone.ts';
import {
  deriveStrategy,
  parseGoDuration,
  type CanaryStatus,
  type NormalizedAnalysis,
  type NormalizedCanarySpec,
  type Phase,
  type Strategy,
} from '../api/index.ts';
import { planFor, type Plan } from './strategy.ts';
import type { Blocker } from './facts.ts';
import type { Evaluation } from './requests.ts';
import type { Action, CanaryInput, DecisionInput, Observations } from './types.ts';

/** Facts about the phase a row fires from, captured before the phase changes, for its effects. */
export interface RowSnapshot {
  /** The judged tick, if the row fired on one. */
  evaluation?: Evaluation;
  /** What the phase was waiting on. */
  blocker?: Blocker;
}

/** The status a decision edits: the counters and lists it maintains are always present. */
export type DraftStatus = CanaryStatus &
  Required<
    Pick<
      CanaryStatus,
      | 'run'
      | 'canaryWeight'
      | 'failedChecks'
      | 'iterations'
      | 'trafficMode'
      | 'noDataChecks'
      | 'metrics'
      | 'conditions'
    >
  >;

function draftOf(status: CanaryStatus): DraftStatus {
  const copy = cloneJson(status);
  return {
    ...copy,
    run: copy.run ?? 0,
    canaryWeight: copy.canaryWeight ?? 0,
    failedChecks: copy.failedChecks ?? 0,
    iterations: copy.iterations ?? 0,
    trafficMode: copy.trafficMode ?? 'None',
    noDataChecks: copy.noDataChecks ?? {},
    metrics: copy.metrics ?? [],
    conditions: copy.conditions ?? [],
  };
}

/**
 * Everything one decision works with. The inputs are read-only; `status` and
 * `actions` are the draft the transition effects build up.
 */
export interface Ctx {
  readonly meta: CanaryInput['metadata'];
  readonly spec: NormalizedCanarySpec;
  readonly analysis: NormalizedAnalysis;
  readonly strategy: Strategy;
  readonly plan: Plan;
  readonly observed: Observations;
  readonly now: number;
  readonly nowIso: string;
  readonly clusterName: string;
  readonly intervalMs: number;
  readonly deadlineMs: number;
  /** The status as read, before any effect of this decision. */
  readonly previous: CanaryStatus;
  status: DraftStatus;
  readonly actions: Action[];
  /** Set before each row fires. */
  snapshot: RowSnapshot;
}

export function createContext(input: DecisionInput): Ctx {
  const { spec, metadata, status } = input.canary;
  const strategy = deriveStrategy(spec.analysis);
  return {
    meta: metadata,
    spec,
    analysis: spec.analysis,
    strategy,
    plan: planFor(strategy, spec.analysis),
    observed: input.observed,
    now: input.now.getTime(),
    nowIso: input.now.toISOString(),
    clusterName: input.clusterName,
    intervalMs: parseGoDuration(spec.analysis.interval, 'spec.analysis.interval'),
    deadlineMs: spec.progressDeadlineSeconds * 1000,
    previous: status,
    status: draftOf(status),
    actions: [],
    snapshot: {},
  };
}

export function phaseOf(ctx: Ctx): Phase {
  return ctx.status.phase ?? 'Initializing';
}

/** Milliseconds since the epoch of an RFC 3339 time written by the engine. */
export function isoMs(iso: string): number {
  return Date.parse(iso);
}
