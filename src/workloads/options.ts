import { GROUP } from '../api/index.ts';

/** Suffix of every object Fledge generates for the stable version: `<name>-primary`. */
export const PRIMARY_SUFFIX = '-primary';

/** Keys under this prefix on a target's pod template belong to Fledge and never make a new revision. */
export const FLEDGE_KEY_PREFIX = `${GROUP}/`;

/**
 * nodeSelector key that scales a DaemonSet to zero: no node carries it, so no
 * pod is scheduled. Left out of the revision hash.
 */
export const SCALE_TO_ZERO_NODE_SELECTOR = `${GROUP}/scale-to-zero`;

/**
 * Pod-template annotation on the primary: a digest of the tracked config
 * checksums, so a promotion that changed only ConfigMap or Secret data still
 * rolls the primary's pods (the references themselves stay `<name>-primary`),
 * while a promotion that changed nothing restarts nothing.
 */
export const CONFIG_DIGEST_ANNOTATION = `${GROUP}/config-digest`;
/** On the primary object: the stamp (revision plus configs) of the content it was last rendered from. */
export const PRIMARY_STAMP_ANNOTATION = `${GROUP}/primary-stamp`;

/** Matching labels Flagger also tries, in this order. */
export const DEFAULT_SELECTOR_LABELS: readonly string[] = ['app', 'name', 'app.kubernetes.io/name'];

export interface WorkloadOptions {
  /**
   * Labels tried, in order, in the target's `spec.selector.matchLabels`; the
   * first one present is the one whose value gets the `-primary` suffix.
   */
  selectorLabels: readonly string[];
  /**
   * Prefixes of the target's labels and annotations copied onto the generated
   * objects. `*` copies all. Default: none, because GitOps tools find the objects
   * they own by labels (Argo CD's app.kubernetes.io/instance, ...), and a copied
   * tracking label would make them prune the primary.
   */
  includeLabelPrefixes: readonly string[];
  /** Copy referenced ConfigMaps and Secrets as `<name>-primary` and report their checksums. Default true. */
  configTracking: boolean;
}

export const defaultWorkloadOptions: WorkloadOptions = {
  selectorLabels: DEFAULT_SELECTOR_LABELS,
  includeLabelPrefixes: [],
  configTracking: true,
};

// A qualified label key: optional DNS-subdomain prefix, then a name of at most 63 characters.
const labelKeyPattern =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

/** Whether `key` is a valid label or annotation key. */
export function isLabelKey(key: string): boolean {
  return labelKeyPattern.test(key);
}

/** Fills in defaults and rejects settings that could only fail later. */
export function resolveWorkloadOptions(options: Partial<WorkloadOptions> = {}): WorkloadOptions {
  const resolved: WorkloadOptions = { ...defaultWorkloadOptions, ...options };
  if (resolved.selectorLabels.length === 0) {
    throw new Error(`selectorLabels must name at least one label, e.g. ${DEFAULT_SELECTOR_LABELS.join(',')}`);
  }
  const invalid = resolved.selectorLabels.filter((label) => !labelKeyPattern.test(label));
  if (invalid.length > 0) {
    throw new Error(
      `selectorLabels has invalid label keys: ${invalid.map((l) => JSON.stringify(l)).join(', ')}`,
    );
  }
  if (resolved.includeLabelPrefixes.some((prefix) => prefix === '')) {
    throw new Error('includeLabelPrefixes must not contain an empty prefix; use "*" to copy every label');
  }
  return resolved;
}

export function primaryName(name: string): string {
  return `${name}${PRIMARY_SUFFIX}`;
}
