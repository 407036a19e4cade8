// Public surface of the decision core: the controller calls `decide` once per
// reconcile, sends `statusMergePatch(previous, decision.status)` to /status,
// then carries out `decision.actions`.
export { decide } from './decide.ts';
export { statusMergePatch, type MergePatch } from './patch.ts';
export { TRANSITIONS, type Target, type Transition } from './transitions.ts';
export { guards, type GuardName } from './guards.ts';
export { effects, type EffectName } from './effects.ts';
export { planFor, canaryWeights, stampOf, type Plan, type Stage } from './strategy.ts';
export { phasesAccepting } from './facts.ts';
export {
  EventReasons,
  type Action,
  type ActionKind,
  type CanaryInput,
  type Decision,
  type DecisionInput,
  type EventReason,
  type HookResult,
  type ObservedRoutes,
  type Observations,
  type PrimaryObservation,
  type Readiness,
  type RouteSpec,
  type TargetObservation,
} from './types.ts';
