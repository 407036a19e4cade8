import type { KubernetesObject } from '@kubernetes/client-node';
import type { KubeObjectClient } from '../kube/client.ts';
import { describeKubeError, isRetriable } from '../kube/errors.ts';
import type { Logger } from '../telemetry/logger.ts';

// Which revision of its source (a Git commit) applied a target, so a run's status, events, alerts and
// `fledge status` can name it. First the target's own revision annotation (--revision-annotation), set by
// whatever renders the manifests; then, for a target Flux's kustomize-controller applied (it labels
// every object it applies with its Kustomization's name and namespace, and stamps no revision on them),
// the revision that Kustomization is applying.

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
  /** Per Canary key: the last problem logged, so each is logged once. */
  readonly #reported = new Map<string, string>();

  constructor(deps: SourceRevisionDeps) {
    this.#deps = deps;
  }

  /**
   * The source revision of a target whose pod template has revision `targetRevision`, or undefined when
   * the target names none or it cannot be read (never a guess).
   */
  async read(key: string, targetRevision: string, target: TargetMetadata): Promise<string | undefined> {
    const annotated = target.annotations[this.#deps.annotation];
    if (annotated !== undefined) return this.#checked(key, annotated, `annotation ${this.#deps.annotation}`);
    const name = target.labels[FLUX_NAME_LABEL];
    const namespace = target.labels[FLUX_NAMESPACE_LABEL];
    if (!name || !namespace) return undefined;
    const known = this.#read.get(key);
    if (known?.targetRevision === targetRevision) return known.value;
    const where = `Kustomization ${namespace}/${name}`;
    let value: string | undefined;
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
      value = attempted === undefined ? undefined : this.#checked(key, attempted, where);
    } catch (error) {
      // A missing CRD, a 403 (e.g. a Role limited to the watched namespace) or a gone Kustomization:
      // the run names no commit. A transient error is asked again on the next reconcile.
      this.#report(key, `${where} not read: ${describeKubeError(error)}`);
      if (isRetriable(error)) return undefined;
    }
    this.#read.set(key, { targetRevision, value });
    return value;
  }

  forget(key: string): void {
    this.#read.delete(key);
    this.#reported.delete(key);
  }

  #checked(key: string, revision: string, where: string): string | undefined {
    const value = revision.trim();
    if (REVISION.test(value)) return value;
    this.#report(
      key,
      `${where}: ignoring a source revision that is not 1 to 256 printable characters without spaces`,
    );
    return undefined;
  }

  #report(key: string, problem: string): void {
    if (this.#reported.get(key) === problem) return;
    this.#reported.set(key, problem);
    this.#deps.log.warn({ canary: key, problem }, 'source revision not recorded');
  }
}
