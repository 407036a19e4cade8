import type {
  ABMatch,
  CanaryStatus,
  NormalizedCanarySpec,
  NormalizedMetric,
  NormalizedWebhook,
  Phase,
  WebhookType,
} from '../api/index.ts';
import type { Measurement } from '../analysis/index.ts';
import type { AlertMessage } from '../notifiers/message.ts';

// The decision core's contract with the controller: what it is given, and what
// it asks for. Everything here is plain data so a decision can be logged,
// replayed and compared.

/** The Canary as the engine reads it. */
export interface CanaryInput {
  metadata: {
    name: string;
    namespace: string;
    /** Part of every request id, so a re-created Canary never reads an old object's results. */
    uid: string;
    generation: number;
    annotations?: Readonly<Record<string, string>>;
    deletionTimestamp?: string;
  };
  /** The spec after `normalizeCanary`: every default explicit, deprecated aliases mapped. */
  spec: NormalizedCanarySpec;
  status: CanaryStatus;
}

/**
 * Whether a workload serves: `ready` means every replica the readiness threshold asks for
 * runs the current pod template (observedGeneration caught up). A workload scaled to zero
 * is not ready. `retriable: false` means waiting cannot help (e.g. the Deployment reported
 * ProgressDeadlineExceeded).
 */
export interface Readiness {
  ready: boolean;
  message: string;
  retriable: boolean;
}

/** The workload under release (the user's Deployment or DaemonSet), which Fledge runs as the canary. */
export type TargetObservation =
  | { exists: false }
  | {
      exists: true;
      /** Opaque hash of the pod template. */
      revision: string;
      /** Checksums of the ConfigMaps and Secrets the template uses, keyed configmap/<name> or secret/<name>. */
      configs: Readonly<Record<string, string>>;
      ready: Readiness;
      /**
       * The revision of the source that applied the target (e.g. `main@sha1:<hash>`), when it names one:
       * recorded in status when a run begins and named in that run's events and alerts.
       */
      sourceRevision?: string;
    };

/** The `<target>-primary` workload that serves the stable version. */
export type PrimaryObservation =
  | { exists: false }
  | {
      exists: true;
      ready: Readiness;
      /**
       * The `stamp` of the last initialise or promote action applied to the primary, read back
       * from the annotation the controller writes with it; absent when there is none. It tells
       * a primary that has rolled out a promotion apart from a stale read of the old one.
       */
      stamp?: string;
    };

/** Weights as read back from the router; for A/B testing, those of the matched route. */
export interface ObservedRoutes {
  primaryWeight: number;
  canaryWeight: number;
  mirrored: boolean;
}

/** The outcome of one webhook request (`ok` means an HTTP status of at most 202). */
export interface HookResult {
  name: string;
  type: WebhookType;
  ok: boolean;
  status?: number;
  message: string;
}

export interface Observations {
  target: TargetObservation;
  primary: PrimaryObservation;
  /** Undefined while the router has not applied or accepted the routing objects. */
  routes: ObservedRoutes | undefined;
  /** Results of earlier `runHook` actions, keyed by request id. */
  hookResults: Readonly<Record<string, HookResult>>;
  /** Results of earlier `measure` actions, keyed by request id. */
  metricResults: Readonly<Record<string, Measurement>>;
}

export interface DecisionInput {
  canary: CanaryInput;
  observed: Observations;
  /** The injected clock. */
  now: Date;
  /** Operator-wide cluster name, copied into alerts. */
  clusterName: string;
}

/** Routes as the engine wants them; the router owns everything else about the routing objects. */
export interface RouteSpec {
  primaryWeight: number;
  canaryWeight: number;
  mirror: boolean;
  /** Percent of traffic mirrored when `mirror` is set. */
  mirrorWeight?: number;
  /** A/B testing: the weights apply only to requests matching one of these. */
  match?: ABMatch[];
  /** Cookie values (`name=value`) for session affinity; the router reads the cookie attributes from the spec. */
  sessionAffinity?: { cookie?: string; previousCookie?: string; primaryCookie?: string };
}

/**
 * What the engine asks the controller to do. All but `event`, `alert` and the
 * fire-and-forget hooks are level-triggered: they are repeated on every decision
 * until the observations show them done, so each must be idempotent.
 */
export type Action =
  /** Create or update the primary workload (a copy of the target's template and configs) and the primary and canary Services, and stamp the primary with `stamp`. */
  | { kind: 'initialise'; stamp: string }
  /** Scale the target up (resume its autoscaler; replicas from the primary) or to zero (pause its autoscaler). */
  | { kind: 'scaleCanary'; to: 'up' | 'zero' }
  /** Create the routing objects if needed and set these weights. */
  | { kind: 'setRoutes'; routes: RouteSpec }
  /** Copy the target's template and configs to the primary and stamp it with `stamp`. */
  | { kind: 'promote'; stamp: string; revision: string }
  /**
   * POST the webhook payload. `id` is stable across restarts; the controller runs each id once
   * and feeds the result back in `hookResults` (except for post-rollout hooks). Event hooks are no
   * runHook: the controller sends them with the `event` action's Event.
   */
  | { kind: 'runHook'; id: string; webhook: NormalizedWebhook; phase: Phase }
  /** Measure a metric; the result comes back in `metricResults` under `id`. */
  | { kind: 'measure'; id: string; metric: NormalizedMetric }
  | { kind: 'alert'; message: AlertMessage }
  /** Record a Kubernetes Event on the Canary. */
  | { kind: 'event'; reason: EventReason; type: 'Normal' | 'Warning'; message: string }
  /** Canary deletion, first step: scale the target back up to the primary's replicas. */
  | { kind: 'revert' }
  /**
   * Canary deletion, last step: hand the routing object and the apex Service back to the target
   * (with revertOnDeletion they outlive the Canary), then drop the finalizer so the primary goes.
   */
  | { kind: 'finalise' };

export type ActionKind = Action['kind'];

export interface Decision {
  /** The complete next status; send `statusMergePatch(previous, status)` as one merge patch to /status. */
  status: CanaryStatus;
  /** In order. Apply the status patch first: every state-changing action is repeated until observed done. */
  actions: Action[];
  /** When to decide again even if nothing changes; undefined when only a change can move the canary. */
  requeueAfterMs: number | undefined;
  /** Request ids whose results the engine still needs; results under any other id can be discarded. */
  awaiting: string[];
  /** Ids of the transition-table rows that fired, in order. */
  transitions: string[];
}

export const EventReasons = [
  'Initialized',
  'InitializationRestarted',
  'NewRevision',
  'AnalysisRestarted',
  'RevisionReverted',
  'RolloutConfirmed',
  'ConfirmationSkipped',
  'AwaitingConfirmation',
  'StepAdvanced',
  'CheckFailed',
  'AnalysisHalted',
  'PromotionStarted',
  'PromotionAdvanced',
  'Promoted',
  'RolledBack',
  'PromotionFailed',
  'ControlIgnored',
  'Terminating',
  'Terminated',
] as const;
export type EventReason = (typeof EventReasons)[number];
