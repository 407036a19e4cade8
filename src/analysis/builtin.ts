import { BuiltinMetrics, type BuiltinMetric } from '../api/index.ts';
import type { TemplateVariables } from './template.ts';

// The builtin checks, per router. Each router is described once (which series
// count the canary's requests, what marks a failed one, where its latency
// lives) and both queries are generated from that, so every router has both
// metrics by construction. They measure what Flagger's observers measure:
//   request-success-rate: percent of the canary's requests that were not 5xx
//                         (NaN, so no data, when there were no requests);
//   request-duration:     the canary's latency in milliseconds, p99 where the
//                         router exports a histogram, else the mean.
// Placeholders are MetricTemplate variables, rendered by template.ts.

export { BuiltinMetrics, type BuiltinMetric };

interface RequestSeries {
  /** Series counting the canary's requests, one increment per request. */
  readonly series: string;
  readonly selector: string;
  /** Extra matcher that keeps only requests that did not fail. */
  readonly successMatcher: string;
}

type LatencySeries =
  | {
      readonly kind: 'p99';
      readonly buckets: string;
      readonly selector: string;
      /** Factor from the histogram's unit to milliseconds. */
      readonly toMilliseconds: number;
    }
  | {
      readonly kind: 'mean';
      /** Series name without the _sum/_count suffix. */
      readonly summary: string;
      readonly selector: string;
      readonly toMilliseconds: number;
    };

export interface RouterMetrics {
  readonly requests: RequestSeries;
  readonly latency: LatencySeries;
  /** Where the series come from and how the canary is picked out (for the docs). */
  readonly source: string;
  /** Rewrites variables first, for routers that mangle object names in labels. */
  readonly prepareVariables?: (vars: TemplateVariables) => TemplateVariables;
}

// Pod names of a Deployment are <name>-<replicaset hash>-<suffix>: this picks
// the canary's pods and not <name>-primary-...
const canaryPodName = '{{ target }}-[0-9a-zA-Z]+-[0-9a-zA-Z]+';

const appInstrumented: RouterMetrics = {
  requests: {
    series: 'http_request_duration_seconds_count',
    selector: `kubernetes_namespace="{{ namespace }}",kubernetes_pod_name=~"${canaryPodName}"`,
    successMatcher: 'status!~"5.."',
  },
  latency: {
    kind: 'p99',
    buckets: 'http_request_duration_seconds_bucket',
    selector: `kubernetes_namespace="{{ namespace }}",kubernetes_pod_name=~"${canaryPodName}"`,
    toMilliseconds: 1000,
  },
  source:
    'The application itself: a `http_request_duration_seconds` histogram with a `status` label, scraped with the `kubernetes_namespace` and `kubernetes_pod_name` target labels.',
};

function envoy(selector: string, source: string): RouterMetrics {
  return {
    requests: { series: 'envoy_cluster_upstream_rq', selector, successMatcher: 'envoy_response_code!~"5.."' },
    latency: { kind: 'p99', buckets: 'envoy_cluster_upstream_rq_time_bucket', selector, toMilliseconds: 1 },
    source,
  };
}

const traefikService = 'service=~"{{ namespace }}-{{ target }}-canary-[0-9a-zA-Z-]+@kubernetescrd"';
const skipperRoute =
  'route=~"kube(ew)?_{{ namespace }}__{{ ingress }}_canary__.*__{{ service }}_canary(_[0-9]+)?"';
const apisixRoute = 'route=~"{{ namespace }}_{{ route }}-{{ target }}-canary_.+"';
const osmDestination =
  'destination_namespace="{{ namespace }}",destination_kind="Deployment",destination_name="{{ target }}"';

export const BuiltinRouters = [
  'kubernetes',
  'gatewayapi',
  'istio',
  'linkerd',
  'nginx',
  'contour',
  'gloo',
  'traefik',
  'skipper',
  'apisix',
  'kuma',
  'osm',
  'appmesh',
  'knative',
] as const;
export type BuiltinRouter = (typeof BuiltinRouters)[number];

