import {
  clusterError,
  clusterOf,
  createAndAwait,
  measurementObjectName,
  type ClusterClient,
  type ClusterObject,
  type StoreContext,
} from '../cluster.ts';
import { numberFrom } from '../http-store.ts';
import { noData, ProviderError, type MetricProvider, type NoData, type ProviderConfig } from '../provider.ts';
import { defineStore } from '../store.ts';
import { PlainQuery } from '../template.ts';

// Keptn, read from the cluster as Flagger's keptn provider reads it. The query
// is `keptnmetric/<namespace>/<name>`: the value Keptn's metrics operator last
// wrote to that KeptnMetric's status; or `analysis/<namespace>/<definition>[/<timeframe>[/<k=v;k=v>]]`:
// an Analysis of that AnalysisDefinition is created, and once Keptn has
// evaluated it, it measures 1 when it passed and 0 when it did not. The
// Analysis is named for the measurement, so one asked again after a restart or
// a leader change finds it instead of creating a second one.

const apiVersion = 'metrics.keptn.sh/v1beta1';
const queryShape =
  'keptnmetric/<namespace>/<name> or analysis/<namespace>/<analysis definition>[/<timeframe>[/<key>=<value>;...]]';

type KeptnQuery =
  | { readonly kind: 'KeptnMetric'; readonly namespace: string; readonly name: string }
  | {
      readonly kind: 'Analysis';
      readonly namespace: string;
      readonly name: string;
      readonly timeframe: string;
      readonly args: Readonly<Record<string, string>>;
    };

interface KeptnMetric extends ClusterObject {
  readonly status?: { readonly value?: unknown; readonly errMsg?: unknown };
}

interface Analysis extends ClusterObject {
  readonly metadata?: { readonly name?: string; readonly namespace?: string; readonly generateName?: string };
  readonly spec?: object;
  readonly status?: { readonly state?: unknown; readonly pass?: unknown; readonly raw?: unknown };
}

/** Reads a query in Flagger's format; the kind is case-insensitive and may be the plural resource. */
export function parseKeptnQuery(query: string): KeptnQuery {
  const [kind = '', namespace = '', name = '', timeframe = '1m', args = '', ...rest] = query
    .trim()
    .split('/');
  if (namespace === '' || name === '' || rest.length > 0) {
    throw new ProviderError('bad-query', `the keptn query "${query.trim()}" is not ${queryShape}`);
  }
  switch (kind.toLowerCase()) {
    case 'keptnmetric':
    case 'keptnmetrics':
      return { kind: 'KeptnMetric', namespace, name };
    case 'analysis':
    case 'analyses':
      return {
        kind: 'Analysis',
        namespace,
        name,
        timeframe,
        args: Object.fromEntries(
          args
            .split(';')
            .map((pair) => pair.split('='))
            .filter((pair): pair is [string, string] => pair.length === 2 && pair[0] !== ''),
        ),
      };
    default:
      throw new ProviderError(
        'bad-query',
        `the keptn query starts with "${kind}"; it must be keptnmetric or analysis (${queryShape})`,
      );
  }
}

export function createKeptnProvider(config: ProviderConfig, context: StoreContext): MetricProvider {
  const cluster = clusterOf(context, 'keptn');
  return {
    async query(
      query: string,
      signal?: AbortSignal,
      _intervalMs?: number,
      requestId?: string,
    ): Promise<number | NoData> {
      const parsed = parseKeptnQuery(query);
      const deadline = AbortSignal.timeout(config.timeoutMs);
      const combined = signal ? AbortSignal.any([signal, deadline]) : deadline;
      try {
        return parsed.kind === 'KeptnMetric'
          ? await readMetric(cluster, parsed, combined)
          : await runAnalysis(cluster, parsed, combined, requestId);
      } catch (err) {
        if (deadline.aborted && !signal?.aborted) {
          throw new ProviderError(
            'timeout',
            `Keptn did not evaluate the Analysis of ${parsed.namespace}/${parsed.name} within ${config.timeoutMs / 1000}s; is Keptn's metrics operator running?`,
          );
        }
        throw err;
      }
    },
    close() {},
  };
}

async function readMetric(
  cluster: ClusterClient,
  { namespace, name }: KeptnQuery,
  signal: AbortSignal,
): Promise<number | NoData> {
  const where = `KeptnMetric ${namespace}/${name}`;
  let metric: KeptnMetric;
  try {
    metric = await cluster.get<KeptnMetric>({ apiVersion, kind: 'KeptnMetric', namespace, name }, { signal });
  } catch (err) {
    throw clusterError(err, `reading ${where}`, signal);
  }
  const { value, errMsg } = metric.status ?? {};
  if (typeof errMsg === 'string' && errMsg !== '') {
    throw new ProviderError('http-status', `${where}: Keptn could not fetch it: ${errMsg}`);
  }
  if (value === undefined || value === '') return noData(`${where} has no value yet`);
  const number = numberFrom(value);
  if (number === undefined) {
    throw new ProviderError('unusable-result', `${where} has the value "${String(value)}", not a number`);
  }
  return Number.isNaN(number) ? noData(`${where} has the value NaN`) : number;
}

function runAnalysis(
  cluster: ClusterClient,
  query: Extract<KeptnQuery, { kind: 'Analysis' }>,
  signal: AbortSignal,
  requestId: string | undefined,
): Promise<number> {
  const prefix = `${query.name}-`;
  const analysis: Analysis = {
    apiVersion,
    kind: 'Analysis',
    metadata: {
      ...(requestId === undefined
        ? { generateName: prefix }
        : { name: measurementObjectName(prefix, requestId) }),
      namespace: query.namespace,
    },
    spec: {
      analysisDefinition: { name: query.name },
      timeframe: { recent: query.timeframe },
      args: query.args,
    },
  };
  return createAndAwait(
    cluster,
    analysis,
    `an Analysis of ${query.name}`,
    (current) => {
      const { state, pass } = current.status ?? {};
      return state === 'Completed' && typeof pass === 'boolean' ? Number(pass) : undefined;
    },
    signal,
  );
}

export const keptn = defineStore({
  type: 'keptn',
  summary:
    'value of a Keptn `KeptnMetric`, or the verdict of an `Analysis` Fledge creates (1 passed, 0 failed), read from the cluster',
  address: { kind: 'cluster' },
  headers: false,
  insecureSkipVerify: false,
  syntax: PlainQuery,
  factory: createKeptnProvider,
  permissions: [
    { apiGroup: 'metrics.keptn.sh', resources: ['keptnmetrics'], verbs: ['get'] },
    { apiGroup: 'metrics.keptn.sh', resources: ['analyses'], verbs: ['get', 'create', 'delete'] },
  ],
});
