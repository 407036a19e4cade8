import { clusterError, clusterOf, type StoreContext } from '../cluster.ts';
import { noData, ProviderError, type MetricProvider, type NoData, type ProviderConfig } from '../provider.ts';
import { defineStore } from '../store.ts';
import { PlainQuery } from '../template.ts';

// The Kubernetes external metrics API (external.metrics.k8s.io, served by an
// adapter such as KEDA or the Datadog cluster agent), asked through the
// apiserver as Flagger's externalmetrics provider asks it. The query is
// `[<namespace>/]<metric name>[?labelSelector=<selector>]`; the value is the
// first item's, a Kubernetes quantity.

const path = '/apis/external.metrics.k8s.io/v1beta1';
const queryShape = '[<namespace>/]<metric name>[?labelSelector=<url-encoded label selector>]';

interface ExternalQuery {
  readonly namespace: string;
  readonly metric: string;
  readonly labelSelector?: string;
}

/** Reads a query in Flagger's format; the namespace defaults to `default`, as there. */
export function parseExternalQuery(query: string): ExternalQuery {
  const text = query.trim();
  const mark = text.indexOf('?');
  const parts = (mark < 0 ? text : text.slice(0, mark)).split('/');
  const params = new URLSearchParams(mark < 0 ? '' : text.slice(mark + 1));
  const [first = '', second] = parts;
  const metric = second ?? first;
  if (parts.length > 2 || metric === '') {
    throw new ProviderError('bad-query', `the externalmetrics query "${text}" is not ${queryShape}`);
  }
  const labelSelector = params.get('labelSelector') ?? '';
  return {
    namespace: second !== undefined && first !== '' ? first : 'default',
    metric,
    ...(labelSelector !== '' && { labelSelector }),
  };
}

const suffixes: Readonly<Record<string, number>> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** A Kubernetes quantity ("1500m", "2k", "1Gi", "1e3") as a number; undefined when it is none. */
export function quantityValue(text: string): number | undefined {
  const match = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]))?$/.exec(
    text.trim(),
  );
  if (!match) return undefined;
  const [, number = '', exponent, suffix = ''] = match;
  return Number(`${number}${exponent ?? ''}`) * (suffixes[suffix] ?? 1);
}

interface ValueList {
  readonly items?: readonly { readonly metricName?: unknown; readonly value?: unknown }[];
}

export function createExternalMetricsProvider(config: ProviderConfig, context: StoreContext): MetricProvider {
  const cluster = clusterOf(context, 'externalmetrics');
  return {
    async query(query: string, signal?: AbortSignal): Promise<number | NoData> {
      const { namespace, metric, labelSelector } = parseExternalQuery(query);
      const where = `external metric ${namespace}/${metric}`;
      const deadline = AbortSignal.timeout(config.timeoutMs);
      const combined = signal ? AbortSignal.any([signal, deadline]) : deadline;
      let list: ValueList;
      try {
        list = await cluster.request<ValueList>(
          'GET',
          `${path}/namespaces/${encodeURIComponent(namespace)}/${encodeURIComponent(metric)}`,
          undefined,
          undefined,
          { signal: combined, query: { labelSelector } },
        );
      } catch (err) {
        if (deadline.aborted && !signal?.aborted) {
          throw new ProviderError(
            'timeout',
            `the apiserver did not answer for ${where} within ${config.timeoutMs / 1000}s`,
          );
        }
        const failure = clusterError(err, `reading ${where}`, signal);
        // 404 and 503: no adapter serves the group, or it does not know the metric.
        throw failure.kind === 'http-status'
          ? new ProviderError(
              'http-status',
              `${failure.message}; is an external metrics adapter registered (kubectl get apiservice v1beta1.external.metrics.k8s.io)?`,
            )
          : failure;
      }
      const items = list.items;
      if (!Array.isArray(items)) {
        throw new ProviderError('bad-response', `the answer for ${where} has no items list`);
      }
      const first = items[0];
      if (first === undefined)
        return noData(`${where} has no values${labelSelector ? ` for ${labelSelector}` : ''}`);
      const value = typeof first.value === 'string' ? quantityValue(first.value) : undefined;
      if (value === undefined) {
        throw new ProviderError(
          'bad-response',
          `${where} has the value ${JSON.stringify(first.value)}, not a quantity`,
        );
      }
      return value;
    },
    close() {},
  };
}

export const externalmetrics = defineStore({
  type: 'externalmetrics',
  summary:
    'Kubernetes external metrics API (`external.metrics.k8s.io`) through the apiserver; the first value',
  address: { kind: 'cluster' },
  headers: false,
  insecureSkipVerify: false,
  syntax: PlainQuery,
  factory: createExternalMetricsProvider,
  permissions: [{ apiGroup: 'external.metrics.k8s.io', resources: ['*'], verbs: ['get'] }],
});
