// Builtin-check queries for Traefik serving the Gateway API, as MetricTemplate queries until the
// builtin checks have this shape. Traefik names the backend of an HTTPRoute rule
// <namespace>-<service>-http-<port>@kubernetesgateway, so the canary's is picked by its Service.
const canaryService = 'service=~"{{ namespace }}-{{ service }}-canary-http-[0-9]+@kubernetesgateway"';

export const traefikGatewayQueries = {
  /** Percent of the canary's requests that were not 5xx. */
  successRate:
    `sum(rate(traefik_service_requests_total{${canaryService},code!~"5.."}[{{ interval }}])) / ` +
    `sum(rate(traefik_service_requests_total{${canaryService}}[{{ interval }}])) * 100`,
  /** The canary's p99 latency in milliseconds. */
  duration:
    `histogram_quantile(0.99, sum(rate(traefik_service_request_duration_seconds_bucket{${canaryService}}` +
    `[{{ interval }}])) by (le)) * 1000`,
};
