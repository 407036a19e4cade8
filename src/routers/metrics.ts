import type { TemplateVariables } from '../analysis/template.ts';

// Where a router's data plane reports the canary's requests and latency: each router's
// declaration carries one of these, and src/analysis/builtin.ts turns it into the two
// builtin queries (request-success-rate, request-duration), so every router that has
// series has both metrics by construction. Placeholders are MetricTemplate variables.

export interface RequestSeries {
  /** Series counting the canary's requests, one increment per request. */
  readonly series: string;
  readonly selector: string;
  /** Extra matcher that keeps only requests that did not fail. */
  readonly successMatcher: string;
}

export type LatencySeries =
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
export const CANARY_POD_NAME = '{{ target }}-[0-9a-zA-Z]+-[0-9a-zA-Z]+';

/** Routers with no data plane of their own: the application's histogram, scraped per pod. */
export const APP_INSTRUMENTED: RouterMetrics = {
  requests: {
    series: 'http_request_duration_seconds_count',
    selector: `kubernetes_namespace="{{ namespace }}",kubernetes_pod_name=~"${CANARY_POD_NAME}"`,
    successMatcher: 'status!~"5.."',
  },
  latency: {
    kind: 'p99',
    buckets: 'http_request_duration_seconds_bucket',
    selector: `kubernetes_namespace="{{ namespace }}",kubernetes_pod_name=~"${CANARY_POD_NAME}"`,
    toMilliseconds: 1000,
  },
  source:
    'The application itself: a `http_request_duration_seconds` histogram with a `status` label, scraped with the `kubernetes_namespace` and `kubernetes_pod_name` target labels.',
};

/** Envoy's cluster metrics, the canary's cluster picked out by `selector`. */
export function envoyMetrics(selector: string, source: string): RouterMetrics {
  return {
    requests: { series: 'envoy_cluster_upstream_rq', selector, successMatcher: 'envoy_response_code!~"5.."' },
    latency: { kind: 'p99', buckets: 'envoy_cluster_upstream_rq_time_bucket', selector, toMilliseconds: 1 },
    source,
  };
}
