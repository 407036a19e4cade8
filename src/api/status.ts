import { Type, type Static } from '@sinclair/typebox';

// Canary status: everything a reconcile needs to continue after a restart or a
// leader change lives here. Field names follow Flagger's v1beta1 status so
// dashboards and `kubectl wait --for=condition=promoted` keep working.

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

export const CanaryStatusSchema = Type.Object({
  phase: Type.Optional(PhaseSchema),
  observedGeneration: Type.Optional(Type.Integer({ minimum: 0 })),
  strategy: Type.Optional(Type.Union(Strategies.map((s) => Type.Literal(s)))),
  canaryWeight: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })),
  failedChecks: Type.Optional(Type.Integer({ minimum: 0 })),
  iterations: Type.Optional(Type.Integer({ minimum: 0 })),
  lastAppliedSpec: Type.Optional(Type.String({ description: 'Revision of the target last acted on.' })),
  lastPromotedSpec: Type.Optional(Type.String({ description: 'Revision last promoted to the primary.' })),
  trackedConfigs: Type.Optional(
    Type.Record(Type.String(), Type.String(), {
      description: 'Checksums of tracked ConfigMaps and Secrets, keyed configmap/<name> or secret/<name>.',
    }),
  ),
  lastTransitionTime: Type.Optional(Type.String({ format: 'date-time' })),
  sessionAffinityCookie: Type.Optional(Type.String()),
  previousSessionAffinityCookie: Type.Optional(Type.String()),
  primarySessionAffinityCookie: Type.Optional(Type.String()),
  metrics: Type.Optional(Type.Array(MetricStatusSchema, { description: 'Last measurement of each metric.' })),
  conditions: Type.Optional(Type.Array(ConditionSchema)),
});
export type CanaryStatus = Static<typeof CanaryStatusSchema>;
