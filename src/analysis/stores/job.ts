import {
  createAndAwait,
  clusterOf,
  measurementObjectName,
  type ClusterClient,
  type ClusterObject,
  type StoreContext,
} from '../cluster.ts';
import { ProviderError, type MetricProvider, type ProviderConfig } from '../provider.ts';
import { queryDocument } from '../query-document.ts';
import { defineStore } from '../store.ts';
import { PlainQuery } from '../template.ts';

// The job metric (Argo Rollouts' `job`, a Fledge extension type): each
// measurement runs a Kubernetes Job built from the query, a YAML document with
// the Job's `metadata` (labels, annotations, generateName) and `spec`, in the
// Canary's namespace. A Job that completes measures 1, one that fails measures
// 0, so a template is judged with `thresholdRange: {min: 1}`. The Job is
// deleted once it has a verdict. Its name is generateName followed by a digest
// of the measurement, so a measurement asked again after a restart or a leader
// change finds its Job instead of running a second one.

const defaultGenerateName = 'fledge-metric-';
const defaultIntervalMs = 60_000;
/** How long past its active deadline a Job may take to be marked failed before Fledge gives up on it. */
const graceMs = 60_000;
/** Kept for this long after it finishes when Fledge could not delete it (a restart mid-run). */
const defaultTtlSeconds = 600;

interface JobCondition {
  readonly type?: string;
  readonly status?: string;
  readonly reason?: string;
  readonly message?: string;
}

interface Job extends ClusterObject {
  readonly metadata?: {
    readonly name?: string;
    readonly namespace?: string;
    readonly uid?: string;
    readonly generateName?: string;
    readonly labels?: Record<string, string>;
    readonly annotations?: Record<string, string>;
  };
  readonly spec?: Record<string, unknown>;
  readonly status?: { readonly conditions?: readonly JobCondition[] };
}

export function createJobProvider(config: ProviderConfig, context: StoreContext): MetricProvider {
  const cluster = clusterOf(context, 'job');
  const namespace = config.namespace;
  if (namespace === undefined) throw new ProviderError('config', 'the job store needs the Canary namespace');
  const running = new Set<AbortController>();

  return {
    async query(
      query: string,
      signal?: AbortSignal,
      intervalMs = defaultIntervalMs,
      requestId?: string,
    ): Promise<number> {
      const job = jobFrom(query, namespace, intervalMs, requestId);
      const stop = new AbortController();
      running.add(stop);
      const combined = signal ? AbortSignal.any([signal, stop.signal]) : stop.signal;
      try {
        return await runJob(cluster, job, combined);
      } finally {
        running.delete(stop);
      }
    },
    close() {
      for (const stop of running) stop.abort();
    },
  };
}

/**
 * The Job to create: the query's metadata and spec, with Fledge's defaults where it is silent.
 * With the engine's request id it is named for that measurement; without one (a query outside
 * a Canary run), the apiserver generates its name.
 */
export function jobFrom(query: string, namespace: string, intervalMs: number, requestId?: string): Job {
  const { metadata = {}, spec } = queryDocument(
    query,
    'job',
    ['metadata', 'spec'],
    'a mapping with spec (a Job spec) and optionally metadata',
  );
  const {
    labels,
    annotations,
    generateName = defaultGenerateName,
    ...otherMetadata
  } = metadata as Record<string, unknown>;
  const otherKeys = Object.keys(otherMetadata);
  if (otherKeys.length > 0) {
    throw new ProviderError(
      'bad-query',
      `the job query's metadata takes labels, annotations and generateName, not ${otherKeys.join(', ')} (each run is a new Job in the Canary's namespace)`,
    );
  }
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) {
    throw new ProviderError(
      'bad-query',
      'the job query needs spec, a Job spec with template.spec.containers',
    );
  }
  const jobSpec = spec as Record<string, unknown>;
  const template = (jobSpec.template ?? {}) as { spec?: Record<string, unknown> };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      ...(requestId === undefined
        ? { generateName: String(generateName) }
        : { name: measurementObjectName(String(generateName), requestId) }),
      namespace,
      labels: { ...(labels as Record<string, string> | undefined), 'app.kubernetes.io/managed-by': 'fledge' },
      ...(annotations !== undefined && { annotations: annotations as Record<string, string> }),
    },
    spec: {
      // A metric is one attempt: a retried Job would hide the failure it measures.
      backoffLimit: 0,
      // A run never outlives the metric interval, so runs do not pile up.
      activeDeadlineSeconds: Math.max(1, Math.ceil(intervalMs / 1000)),
      ttlSecondsAfterFinished: defaultTtlSeconds,
      ...jobSpec,
      template: {
        ...template,
        spec: { restartPolicy: 'Never', ...template.spec },
      },
    },
  };
}

async function runJob(cluster: ClusterClient, job: Job, signal: AbortSignal): Promise<number> {
  const deadlineSeconds = Number(job.spec?.activeDeadlineSeconds);
  const giveUpAt = Date.now() + deadlineSeconds * 1000 + graceMs;
  return createAndAwait(
    cluster,
    job,
    'a Job',
    (current, where) => {
      const finished = current.status?.conditions?.find(
        (c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True',
      );
      if (finished) return finished.type === 'Complete' ? 1 : 0;
      if (Date.now() > giveUpAt) {
        throw new ProviderError(
          'timeout',
          `${where} has neither completed nor failed ${deadlineSeconds}s past its start (activeDeadlineSeconds); is the job controller running?`,
        );
      }
      return undefined;
    },
    signal,
  );
}

export const job = defineStore({
  type: 'job',
  summary:
    'a Kubernetes Job built from the query: 1 when it completes, 0 when it fails (Fledge extension, as Argo Rollouts’ job metric)',
  address: { kind: 'cluster' },
  headers: false,
  insecureSkipVerify: false,
  syntax: PlainQuery,
  factory: createJobProvider,
  permissions: [{ apiGroup: 'batch', resources: ['jobs'], verbs: ['get', 'create', 'delete'] }],
});
