// Dependency-free, so `fledge status` can tell a refusal from another Ready=False.

/** The Ready=False reasons of a Canary Fledge refuses to act on. */
export const RefusalReasons = [
  /** The spec cannot be read (normalisation failed). */
  'InvalidSpec',
  /** spec.provider (or --mesh-provider) names a router Fledge does not have. */
  'ProviderUnavailable',
  /** The target is of a kind Fledge cannot run (e.g. a Service). */
  'UnsupportedTarget',
  /** The spec asks for routing the effective provider cannot make. */
  'CapabilityMissing',
  /** The target (its selector, labels or ports) is not what Fledge needs. */
  'TargetInvalid',
  /** The target is at zero replicas and has no primary yet: nothing tells the primary's size. */
  'TargetScaledToZero',
  /** A MetricTemplate the analysis names does not exist. */
  'TemplateMissing',
  /** A MetricTemplate names a metric provider type Fledge cannot query. */
  'MetricProviderUnavailable',
  /** A reference the router needs (e.g. spec.service.gatewayRefs) is missing. */
  'RouteRefMissing',
  /** Another Canary, created earlier, already releases the same target. */
  'TargetClaimed',
] as const;
export type RefusalReason = (typeof RefusalReasons)[number];