export const builtinRouterMetrics: Readonly<Record<BuiltinRouter, RouterMetrics>> = {
  kubernetes: appInstrumented,
  gatewayapi: appInstrumented,
  istio: {
    requests: {
      series: 'istio_requests_total',
      selector:
        'reporter="destination",destination_workload_namespace="{{ namespace }}",destination_workload="{{ target }}"',
      successMatcher: 'response_code!~"5.."',
    },
    latency: {
      kind: 'p99',
      buckets: 'istio_request_duration_milliseconds_bucket',
      selector:
        'reporter="destination",destination_workload_namespace="{{ namespace }}",destination_workload="{{ target }}"',
      toMilliseconds: 1,
    },
    source: "Istio's standard metrics as reported by the canary workload's sidecar.",
  },
  linkerd: {
    requests: {
      series: 'response_total',
      selector: 'namespace="{{ namespace }}",deployment="{{ target }}",direction="inbound"',
      successMatcher: 'classification!="failure"',
    },
    latency: {
      kind: 'p99',
      buckets: 'response_latency_ms_bucket',
      selector: 'namespace="{{ namespace }}",deployment="{{ target }}",direction="inbound"',
      toMilliseconds: 1,
    },
    source:
      "The Linkerd proxy's inbound metrics of the canary Deployment; Linkerd itself classifies failures.",
  },
  nginx: {
    requests: {
      series: 'nginx_ingress_controller_requests',
      selector: 'namespace="{{ namespace }}",ingress="{{ ingress }}",canary!=""',
      successMatcher: 'status!~"5.."',
    },
    latency: {
      kind: 'mean',
      summary: 'nginx_ingress_controller_response_duration_seconds',
      selector: 'namespace="{{ namespace }}",ingress="{{ ingress }}",canary!=""',
      toMilliseconds: 1000,
    },
    source:
      'ingress-nginx metrics of the Canary\'s Ingress (spec.ingressRef); `canary!=""` keeps requests the canary backend served.',
  },
  contour: envoy(
    'envoy_cluster_name=~"{{ namespace }}_{{ target }}-canary_[0-9a-zA-Z-]+"',
    "Envoy cluster metrics from Contour's Envoy; Contour names the canary cluster `<namespace>_<target>-canary_<port>`.",
  ),
  gloo: envoy(
    'envoy_cluster_name=~"{{ namespace }}-{{ target }}-canaryupstream-[0-9a-zA-Z-]+_[0-9a-zA-Z-]+"',
    "Envoy cluster metrics from Gloo's gateway; the canary Upstream is `<namespace>-<target>-canaryupstream-<port>`.",
  ),
  traefik: {
    requests: {
      series: 'traefik_service_request_duration_seconds_bucket',
      selector: `${traefikService},le="+Inf"`,
      successMatcher: 'code!~"5.."',
    },
    latency: {
      kind: 'p99',
      buckets: 'traefik_service_request_duration_seconds_bucket',
      selector: traefikService,
      toMilliseconds: 1000,
    },
    source:
      'Traefik service metrics; the `+Inf` bucket of the duration histogram counts requests. The canary service is `<namespace>-<target>-canary-<port>@kubernetescrd`.',
  },
  skipper: {
    requests: {
      series: 'skipper_response_duration_seconds_bucket',
      selector: `${skipperRoute},le="+Inf"`,
      successMatcher: 'code!~"5.."',
    },
    latency: {
      kind: 'mean',
      summary: 'skipper_serve_route_duration_seconds',
      selector: skipperRoute,
      toMilliseconds: 1000,
    },
    source:
      "Skipper route metrics for the canary backend of the Canary's Ingress. Skipper replaces every non-word character of names with `_` in route ids, and so do these queries.",
    prepareVariables: (vars) => ({
      ...vars,
      name: skipperName(vars.name),
      namespace: skipperName(vars.namespace),
      target: skipperName(vars.target),
      service: skipperName(vars.service),
      ingress: vars.ingress === undefined ? undefined : skipperName(vars.ingress),
    }),
  },
  apisix: {
    requests: { series: 'apisix_http_status', selector: apisixRoute, successMatcher: 'code!~"5.."' },
    latency: {
      kind: 'p99',
      buckets: 'apisix_http_latency_bucket',
      selector: `type="request",${apisixRoute}`,
      toMilliseconds: 1,
    },
    source: "APISIX's Prometheus plugin, for the canary's route generated from spec.routeRef.",
  },
  kuma: envoy(
    'service=~"{{ target }}-canary_{{ namespace }}_svc_[0-9a-zA-Z-]+"',
    "Envoy metrics of Kuma's data plane; Kuma names the canary service `<target>-canary_<namespace>_svc_<port>`.",
  ),
  osm: {
    requests: {
      series: 'osm_request_total',
      selector: osmDestination,
      successMatcher: 'response_code!~"5.."',
    },
    latency: {
      kind: 'p99',
      buckets: 'osm_request_duration_ms_bucket',
      selector: osmDestination,
      toMilliseconds: 1,
    },
    source: "Open Service Mesh's request metrics for the canary Deployment as destination.",
  },
  appmesh: envoy(
    `kubernetes_namespace="{{ namespace }}",kubernetes_pod_name=~"${canaryPodName}"`,
    'Envoy sidecar metrics of the canary pods, scraped with the `kubernetes_namespace` and `kubernetes_pod_name` target labels.',
  ),
  knative: envoy(
    'envoy_cluster_name="{{ namespace }}/{{ route }}"',
    "Envoy metrics of Knative's ingress; the cluster of the canary is `<namespace>/<revision>`, with the revision as `route`.",
  ),
};

function skipperName(value: string): string {
  return value.replace(/\W/g, '_');
}

/**
 * The builtin router for a Canary's spec.provider: API versions are dropped
 * (gatewayapi:v1 -> gatewayapi). Undefined when there is no builtin for it.
 */
export function builtinRouterFor(provider: string): BuiltinRouter | undefined {
  const base = provider.replace(/:v[0-9][0-9a-z]*$/, '');
  return (BuiltinRouters as readonly string[]).includes(base) ? (base as BuiltinRouter) : undefined;
}

export function isBuiltinMetric(name: string): name is BuiltinMetric {
  return (BuiltinMetrics as readonly string[]).includes(name);
}

/** The query template of one builtin metric for one router. */
export function builtinQueryTemplate(router: BuiltinRouter, metric: BuiltinMetric): string {
  const { requests, latency } = builtinRouterMetrics[router];
  const rate = (series: string, selector: string) => `sum(rate(${series}{${selector}}[{{ interval }}]))`;
  if (metric === 'request-success-rate') {
    return `${rate(requests.series, `${requests.selector},${requests.successMatcher}`)} / ${rate(requests.series, requests.selector)} * 100`;
  }
  const scale = latency.toMilliseconds === 1 ? '' : ` * ${latency.toMilliseconds}`;
  if (latency.kind === 'p99') {
    return `histogram_quantile(0.99, sum by (le) (rate(${latency.buckets}{${latency.selector}}[{{ interval }}])))${scale}`;
  }
  return `${rate(`${latency.summary}_sum`, latency.selector)} / ${rate(`${latency.summary}_count`, latency.selector)}${scale}`;
}
