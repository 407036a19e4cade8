import { BuiltinMetrics, type BuiltinMetric } from '../api/index.ts';
import { declarationOf, routerDeclarations, type RouterMetrics } from '../routers/index.ts';

// The builtin checks, per router, generated from the series each router's declaration
// names (src/routers/metrics.ts), so every router has both metrics by construction.
// They measure what Flagger's observers measure:
//   request-success-rate: percent of the canary's requests that were not 5xx
//                         (NaN, so no data, when there were no requests);
//   request-duration:     the canary's latency in milliseconds, p99 where the
//                         router exports a histogram, else the mean.
// Placeholders are MetricTemplate variables, rendered by template.ts.

export { BuiltinMetrics, type BuiltinMetric };

/** Routers whose data plane reports the canary's requests, by canonical name. */
export const builtinRouterMetrics: ReadonlyMap<string, RouterMetrics> = new Map(
  routerDeclarations.flatMap((d) => (d.metrics === undefined ? [] : [[d.provider, d.metrics] as const])),
);
export const BuiltinRouters: readonly string[] = [...builtinRouterMetrics.keys()];
export type BuiltinRouter = string;

/**
 * The router whose builtin queries serve a Canary's spec.provider (gatewayapi:v1 ->
 * gatewayapi). Undefined when its data plane has no series Fledge knows.
 */
export function builtinRouterFor(provider: string): BuiltinRouter | undefined {
  const declaration = declarationOf(provider);
  return declaration?.metrics === undefined ? undefined : declaration.provider;
}

export function isBuiltinMetric(name: string): name is BuiltinMetric {
  return (BuiltinMetrics as readonly string[]).includes(name);
}

/** The query template of one builtin metric for one router. */
export function builtinQueryTemplate(router: BuiltinRouter, metric: BuiltinMetric): string {
  const metrics = builtinRouterMetrics.get(router);
  if (metrics === undefined) throw new Error(`router ${router} has no builtin queries`);
  const { requests, latency } = metrics;
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
