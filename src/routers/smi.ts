import { MANAGE_VERBS } from '../kube/rbac.ts';
import { NO_ROUTING_FIELDS, type RouterDeclaration } from './declaration.ts';
import { RouterConfigError } from './router.ts';
import {
  AB_VERSION,
  SPECS_GROUP,
  SPLIT_GROUP,
  TrafficSplitRouter,
  checkSplitExpressible,
  type SmiVersion,
} from './trafficsplit.ts';

// A mesh that implements the Service Mesh Interface: a TrafficSplit in the version the
// provider names (Flagger's smi:v1alphaN). A/B testing needs v1alpha3, the first version
// whose split matches requests (an HTTPRouteGroup); it is refused for the others. Which
// mesh serves it is unknown, so it has no builtin metrics.

const VERSIONS: Readonly<Record<string, SmiVersion>> = {
  'smi:v1alpha1': 'v1alpha1',
  'smi:v1alpha2': 'v1alpha2',
  'smi:v1alpha3': 'v1alpha3',
};

/** smi providers whose TrafficSplit cannot match requests (A/B testing is refused for them). */
export const SMI_PROVIDERS_WITHOUT_MATCHES: readonly string[] = Object.keys(VERSIONS).filter(
  (provider) => VERSIONS[provider] !== AB_VERSION,
);

/** The TrafficSplit version an smi provider string names. */
export function smiVersionOf(provider: string | undefined): SmiVersion {
  const version = provider === undefined ? undefined : VERSIONS[provider];
  if (version === undefined) {
    throw new RouterConfigError(
      `spec.provider "${provider ?? ''}" names no SMI version: use one of ${Object.keys(VERSIONS).join(', ')}`,
      'ProviderUnavailable',
    );
  }
  return version;
}

export const smiRouter: RouterDeclaration = {
  provider: 'smi',
  providers: Object.keys(VERSIONS),
  availability: {
    state: 'available',
    create: (deps) => new TrafficSplitRouter(deps, { provider: 'smi', versionOf: smiVersionOf }),
  },
  objects: `\`TrafficSplit <apex>\` (\`split.smi-spec.io\`, the version the provider names); A/B testing (${AB_VERSION} only): \`HTTPRouteGroup <apex>\``,
  features: ['weighted', 'abTesting', 'blueGreen'],
  ...NO_ROUTING_FIELDS,
  alternatives: `use spec.analysis.stepWeight or iterations; A/B testing needs smi:${AB_VERSION}`,
  checkExpressible: (spec) => checkSplitExpressible(spec, smiVersionOf(spec.provider)),
  permissions: [
    { apiGroup: SPLIT_GROUP, resources: ['trafficsplits'], verbs: MANAGE_VERBS },
    { apiGroup: SPECS_GROUP, resources: ['httproutegroups'], verbs: MANAGE_VERBS },
  ],
  // No crds: smi-sdk-go v0.5.0 ships apiextensions v1beta1 CRDs (removed in Kubernetes 1.22)
  // serving only v1alpha4. The tests install OSM's upstream CRDs (osmRouter.crds) with
  // v1alpha3 served and a v1alpha1 schema written from the SMI spec (test/fixtures/crds).
};
