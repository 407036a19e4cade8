import type { NormalizedCanarySpec, NormalizedService } from '../api/index.ts';

// What each router can do, as data: the controller checks a Canary against its
// effective provider's entry before a run starts and before any traffic moves,
// so a Canary whose routing Fledge cannot make as written never moves traffic.

/** The traffic shapes a Canary's analysis asks for. */
export type RoutingFeature = 'weighted' | 'abTesting' | 'blueGreen' | 'mirroring' | 'sessionAffinity';

/** spec.service fields only a routing object (VirtualService, HTTPRoute, ...) can carry. */
export const ROUTING_SERVICE_FIELDS = [
  'timeout',
  'backendTimeout',
  'retries',
  'match',
  'rewrite',
  'headers',
  'mirror',
  'corsPolicy',
  'trafficPolicy',
  'gateways',
  'gatewayRefs',
  'hosts',
  'delegation',
  'meshName',
  'backends',
] as const satisfies readonly (keyof NormalizedService)[];
export type RoutingServiceField = (typeof ROUTING_SERVICE_FIELDS)[number];

export interface RouterCapabilities {
  /** Canonical provider name. */
  readonly provider: string;
  /** Traffic shapes the router can make. */
  readonly features: readonly RoutingFeature[];
  /** Routing fields of spec.service the router applies. */
  readonly serviceFields: readonly RoutingServiceField[];
  /**
   * Routing fields of spec.service the router leaves alone and whose absence changes no
   * routing (they name objects of another mesh): reported as ignored, the run proceeds.
   * Every other routing field the router does not apply is refused.
   */
  readonly ignoredServiceFields: readonly RoutingServiceField[];
  /** spec.service fields the router cannot work without (e.g. the Gateways an HTTPRoute attaches to). */
  readonly requiredServiceFields: readonly RoutingServiceField[];
  /** The router's object carries spec.service.match[].name (Istio's HTTPMatchRequest has one). */
  readonly readsMatchNames?: boolean;
  /** What to use instead, said in refusals. */
  readonly alternatives: string;
  /**
   * Pure: throws a RouterConfigError when the router's objects cannot express the spec in
   * detail (a match operator, a filter), found by rendering them without writing anything.
   */
  readonly checkExpressible?: (spec: NormalizedCanarySpec) => void;
}

/** Something the spec asks for that the router cannot do (refused), or that nothing reads (ignored). */
export interface CapabilityFinding {
  /** Path in the Canary, e.g. `spec.analysis.match`. */
  readonly field: string;
  readonly message: string;
}

/** The routing features a spec asks for, with the field that asks. */
export function requestedFeatures(spec: NormalizedCanarySpec): { feature: RoutingFeature; field: string }[] {
  const analysis = spec.analysis;
  const requested: { feature: RoutingFeature; field: string }[] = [];
  if (analysis.iterations === undefined) {
    const field =
      analysis.stepWeights !== undefined
        ? 'spec.analysis.stepWeights'
        : analysis.stepWeight !== undefined
          ? 'spec.analysis.stepWeight'
          : 'spec.analysis (no iterations)';
    requested.push({ feature: 'weighted', field });
  } else if (analysis.match !== undefined && analysis.match.length > 0) {
    requested.push({ feature: 'abTesting', field: 'spec.analysis.match' });
  } else {
    requested.push({ feature: 'blueGreen', field: 'spec.analysis.iterations' });
  }
  if (analysis.mirror) requested.push({ feature: 'mirroring', field: 'spec.analysis.mirror' });
  if (analysis.sessionAffinity !== undefined)
    requested.push({ feature: 'sessionAffinity', field: 'spec.analysis.sessionAffinity' });
  return requested;
}

const featureNames: Readonly<Record<RoutingFeature, string>> = {
  weighted: 'progressive traffic shifting (stepWeight, stepWeights)',
  abTesting: 'A/B testing (routing by request headers or cookies)',
  blueGreen: 'blue/green switching',
  mirroring: 'traffic mirroring',
  sessionAffinity: 'session affinity (cookies)',
};

/** What the router cannot do as written: every finding refuses the Canary. */
export function missingCapabilities(
  spec: NormalizedCanarySpec,
  capabilities: RouterCapabilities,
): CapabilityFinding[] {
  const { provider, alternatives } = capabilities;
  const findings: CapabilityFinding[] = [];
  for (const { feature, field } of requestedFeatures(spec)) {
    if (capabilities.features.includes(feature)) continue;
    findings.push({
      field,
      message: `${field} asks for ${featureNames[feature]}, which provider ${provider} cannot do: ${alternatives}`,
    });
  }
  const service = spec.service;
  if (service !== undefined) {
    const refused = ROUTING_SERVICE_FIELDS.filter(
      (key) =>
        service[key] !== undefined &&
        !capabilities.serviceFields.includes(key) &&
        !capabilities.ignoredServiceFields.includes(key),
    );
    for (const key of refused) {
      findings.push({
        field: `spec.service.${key}`,
        message: `spec.service.${key} is not applied by provider ${provider}: remove it, or set spec.provider to a router that applies it`,
      });
    }
  }
  return findings;
}

/** References the router needs that the spec leaves out: every finding refuses the Canary. */
export function missingReferences(
  spec: NormalizedCanarySpec,
  capabilities: RouterCapabilities,
): CapabilityFinding[] {
  return capabilities.requiredServiceFields
    .filter((key) => {
      const value = spec.service?.[key];
      return value === undefined || (Array.isArray(value) && value.length === 0);
    })
    .map((key) => ({
      field: `spec.service.${key}`,
      message: `provider ${capabilities.provider} needs spec.service.${key}: set it`,
    }));
}

/**
 * Fields the router or nothing in Fledge reads, set in the spec: the run proceeds, and
 * the Ready condition and one event name them.
 */
export function ignoredFields(
  spec: NormalizedCanarySpec,
  capabilities: RouterCapabilities,
): CapabilityFinding[] {
  const { provider } = capabilities;
  const findings: CapabilityFinding[] = [];
  const service = spec.service;
  // Admission refuses it beside another spec.provider; this catches the --mesh-provider default.
  if (spec.upstreamRef !== undefined && provider !== 'gloo') {
    findings.push({
      field: 'spec.upstreamRef',
      message: `spec.upstreamRef is read only by provider gloo, not by provider ${provider}`,
    });
  }
  if (service !== undefined) {
    for (const key of capabilities.ignoredServiceFields) {
      if (service[key] !== undefined)
        findings.push({
          field: `spec.service.${key}`,
          message: `spec.service.${key} is not read by provider ${provider}`,
        });
    }
    if (service.unmanagedMetadata !== undefined) {
      findings.push({
        field: 'spec.service.unmanagedMetadata',
        message: 'spec.service.unmanagedMetadata is not read by Fledge: it leaves no key alone',
      });
    }
    if (capabilities.serviceFields.includes('match') && capabilities.readsMatchNames !== true) {
      (service.match ?? []).forEach((match, i) => {
        if (match.name !== undefined)
          findings.push({
            field: `spec.service.match[${i}].name`,
            message: `spec.service.match[${i}].name is not read by provider ${provider}`,
          });
      });
    }
  }
  return findings;
}
