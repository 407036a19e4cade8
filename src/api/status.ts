import { Type, type Static } from '@sinclair/typebox';

// Canary status: everything a reconcile needs to continue after a restart or a
// leader change lives here. Field names follow Flagger's v1beta1 status so
// dashboards and `kubectl wait --for=condition=promoted` keep working; the
// fields after `conditions` are Fledge's own bookkeeping for the decision core.

export const Phases = [
  'Initializing',
  'Initialized',
  'Waiting',
  'Progressing',
  'WaitingPromotion',
  'Promoting',
  'Finalising',
  'Succeeded',
  'Failed',
  'Terminating',
  'Terminated',
] as const;
export const PhaseSchema = Type.Union(
  Phases.map((p) => Type.Literal(p)),
  { description: 'Where the release is in its lifecycle.' },
);
export type Phase = (typeof Phases)[number];

export const Strategies = ['Canary', 'ABTesting', 'BlueGreen', 'BlueGreenMirroring'] as const;
export type Strategy = (typeof Strategies)[number];

/**
 * The shape of the traffic the canary receives at the current step:
 * None (no production traffic), Mirror (a copy of the primary's traffic),
 * Weighted (canaryWeight percent of all traffic), Matched (the A/B match only).
 */
export const TrafficModes = ['None', 'Mirror', 'Weighted', 'Matched'] as const;
export type TrafficMode = (typeof TrafficModes)[number];

/** What a run is waiting on that the cluster should provide by itself; bounded by progressDeadlineSeconds. */
export const StallReasons = [
  'TargetNotFound',
  'CanaryNotReady',
  'PrimaryNotReady',
  'RoutesNotApplied',
  'ResultsOverdue',
] as const;
export type StallReason = (typeof StallReasons)[number];

/** Webhook types that hold a run until every hook of the type answers with success. */
export const ConfirmationGates = [
  'confirm-rollout',
  'confirm-traffic-increase',
  'confirm-promotion',
] as const;
export type ConfirmationGate = (typeof ConfirmationGates)[number];

export const ConditionSchema = Type.Object({
  type: Type.String({ description: 'Promoted or Ready.' }),
  status: Type.Union([Type.Literal('True'), Type.Literal('False'), Type.Literal('Unknown')]),
  reason: Type.String({ description: 'CamelCase reason for the last transition.' }),
  message: Type.Optional(Type.String()),
  lastTransitionTime: Type.String({ format: 'date-time' }),
  observedGeneration: Type.Optional(Type.Integer({ minimum: 0 })),
});
export type Condition = Static<typeof ConditionSchema>;

export const MetricVerdicts = ['Pass', 'Fail', 'NoData', 'Error'] as const;
export type MetricVerdict = (typeof MetricVerdicts)[number];

export const MetricStatusSchema = Type.Object({
  name: Type.String(),
  query: Type.Optional(Type.String({ description: 'The query as sent to the metric store.' })),
  value: Type.Optional(Type.Number()),
  verdict: Type.Union(MetricVerdicts.map((v) => Type.Literal(v))),
  message: Type.Optional(Type.String()),
  lastMeasuredTime: Type.String({ format: 'date-time' }),
});
export type MetricStatus = Static<typeof MetricStatusSchema>;

export const AnalysisTickSchema = Type.Object(
  {
    number: Type.Integer({
      minimum: 1,
      description: 'Tick number within the run; part of every request id.',
    }),
    startedTime: Type.String({
      format: 'date-time',
      description: 'When the tick began; the next one is due an interval later.',
    }),
    evaluated: Type.Boolean({ description: 'Whether the results of this tick have been judged.' }),
  },
  { description: 'The current analysis tick. Kept in status so a restart keeps the cadence.' },
);
export type AnalysisTick = Static<typeof AnalysisTickSchema>;

export const HandledControlsSchema = Type.Object(
  {
    promote: Type.Optional(Type.String()),
    abort: Type.Optional(Type.String()),
    retry: Type.Optional(Type.String()),
  },
  { description: 'Last token of each fledge.dev/<control> annotation acted on (or ignored with an event).' },
);
export type HandledControls = Static<typeof HandledControlsSchema>;

export const StallSchema = Type.Object(
  {
    reason: Type.Union(StallReasons.map((r) => Type.Literal(r))),
    message: Type.String(),
    since: Type.String({ format: 'date-time' }),
  },
  { description: 'What the run has been waiting on, and since when; cleared once it moves again.' },
);
export type Stall = Static<typeof StallSchema>;

