import type { Canary } from '../api/index.ts';
import { WorkloadConfigError } from './errors.ts';
import { daemonSetTarget } from './daemonset.ts';
import { deploymentTarget } from './deployment.ts';
import { resolveWorkloadOptions } from './options.ts';
import { knativeServiceTarget } from './knative.ts';
import { serviceTarget } from './service-target.ts';
import type { Workload, WorkloadDeclaration, WorkloadDeps } from './workload.ts';

/** Every target kind Fledge knows, one declaration each. A new kind is one line here. */
export const workloadDeclarations: readonly WorkloadDeclaration[] = [
  deploymentTarget,
  daemonSetTarget,
  serviceTarget,
  knativeServiceTarget,
];

/** The targets this version can run, as prose names them (e.g. `Knative Service`). */
export const RunnableTargets: readonly string[] = workloadDeclarations
  .filter((d) => d.create)
  .map((d) => d.title.replaceAll('`', ''));

/** `a, b and c` */
export function listInProse(items: readonly string[]): string {
  return items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items.at(-1) ?? ''}`;
}

/** The declaration for a targetRef; undefined for a kind nothing declares. */
export function workloadDeclarationOf(kind: string, apiVersion?: string): WorkloadDeclaration | undefined {
  const ofKind = workloadDeclarations.filter((d) => d.kind === kind);
  return ofKind.find((d) => d.apiVersion === apiVersion) ?? ofKind[0];
}

export interface WorkloadRegistry {
  /** The handler for `kind`; any other kind is an error naming the supported ones. */
  forKind(kind: string, apiVersion?: string): Workload;
  /** The handler for the Canary's spec.targetRef. */
  forCanary(canary: Canary): Workload;
}

export function createWorkloadRegistry(deps: WorkloadDeps): WorkloadRegistry {
  // Validate the options once, up front, rather than on the first Canary.
  const resolved: WorkloadDeps = { ...deps, options: resolveWorkloadOptions(deps.options) };
  const handlers = new Map<WorkloadDeclaration, Workload>();
  const forKind = (kind: string, apiVersion?: string): Workload => {
    const declaration = workloadDeclarationOf(kind, apiVersion);
    if (declaration?.create === undefined) {
      const instead = declaration?.instead ?? 'point targetRef at the Deployment or DaemonSet behind it';
      throw new WorkloadConfigError(
        'UnsupportedTarget',
        `spec.targetRef ${apiVersion === undefined ? '' : `${apiVersion} `}${kind} is not a target Fledge can run; it runs ${listInProse(RunnableTargets)} targets: ${instead}`,
      );
    }
    let handler = handlers.get(declaration);
    if (!handler) {
      handler = declaration.create(resolved);
      handlers.set(declaration, handler);
    }
    return handler;
  };
  return {
    forKind,
    forCanary: (canary) => forKind(canary.spec.targetRef.kind, canary.spec.targetRef.apiVersion),
  };
}
