import type { KubernetesObject } from '@kubernetes/client-node';
import type { KubeObjectClient } from '../kube/client.ts';
import type { CapabilityFinding } from '../routers/index.ts';
import { describeKubeError, isRetriable } from '../kube/errors.ts';
import type { Logger } from '../telemetry/logger.ts';

// Which revision of its source (a Git commit) applied a target, so a run's status, events, alerts and
// `fledge status` can name it. First the target's own revision annotation (--revision-annotation), set by
// whatever renders the manifests; then, for a target Flux's kustomize-controller applied (it labels
// every object it applies with its Kustomization's name and namespace, and stamps no revision on them),
// the revision that Kustomization is applying. A source that cannot be read is not a reason to hold a
// release, so its problem is reported in Ready (and a Warning event) while the run goes on without a commit.

export const FLUX_NAME_LABEL = 'kustomize.toolkit.fluxcd.io/name';
export const FLUX_NAMESPACE_LABEL = 'kustomize.toolkit.fluxcd.io/namespace';
export const KUSTOMIZATION_API_VERSION = 'kustomize.toolkit.fluxcd.io/v1';

/** What status.sourceRevision accepts: printable, no spaces, at most 256 characters. */
const REVISION = /^[\x21-\x7e]{1,256}$/;

interface Kustomization extends KubernetesObject {
  status?: { lastAttemptedRevision?: string; lastAppliedRevision?: string };
}

export interface TargetMetadata {
  labels: Readonly<Record<string, string>>;
  annotations: Readonly<Record<string, string>>;
}

export interface SourceRevisionDeps {
  client: Pick<KubeObjectClient, 'get'>;
  /** The annotation key users set the revision in (`fledge.dev/revision` by default). */
  annotation: string;
  log: Logger;
}

export class SourceRevisions {
  readonly #deps: SourceRevisionDeps;
  /** Per Canary key: what Flux said for one pod template revision of the target, so it is asked once per change. */
  readonly #read = new Map<string, { targetRevision: string; value: string | undefined }>();
  /** Per Canary key: the problem of the last read, logged once and reported until a read has none. */
  readonly #problems = new Map<string, string>();

  constructor(deps: SourceRevisionDeps) {
    this.#deps = deps;
  }

  /**
   * The source revision of a target whose pod template has revision `targetRevision`, or undefined when
   * the target names none or it cannot be read (never a guess; `problems` then says why).
   */
  async read(key: string, targetRevision: string, target: TargetMetadata): Promise<string | undefined> {
    const annotated = target.annotations[this.#deps.annotation];
    if (annotated !== undefined) {
      const checked = this.#checked(annotated, `annotation ${this.#deps.annotation}`);
      this.#report(key, checked.problem);
      return checked.value;
    }
    const name = target.labels[FLUX_NAME_LABEL];
    const namespace = target.labels[FLUX_NAMESPACE_LABEL];
    if (!name || !namespace) {
      this.#report(key, undefined);
      return undefined;
    }
    const known = this.#read.get(key);
    if (known?.targetRevision === targetRevision) return known.value;
    const where = `Kustomization ${namespace}/${name}`;
    let checked: { value?: string; problem?: string } = {};
    try {
      const kustomization = await this.#deps.client.get<Kustomization>({
        apiVersion: KUSTOMIZATION_API_VERSION,
        kind: 'Kustomization',
        namespace,
        name,
      });
      // Patched before kustomize-controller applies anything, so it already names the commit whose
      // apply changed the target; lastAppliedRevision follows only after the apply and its health checks.
      const attempted = kustomization.status?.lastAttemptedRevision;
      if (attempted !== undefined) checked = this.#checked(attempted, where);
    } catch (error) {
      // A missing CRD, a 403 (e.g. a Role limited to the watched namespace) or a gone Kustomization:
      // the run names no commit. A transient error is asked again on the next reconcile.
      this.#report(
        key,
        `${where} not read (${describeKubeError(error)}): let Fledge get kustomizations.kustomize.toolkit.fluxcd.io ` +
          `there, or set the target's ${this.#deps.annotation} annotation`,
      );
      if (!isRetriable(error)) this.#read.set(key, { targetRevision, value: undefined });
      return undefined;
    }
    this.#report(key, checked.problem);
    this.#read.set(key, { targetRevision, value: checked.value });
    return checked.value;
  }

  /** Why the last read of `key` named no commit, as a finding for Ready; none when it had no problem. */
  problems(key: string): CapabilityFinding[] {
    const problem = this.#problems.get(key);
    return problem === undefined
      ? []
      : [{ field: 'status.sourceRevision', message: `no commit recorded: ${problem}` }];
  }

  forget(key: string): void {
    this.#read.delete(key);
    this.#problems.delete(key);
  }

  #checked(revision: string, where: string): { value?: string; problem?: string } {
    const value = revision.trim();
    if (REVISION.test(value)) return { value };
    return {
      problem: `${where}: ignoring a source revision that is not 1 to 256 printable characters without spaces`,
    };
  }

  /** Records the problem of the latest read (none clears it); each new one is logged once. */
  #report(key: string, problem: string | undefined): void {
    if (this.#problems.get(key) === problem) return;
    if (problem === undefined) {
      this.#problems.delete(key);
      return;
    }
    this.#problems.set(key, problem);
    this.#deps.log.warn({ canary: key, problem }, 'source revision not recorded');
  }
}
