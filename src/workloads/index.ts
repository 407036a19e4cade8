// Public surface of the workloads area: how Fledge acts on Deployment and
// DaemonSet targets. The controller imports from here only.
export * from './workload.ts';
export { WorkloadConfigError, type WorkloadRefusal } from './errors.ts';
export { checkNotScaledToZero, checkTargetPort, type TargetShape } from './checks.ts';
export {
  createWorkloadRegistry,
  workloadDeclarations,
  workloadDeclarationOf,
  RunnableTargets,
  type WorkloadRegistry,
} from './registry.ts';
export {
  CONFIG_DIGEST_ANNOTATION,
  PRIMARY_STAMP_ANNOTATION,
  DEFAULT_SELECTOR_LABELS,
  PRIMARY_SUFFIX,
  SCALE_TO_ZERO_NODE_SELECTOR,
  defaultWorkloadOptions,
  isLabelKey,
  primaryName,
  resolveWorkloadOptions,
  type WorkloadOptions,
} from './options.ts';
export type { Readiness } from './readiness.ts';
export type { PodSelector } from './selector.ts';
export { templateRevision } from './revision.ts';
export { configKey, type ConfigKind } from './configs.ts';
