import { parseGoDuration, type Canary, type MetricTemplate, type NormalizedMetric } from '../api/index.ts';
import {
  builtinQueryTemplate,
  builtinRouterFor,
  builtinRouterMetrics,
  BuiltinRouters,
  isBuiltinMetric,
} from './builtin.ts';
import { goDurationToPrometheus } from './duration.ts';
import { judge, type Measurement } from './judge.ts';
import { ProviderError, type MetricProvider, type ProviderConfig } from './provider.ts';
import type { SecretSettings } from './store.ts';
import { metricStoreFor } from './stores/index.ts';
import { PromQL, renderQuery, TemplateError, type QuerySyntax, type TemplateVariables } from './template.ts';

// One metric check from spec to verdict: pick the query (MetricTemplate,
// builtin, or deprecated inline query), render it, run it on the provider and
// judge the value. It never throws: anything that goes wrong becomes an
// 'error' measurement whose message says what and where.

/** What a metric query may refer to, taken from the Canary. */
export interface AnalysisContext {
  readonly name: string;
  readonly namespace: string;
  /** spec.targetRef.name */
  readonly target: string;
  /** spec.service.name, defaulting to the target name. */
  readonly service: string;
  /** spec.ingressRef.name */
  readonly ingress?: string;
  /** APISIX spec.routeRef.name, or the Knative revision the controller found. */
  readonly route?: string;
  /** The router (spec.provider or the controller's default); selects the builtin queries. */
  readonly provider: string;
  /** spec.metricsServer */
  readonly metricsServer?: string;
}

export function analysisContextFor(
  canary: Canary,
  options: { readonly defaultProvider: string; readonly route?: string },
): AnalysisContext {
  const { name, namespace } = canary.metadata;
  // Always set on objects read from the apiserver; a missing one is a caller bug.
  if (!name || !namespace)
    throw new Error('analysisContextFor needs a Canary with metadata.name and namespace');
  const target = canary.spec.targetRef.name;
  const route = options.route ?? canary.spec.routeRef?.name;
  return {
    name,
    namespace,
    target,
    service: canary.spec.service?.name ?? target,
    ...(canary.spec.ingressRef && { ingress: canary.spec.ingressRef.name }),
    ...(route !== undefined && { route }),
    provider: canary.spec.provider ?? options.defaultProvider,
    ...(canary.spec.metricsServer !== undefined && { metricsServer: canary.spec.metricsServer }),
  };
}

export interface ObjectRef {
  readonly namespace: string;
  readonly name: string;
}

/** The controller's side: reads from its caches, the provider cache, its settings and clock. */
export interface MeasureDeps {
  getMetricTemplate(ref: ObjectRef): Promise<MetricTemplate | undefined>;
  /** The Secret's data decoded to strings, or undefined when it does not exist. */
  getSecretData(ref: ObjectRef): Promise<Readonly<Record<string, string>> | undefined>;
  /** Usually ProviderCache.providerFor, so clients are reused. */
  providerFor(config: ProviderConfig): MetricProvider;
  /** The controller-wide Prometheus address, used when neither the template nor the Canary names one. */
  readonly defaultMetricsServer?: string;
  readonly queryTimeoutMs: number;
  now(): Date;
}

/** Problems found before any query is sent (missing objects, unusable settings). */
class SetupError extends Error {}

interface Plan {
  readonly query: string;
  readonly provider: ProviderConfig;
  readonly intervalMs: number;
}

/**
 * Measures one metric of a normalised Canary (interval and thresholdRange
 * filled in, templateRef namespaced, deprecated threshold already mapped).
 * `requestId` is the engine's id of this measurement, passed on to the store.
 */
export async function measure(
  metric: NormalizedMetric,
  ctx: AnalysisContext,
  deps: MeasureDeps,
  signal?: AbortSignal,
  requestId?: string,
): Promise<Measurement> {
  let query: string | undefined;
  try {
    const plan = await planMeasurement(metric, ctx, deps);
    query = plan.query;
    const result = await deps
      .providerFor(plan.provider)
      .query(plan.query, signal, plan.intervalMs, requestId);
    return {
      name: metric.name,
      query,
      ...judge(result, metric.thresholdRange),
      measuredAt: deps.now().toISOString(),
    };
  } catch (err) {
    return {
      name: metric.name,
      ...(query !== undefined && { query }),
      outcome: 'error',
      message: describeError(err),
      measuredAt: deps.now().toISOString(),
    };
  }
}

function describeError(err: unknown): string {
  if (err instanceof ProviderError) return `${err.kind}: ${err.message}`;
  if (err instanceof TemplateError) return `query template: ${err.message}`;
  if (err instanceof SetupError) return err.message;
  return `unexpected error: ${err instanceof Error ? err.message : String(err)}`;
}

