import type { Canary } from '../api/index.ts';
import type { KubeObjectClient } from '../kube/client.ts';
import type { Permission } from '../kube/rbac.ts';
import type { WorkloadOptions } from './options.ts';
import type { Readiness } from './readiness.ts';
import type { PodSelector } from './selector.ts';

// The contract between the controller (which decides when) and a workload kind
// (which knows how). One implementation per kind; see registry.ts.

/** Kinds whose pod template Fledge clones into a primary. */
export type WorkloadKind = 'Deployment' | 'DaemonSet';

/**
 * Everything Fledge knows about one target kind, in that kind's own module; the registry,
 * the operator's RBAC, fledge migrate's notes and the docs are derived from these.
 */
export interface WorkloadDeclaration {
  /** spec.targetRef.kind */
  readonly kind: string;
  /** spec.targetRef.apiVersion */
  readonly apiVersion: string;
  /** How the docs name it, e.g. "Knative `Service`". */
  readonly title: string;
  /** Absent while this version cannot run such a target: the Canary is refused (UnsupportedTarget). */
  readonly create?: (deps: WorkloadDeps) => Workload;
  /** What to do instead, said in the refusal of a kind without an implementation. */
  readonly instead?: string;
  /** API calls the kind's implementation makes (RBAC). */
  readonly permissions: readonly Permission[];
}

export interface ContainerPort {
  container: string;
  name?: string;
  containerPort: number;
  protocol?: string;
}

export type TargetObservation =
  | { exists: false }
  | {
      exists: true;
      /** SHA-256 of the pod template without Fledge's own keys: changes with the template, never with scale. */
      revision: string;
      /** Checksums of the tracked ConfigMaps and Secrets, keyed `configmap/<name>` / `secret/<name>`. */
      configs: Record<string, string>;
      /** Against canaryReadyThreshold; not ready while a required ConfigMap or Secret is missing. */
      ready: Readiness;
      /** Replicas 0 (Deployment) or the scale-to-zero nodeSelector present (DaemonSet). */
      scaledToZero: boolean;
      /**
       * The label that tells target pods (`value`) from primary pods (`primaryValue`), for
       * Services; absent for a kind whose traffic does not reach it through Fledge's Services.
       */
      selector?: PodSelector;
      /** Ports of the pod template's containers, for port discovery. */
      ports: ContainerPort[];
      /** The name the data plane's metrics know the canary by (`{{ route }}`): a Knative revision. */
      route?: string;
      /** The target's own labels and annotations, where the source revision that applied it is read. */
      metadata: { labels: Record<string, string>; annotations: Record<string, string> };
    };

export type PrimaryObservation =
  | { exists: false }
  | {
      exists: true;
      ready: Readiness;
      /** The stamp of the content the primary was last rendered from (see PRIMARY_STAMP_ANNOTATION). */
      stamp?: string;
    };

export interface WorkloadObservation {
  target: TargetObservation;
  primary: PrimaryObservation;
}

/** What the engine analysed; promotion refuses to copy anything else. */
export interface AnalysedRevision {
  revision: string;
  configs: Readonly<Record<string, string>>;
}

/**
 * The target changed between the decision to promote and the promotion: the
 * new content was never analysed. Not a failure: observe again and decide anew.
 */
export class StaleRevisionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StaleRevisionError';
  }
}

export type ScaleDirection = 'up' | 'zero';

/**
 * What the router splits traffic between. `pods`: the apex, `-primary` and `-canary` Services
 * the controller renders from the pod selector. `own`: what the workload keeps itself (a
 * Knative Service's revisions; a core Service target's `-primary` and `-canary` copies).
 */
export type TargetBackends = 'pods' | 'own';

export interface Workload {
  readonly kind: string;
  readonly backends: TargetBackends;
  /** Reads the target, its configs and the primary. Never writes. */
  observe(canary: Canary): Promise<WorkloadObservation>;
  /**
   * Creates `<name>-primary` from the target (with config copies and the
   * autoscaler copy), or re-renders an existing one that was not rendered from
   * the target's current content. The engine asks for this only while
   * initialising, before any analysis; afterwards the primary changes only at
   * promotion. Returns whether it was created.
   */
  initialise(canary: Canary): Promise<{ primaryCreated: boolean }>;
  /**
   * Copies the target's template and tracked configs to the primary and updates
   * the primary's autoscaler. Throws StaleRevisionError when the target or its
   * configs no longer match `analysed`.
   */
  promote(canary: Canary, analysed: AnalysedRevision): Promise<void>;
  /** Before every route change, for `own` backends: brings what the canary side routes to up to date. */
  prepareRoutes?(canary: Canary): Promise<void>;
  /** Scales the target to zero or back up. Idempotent. */
  scaleCanary(canary: Canary, direction: ScaleDirection): Promise<void>;
  /**
   * On Canary deletion: gives the target back at least the primary's capacity
   * and removes what Fledge changed on it. Idempotent and non-blocking: call it
   * until the returned readiness is ready (or not retriable).
   */
  revert(canary: Canary): Promise<Readiness>;
}

export interface WorkloadDeps {
  client: KubeObjectClient;
  options?: Partial<WorkloadOptions>;
  /** Milliseconds since the epoch; default Date.now. */
  now?: () => number;
}

/** A target's labels and annotations, for TargetObservation.metadata. */
export function labelsAndAnnotations(object: {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
}): { labels: Record<string, string>; annotations: Record<string, string> } {
  return { labels: { ...object.metadata?.labels }, annotations: { ...object.metadata?.annotations } };
}