export const PendingConfirmationSchema = Type.Object(
  {
    gate: Type.Union(ConfirmationGates.map((g) => Type.Literal(g))),
    since: Type.String({ format: 'date-time' }),
  },
  { description: 'A confirmation webhook that has held the run at its current step since the given time.' },
);
export type PendingConfirmation = Static<typeof PendingConfirmationSchema>;

export const DecidedEventsSchema = Type.Object(
  {
    decidedTime: Type.String({ format: 'date-time', description: 'When the decision was made.' }),
    events: Type.Array(
      Type.Object({
        reason: Type.String(),
        type: Type.Union([Type.Literal('Normal'), Type.Literal('Warning')]),
        message: Type.String(),
      }),
    ),
  },
  {
    description:
      'The Events of the last decision that recorded any. Written with the decision, so a replica that ' +
      'starts after a crash sends those the crash kept from being written.',
  },
);
export type DecidedEvents = Static<typeof DecidedEventsSchema>;

const Checksums = (description: string) => Type.Record(Type.String(), Type.String(), { description });

export const CanaryStatusSchema = Type.Object({
  phase: Type.Optional(PhaseSchema),
  observedGeneration: Type.Optional(Type.Integer({ minimum: 0 })),
  strategy: Type.Optional(Type.Union(Strategies.map((s) => Type.Literal(s)))),
  canaryWeight: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })),
  failedChecks: Type.Optional(Type.Integer({ minimum: 0 })),
  iterations: Type.Optional(Type.Integer({ minimum: 0 })),
  lastAppliedSpec: Type.Optional(Type.String({ description: 'Revision of the target last acted on.' })),
  lastPromotedSpec: Type.Optional(Type.String({ description: 'Revision last promoted to the primary.' })),
  sourceRevision: Type.Optional(
    Type.String({
      maxLength: 256,
      description:
        "Revision of the source that applied the target of lastAppliedSpec, e.g. the Git commit main@sha1:<hash>: from the target's revision annotation or its Flux Kustomization.",
    }),
  ),
  trackedConfigs: Type.Optional(
    Checksums('Checksums of tracked ConfigMaps and Secrets, keyed configmap/<name> or secret/<name>.'),
  ),
  lastTransitionTime: Type.Optional(Type.String({ format: 'date-time' })),
  sessionAffinityCookie: Type.Optional(Type.String()),
  previousSessionAffinityCookie: Type.Optional(Type.String()),
  primarySessionAffinityCookie: Type.Optional(Type.String()),
  metrics: Type.Optional(Type.Array(MetricStatusSchema, { description: 'Last measurement of each metric.' })),
  conditions: Type.Optional(Type.Array(ConditionSchema)),
  run: Type.Optional(
    Type.Integer({
      minimum: 0,
      description: 'Number of the current or last run; a new revision or a retry starts the next one.',
    }),
  ),
  tick: Type.Optional(AnalysisTickSchema),
  trafficMode: Type.Optional(
    Type.Union(
      TrafficModes.map((m) => Type.Literal(m)),
      { description: 'Traffic the canary receives at the current step: None, Mirror, Weighted or Matched.' },
    ),
  ),
  preRolloutPassed: Type.Optional(
    Type.Boolean({ description: 'Whether the pre-rollout hooks of this run passed.' }),
  ),
  noDataChecks: Type.Optional(
    Type.Record(Type.String(), Type.Integer({ minimum: 0 }), {
      description: 'Per metric: ticks of this run on which it gave no verdict (no data or a provider error).',
    }),
  ),
  pendingConfirmation: Type.Optional(PendingConfirmationSchema),
  stalled: Type.Optional(StallSchema),
  handledControls: Type.Optional(HandledControlsSchema),
  lastPromotedConfigs: Type.Optional(
    Checksums('trackedConfigs as they were when lastPromotedSpec was promoted.'),
  ),
  lastEvents: Type.Optional(DecidedEventsSchema),
});
export type CanaryStatus = Static<typeof CanaryStatusSchema>;

/**
 * How messages name a source revision: the first 7 hex digits of a commit (`main@sha1:3f9c2ab…`, `3f9c2ab…`),
 * or the value itself when it is no commit hash (a tag, a chart version).
 */
export function shortCommit(revision: string): string {
  const hash = /(?:^|[@:])([0-9a-f]{40}|[0-9a-f]{64})$/i.exec(revision);
  return hash ? hash[1]!.slice(0, 7).toLowerCase() : revision;
}