async function planMeasurement(
  metric: NormalizedMetric,
  ctx: AnalysisContext,
  deps: MeasureDeps,
): Promise<Plan> {
  const interval = goDurationToPrometheus(metric.interval);
  if (interval === undefined) {
    throw new SetupError(
      `metric interval "${metric.interval}" cannot be a Prometheus range: use whole milliseconds or more, e.g. 30s, 1m, 1m30s`,
    );
  }
  const intervalMs = parseGoDuration(metric.interval);
  const vars: TemplateVariables = {
    name: ctx.name,
    namespace: ctx.namespace,
    target: ctx.target,
    service: ctx.service,
    ...(ctx.ingress !== undefined && { ingress: ctx.ingress }),
    ...(ctx.route !== undefined && { route: ctx.route }),
    interval,
    variables: metric.templateVariables ?? {},
  };

  if (metric.templateRef) {
    const ref = metric.templateRef;
    const template = await deps.getMetricTemplate(ref);
    if (!template) throw new SetupError(`MetricTemplate ${ref.namespace}/${ref.name} not found`);
    const where = `MetricTemplate ${ref.namespace}/${ref.name}`;
    const store = metricStoreFor(template.spec.provider.type);
    if (!store) throw new SetupError(`${where}: unknown spec.provider.type "${template.spec.provider.type}"`);
    const storeInterval = store.syntax.interval?.(intervalMs);
    return {
      query: render(
        where,
        template.spec.query,
        storeInterval ? { ...vars, interval: storeInterval } : vars,
        store.syntax,
      ),
      provider: await templateProvider(template, ref.namespace, ctx, deps),
      intervalMs,
    };
  }

  // Deprecated inline PromQL, run where the builtins run.
  if (metric.query !== undefined) {
    return {
      query: render(`metric ${metric.name}`, metric.query, vars),
      provider: prometheusAt(defaultAddress(ctx, deps, `metric "${metric.name}"`), deps),
      intervalMs,
    };
  }

  if (isBuiltinMetric(metric.name)) {
    const router = builtinRouterFor(ctx.provider);
    if (!router) {
      throw new SetupError(
        `builtin metric ${metric.name} has no query for provider "${ctx.provider}" (builtins exist for ${BuiltinRouters.join(', ')}); measure it with a MetricTemplate`,
      );
    }
    const prepare = builtinRouterMetrics.get(router)?.prepareVariables;
    return {
      query: render(
        `builtin ${metric.name} for ${router}`,
        builtinQueryTemplate(router, metric.name),
        prepare ? prepare(vars) : vars,
      ),
      provider: prometheusAt(defaultAddress(ctx, deps, `builtin metric ${metric.name}`), deps),
      intervalMs,
    };
  }

  throw new SetupError(
    `metric "${metric.name}" is not a builtin (request-success-rate, request-duration) and has no templateRef`,
  );
}

/** renderQuery, with the template's origin prefixed to its errors. */
function render(
  origin: string,
  template: string,
  vars: TemplateVariables,
  syntax: QuerySyntax = PromQL,
): string {
  try {
    return renderQuery(template, vars, syntax);
  } catch (err) {
    throw err instanceof TemplateError ? new TemplateError(`${origin}: ${err.message}`) : err;
  }
}

function defaultAddress(ctx: AnalysisContext, deps: MeasureDeps, what: string): string {
  const address = ctx.metricsServer ?? deps.defaultMetricsServer;
  if (address === undefined) {
    throw new SetupError(
      `no Prometheus address for ${what}: set spec.metricsServer on the Canary or the controller's default metrics server`,
    );
  }
  return address;
}

function prometheusAt(address: string, deps: MeasureDeps): ProviderConfig {
  return { type: 'prometheus', address, timeoutMs: deps.queryTimeoutMs };
}

async function templateProvider(
  template: MetricTemplate,
  namespace: string,
  ctx: AnalysisContext,
  deps: MeasureDeps,
): Promise<ProviderConfig> {
  const spec = template.spec.provider;
  const where = `MetricTemplate ${namespace}/${template.metadata.name ?? ''}`;
  const store = metricStoreFor(spec.type);
  if (!store) throw new SetupError(`${where}: unknown spec.provider.type "${spec.type}"`);
  const rule = store.address;
  const address =
    rule.kind === 'cluster'
      ? ''
      : (spec.address ??
        (rule.kind === 'default'
          ? rule.value
          : rule.kind === 'metrics-server'
            ? (ctx.metricsServer ?? deps.defaultMetricsServer)
            : undefined));
  if (address === undefined) {
    throw new SetupError(
      `${where} has no spec.provider.address${rule.kind === 'metrics-server' ? ", and neither the Canary's spec.metricsServer nor the controller's default metrics server is set" : ''}`,
    );
  }
  if (store.region === 'required' && spec.region === undefined) {
    throw new SetupError(`${where} has no spec.provider.region, which ${spec.type} needs`);
  }

  let secret: SecretSettings = {};
  if (spec.secretRef) {
    const ref = { namespace, name: spec.secretRef.name };
    const data = await deps.getSecretData(ref);
    if (!data)
      throw new SetupError(`Secret ${namespace}/${ref.name} (spec.provider.secretRef of ${where}) not found`);
    secret = store.readSecret(data, `Secret ${namespace}/${ref.name}`);
  } else if (store.needsSecret) {
    throw new SetupError(
      `${where} has no spec.provider.secretRef; ${spec.type} needs a Secret with ${store.secretKeys
        .filter((key) => key.required)
        .map((key) => key.key)
        .join(', ')}`,
    );
  }

  const headers = Object.fromEntries(
    Object.entries(spec.headers ?? {})
      .filter(([, values]) => values.length > 0)
      .map(([name, values]) => [name, values.join(', ')]),
  );
  const tlsSettings =
    secret.tls || spec.insecureSkipVerify
      ? { ...secret.tls, insecureSkipVerify: spec.insecureSkipVerify ?? false }
      : undefined;
  return {
    type: spec.type,
    address,
    timeoutMs: deps.queryTimeoutMs,
    ...(rule.kind === 'cluster' && { namespace: ctx.namespace }),
    ...(spec.region !== undefined && { region: spec.region }),
    ...(Object.keys(headers).length > 0 && { headers }),
    ...(secret.credentials && { credentials: secret.credentials }),
    ...(secret.values && { secretValues: secret.values }),
    ...(tlsSettings && { tls: tlsSettings }),
  };
}
