import type {
  V1LabelSelector,
  V1PodAffinity,
  V1PodAffinityTerm,
  V1PodAntiAffinity,
  V1PodSpec,
  V1WeightedPodAffinityTerm,
} from '@kubernetes/client-node';
import { WorkloadConfigError } from './errors.ts';
import { PRIMARY_SUFFIX } from './options.ts';

/** The label that tells the target's pods from the primary's: `label=value` versus `label=value-primary`. */
export interface PodSelector {
  label: string;
  value: string;
  primaryValue: string;
}

const maxLabelValueLength = 63;

/**
 * The first of `selectorLabels` present in the workload's matchLabels. Services
 * and the primary's selector are built from it, so a workload without one cannot
 * be released.
 */
export function findPodSelector(
  workload: string,
  matchLabels: Readonly<Record<string, string>> | undefined,
  selectorLabels: readonly string[],
): PodSelector {
  for (const label of selectorLabels) {
    const value = matchLabels?.[label];
    if (value === undefined) continue;
    const primaryValue = `${value}${PRIMARY_SUFFIX}`;
    if (primaryValue.length > maxLabelValueLength) {
      throw new WorkloadConfigError(
        'TargetInvalid',
        `${workload}: selector label ${label}=${value} is too long to take the ${PRIMARY_SUFFIX} suffix ` +
          `(a label value has at most ${maxLabelValueLength} characters); shorten it to ${maxLabelValueLength - PRIMARY_SUFFIX.length} or fewer`,
      );
    }
    return { label, value, primaryValue };
  }
  throw new WorkloadConfigError(
    'TargetInvalid',
    `${workload}: spec.selector.matchLabels has none of the labels ${selectorLabels.join(', ')}; ` +
      `add one of them to the selector and the pod template, or configure the selector labels Fledge looks for`,
  );
}

/**
 * The selector with every reference to the target's pods (`label=value`, in
 * matchLabels or an In/NotIn expression) turned into a reference to the
 * primary's pods. References to other pods are kept as they are.
 */
export function rewriteLabelSelector(selector: V1LabelSelector, pods: PodSelector): V1LabelSelector {
  const rewritten: V1LabelSelector = { ...selector };
  if (selector.matchLabels) {
    rewritten.matchLabels = Object.fromEntries(
      Object.entries(selector.matchLabels).map(([key, value]) => [
        key,
        key === pods.label && value === pods.value ? pods.primaryValue : value,
      ]),
    );
  }
  if (selector.matchExpressions) {
    rewritten.matchExpressions = selector.matchExpressions.map((expression) =>
      expression.key === pods.label && expression.values
        ? {
            ...expression,
            values: expression.values.map((value) => (value === pods.value ? pods.primaryValue : value)),
          }
        : expression,
    );
  }
  return rewritten;
}

/**
 * The pod spec with the same rewrite applied to pod affinity, pod anti-affinity
 * and topology spread constraints: a target spreading away from its own pods
 * becomes a primary spreading away from the primary's pods.
 */
export function rewritePodSpecSelectors(spec: V1PodSpec, pods: PodSelector): V1PodSpec {
  const rewritten: V1PodSpec = { ...spec };
  const affinity = spec.affinity;
  if (affinity && (affinity.podAffinity || affinity.podAntiAffinity)) {
    rewritten.affinity = { ...affinity };
    if (affinity.podAffinity) rewritten.affinity.podAffinity = rewriteAffinity(affinity.podAffinity, pods);
    if (affinity.podAntiAffinity)
      rewritten.affinity.podAntiAffinity = rewriteAffinity(affinity.podAntiAffinity, pods);
  }
  if (spec.topologySpreadConstraints) {
    rewritten.topologySpreadConstraints = spec.topologySpreadConstraints.map((constraint) =>
      constraint.labelSelector
        ? { ...constraint, labelSelector: rewriteLabelSelector(constraint.labelSelector, pods) }
        : constraint,
    );
  }
  return rewritten;
}

function rewriteAffinity<T extends V1PodAffinity | V1PodAntiAffinity>(affinity: T, pods: PodSelector): T {
  const term = (t: V1PodAffinityTerm): V1PodAffinityTerm =>
    t.labelSelector ? { ...t, labelSelector: rewriteLabelSelector(t.labelSelector, pods) } : t;
  const weighted = (t: V1WeightedPodAffinityTerm): V1WeightedPodAffinityTerm => ({
    ...t,
    podAffinityTerm: term(t.podAffinityTerm),
  });
  const rewritten = { ...affinity };
  if (affinity.requiredDuringSchedulingIgnoredDuringExecution) {
    rewritten.requiredDuringSchedulingIgnoredDuringExecution =
      affinity.requiredDuringSchedulingIgnoredDuringExecution.map(term);
  }
  if (affinity.preferredDuringSchedulingIgnoredDuringExecution) {
    rewritten.preferredDuringSchedulingIgnoredDuringExecution =
      affinity.preferredDuringSchedulingIgnoredDuringExecution.map(weighted);
  }
  return rewritten;
}
