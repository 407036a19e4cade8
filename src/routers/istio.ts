import { MANAGE_VERBS } from '../kube/rbac.ts';
import type { RouterDeclaration } from './declaration.ts';

// Istio: a VirtualService for the apex host and a DestinationRule each for -primary and
// -canary (Flagger's istio provider). Declared so Flagger manifests apply; no router yet.

const destination =
  'reporter="destination",destination_workload_namespace="{{ namespace }}",destination_workload="{{ target }}"';

export const istioRouter: RouterDeclaration = {
  provider: 'istio',
  providers: ['istio'],
  availability: { state: 'planned' },
  objects:
    '`VirtualService <apex>`, `DestinationRule <apex>-primary` and `<apex>-canary` (`networking.istio.io`)',
  features: ['weighted', 'abTesting', 'blueGreen', 'mirroring', 'sessionAffinity'],
  serviceFields: [
    'timeout',
    'retries',
    'match',
    'rewrite',
    'headers',
    'corsPolicy',
    'trafficPolicy',
    'gateways',
    'hosts',
    'delegation',
  ],
  ignoredServiceFields: [],
  requiredServiceFields: [],
  refs: [],
  alternatives: 'remove the field',
  permissions: [
    {
      apiGroup: 'networking.istio.io',
      resources: ['virtualservices', 'destinationrules'],
      verbs: MANAGE_VERBS,
    },
  ],
  crds: {
    module: 'istio.io/api',
    version: 'v1.32.0',
    paths: ['kubernetes/customresourcedefinitions.gen.yaml'],
  },
  metrics: {
    requests: {
      series: 'istio_requests_total',
      selector: destination,
      successMatcher: 'response_code!~"5.."',
    },
    latency: {
      kind: 'p99',
      buckets: 'istio_request_duration_milliseconds_bucket',
      selector: destination,
      toMilliseconds: 1,
    },
    source: "Istio's standard metrics as reported by the canary workload's sidecar.",
  },
};
