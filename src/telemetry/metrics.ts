import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { apiserverPoolCounts, requestKinds } from '../kube/agent.ts';
import type { InformerMetrics } from '../runtime/informer.ts';
import type { LeaderElectionMetrics } from '../runtime/leader-election.ts';
import type { InFlightSnapshot, ReconcileMetrics, WorkQueueMetrics } from '../runtime/work-queue.ts';

/** Canary status gauge values, as in Flagger. */
export const CanaryStatusValue = { running: 0, succeeded: 1, failed: 2 } as const;

export type CanaryCounterLabels = 'name' | 'namespace' | 'deployment_strategy' | 'analysis_status';

export interface CanaryMetrics {
  readonly total: Gauge<'namespace'>;
  /** 0 running, 1 succeeded, 2 failed. */
  readonly status: Gauge<'name' | 'namespace'>;
  /** Two series per canary: workload "<target>-primary" and "<target>". */
  readonly weight: Gauge<'workload' | 'namespace'>;
  /** Seconds spent in one analysis pass. */
  readonly duration: Histogram<'name' | 'namespace'>;
  /** Last value of each analysis metric. */
  readonly metricAnalysis: Gauge<'name' | 'namespace' | 'metric'>;
  /** 1 while a metric of the running analysis gives no verdict (Ready=False AnalysisHalted), else 0. */
  readonly analysisHalted: Gauge<'name' | 'namespace'>;
  readonly successes: Counter<CanaryCounterLabels>;
  readonly failures: Counter<CanaryCounterLabels>;
}

export interface FledgeMetrics {
  /** Private registry: nothing here touches prom-client's global default one. */
  readonly registry: Registry;
  readonly info: Gauge<'version' | 'mesh_provider'>;
  readonly canary: CanaryMetrics;
  readonly reconcile: ReconcileMetrics;
  readonly workQueue: WorkQueueMetrics;
  readonly informer: InformerMetrics;
  readonly leaderElection: LeaderElectionMetrics;
  /** Kubernetes Events the per-object rate limit kept from the apiserver, by event reason. */
  readonly eventsDropped: Counter<'reason'>;
  /** Reconciles that failed with an error a retry can fix, by kind (conflict, timeout, ...). */
  readonly transientErrors: Counter<'reason'>;
  /** Canaries refused (Ready=False, one Warning event), by the condition's reason. */
  readonly refusals: Counter<'reason'>;
  /** Reads answered from an informer's cache instead of the apiserver, by kind. */
  readonly cachedReads: Counter<'kind'>;
  /** Server-side applies not sent because the cache showed them applied, by kind. */
  readonly appliesSkipped: Counter<'kind'>;
}

export interface MetricsOptions {
  version: string;
  meshProvider: string;
  /** Also export the standard process_* and nodejs_* metrics. Default true. */
  processMetrics?: boolean;
}

const prefix = 'fledge_';
const latencyBuckets = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

export function createMetrics(options: MetricsOptions): FledgeMetrics {
  const registry = new Registry();
  const registers = [registry];
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });

  const info = new Gauge({
    name: `${prefix}info`,
    help: 'Fledge version and mesh provider; always 1',
    labelNames: ['version', 'mesh_provider'] as const,
    registers,
  });
  info.set({ version: options.version, mesh_provider: options.meshProvider }, 1);
  registerApiserverMetrics(registers);

  const canaryCounterLabels = ['name', 'namespace', 'deployment_strategy', 'analysis_status'] as const;
  const canary: CanaryMetrics = {
    total: new Gauge({
      name: `${prefix}canary_total`,
      help: 'Canaries per namespace',
      labelNames: ['namespace'] as const,
      registers,
    }),
    status: new Gauge({
      name: `${prefix}canary_status`,
      help: 'Last canary run: 0 running, 1 succeeded, 2 failed',
      labelNames: ['name', 'namespace'] as const,
      registers,
    }),
    weight: new Gauge({
      name: `${prefix}canary_weight`,
      help: 'Traffic weight (percent) of the primary and canary workloads',
      labelNames: ['workload', 'namespace'] as const,
      registers,
    }),
    duration: new Histogram({
      name: `${prefix}canary_duration_seconds`,
      help: 'Seconds spent in one canary analysis pass',
      labelNames: ['name', 'namespace'] as const,
      buckets: latencyBuckets,
      registers,
    }),
    metricAnalysis: new Gauge({
      name: `${prefix}canary_metric_analysis`,
      help: 'Last measured value of each canary analysis metric',
      labelNames: ['name', 'namespace', 'metric'] as const,
      registers,
    }),
    analysisHalted: new Gauge({
      name: `${prefix}canary_analysis_halted`,
      help: '1 while a metric of the running analysis gives no verdict (no data or a provider error), else 0',
      labelNames: ['name', 'namespace'] as const,
      registers,
    }),
    successes: new Counter({
      name: `${prefix}canary_successes_total`,
      help: 'Canary runs that ended in promotion',
      labelNames: canaryCounterLabels,
      registers,
    }),
    failures: new Counter({
      name: `${prefix}canary_failures_total`,
      help: 'Canary runs that ended in rollback',
      labelNames: canaryCounterLabels,
      registers,
    }),
  };

  const reconcile: ReconcileMetrics = {
    total: new Counter({
      name: `${prefix}reconcile_total`,
      help: 'Reconciles by result: success, requeue_after or error',
      labelNames: ['result'] as const,
      registers,
    }),
    errors: new Counter({
      name: `${prefix}reconcile_errors_total`,
      help: 'Reconciles that failed',
      registers,
    }),
    time: new Histogram({
      name: `${prefix}reconcile_time_seconds`,
      help: 'Seconds per reconcile',
      buckets: latencyBuckets,
      registers,
    }),
  };
  for (const result of ['success', 'requeue_after', 'error'] as const) reconcile.total.inc({ result }, 0);

  const inFlightProbes = new Map<string, () => InFlightSnapshot>();
  const collectInFlight = (field: keyof InFlightSnapshot) =>
    function (this: Gauge<'name'>) {
      for (const [name, probe] of inFlightProbes) this.set({ name }, probe()[field]);
    };
  const workQueue: WorkQueueMetrics = {
    depth: new Gauge({
      name: `${prefix}workqueue_depth`,
      help: 'Keys waiting to be processed',
      labelNames: ['name'] as const,
      registers,
    }),
    adds: new Counter({
      name: `${prefix}workqueue_adds_total`,
      help: 'Keys added to the work queue',
      labelNames: ['name'] as const,
      registers,
    }),
    retries: new Counter({
      name: `${prefix}workqueue_retries_total`,
      help: 'Rate-limited retries after failed runs',
      labelNames: ['name'] as const,
      registers,
    }),
    queueDuration: new Histogram({
      name: `${prefix}workqueue_queue_duration_seconds`,
      help: 'Seconds a key waited in the queue before processing started',
      labelNames: ['name'] as const,
      buckets: latencyBuckets,
      registers,
    }),
    workDuration: new Histogram({
      name: `${prefix}workqueue_work_duration_seconds`,
      help: 'Seconds spent processing a key',
      labelNames: ['name'] as const,
      buckets: latencyBuckets,
      registers,
    }),
    trackInFlight: (name, probe) => {
      inFlightProbes.set(name, probe);
    },
  };
  new Gauge({
    name: `${prefix}workqueue_unfinished_work_seconds`,
    help: 'Seconds of work in progress not yet finished; large values mean stuck handlers',
    labelNames: ['name'] as const,
    collect: collectInFlight('unfinishedSeconds'),
    registers,
  });
  new Gauge({
    name: `${prefix}workqueue_longest_running_processor_seconds`,
    help: 'Age in seconds of the longest-running handler',
    labelNames: ['name'] as const,
    collect: collectInFlight('longestRunningSeconds'),
    registers,
  });

  const informer: InformerMetrics = {
    restarts: new Counter({
      name: `${prefix}informer_restarts_total`,
      help: 'Informer restarts by reason: error or stall',
      labelNames: ['resource', 'reason'] as const,
      registers,
    }),
    relists: new Counter({
      name: `${prefix}informer_relists_total`,
      help: 'Periodic full relists',
      labelNames: ['resource'] as const,
      registers,
    }),
    events: new Counter({
      name: `${prefix}informer_events_total`,
      help: 'Objects delivered to handlers by change type: add, update, delete, resync',
      labelNames: ['resource', 'type'] as const,
      registers,
    }),
    synced: new Gauge({
      name: `${prefix}informer_synced`,
      help: '1 once the informer cache holds a complete list',
      labelNames: ['resource'] as const,
      registers,
    }),
  };

  const leaderElection: LeaderElectionMetrics = {
    masterStatus: new Gauge({
      name: `${prefix}leader_election_master_status`,
      help: '1 while this replica leads, 0 otherwise',
      labelNames: ['name'] as const,
      registers,
    }),
  };

  const eventsDropped = new Counter({
    name: `${prefix}events_dropped_total`,
    help: 'Kubernetes Events not written because their object exceeded the per-object rate limit',
    labelNames: ['reason'] as const,
    registers,
  });

  const counterBy = <L extends string>(label: L, name: string, help: string) =>
    new Counter<L>({ name: `${prefix}${name}`, help, labelNames: [label], registers });
  const transientErrors = counterBy(
    'reason',
    'reconcile_transient_errors_total',
    'Reconciles that failed with an error a retry can fix (retried with back-off), by kind',
  );
  const refusals = counterBy(
    'reason',
    'canary_refusals_total',
    'Canaries refused as written (Ready=False, not retried), by condition reason',
  );
  const cachedReads = counterBy(
    'kind',
    'apiserver_cached_reads_total',
    "Object reads answered from an informer's cache instead of the apiserver, by kind",
  );
  const appliesSkipped = counterBy(
    'kind',
    'apiserver_applies_skipped_total',
    'Server-side applies not sent because the cache showed the object as applied, by kind',
  );

  return {
    registry,
    info,
    canary,
    reconcile,
    workQueue,
    informer,
    leaderElection,
    eventsDropped,
    transientErrors,
    refusals,
    cachedReads,
    appliesSkipped,
  };
}

/**
 * Starts a canary's series at zero (counters included), so rates and alerts work
 * from its first run. Call when a canary is first seen.
 */
export function initCanaryMetrics(
  metrics: FledgeMetrics,
  name: string,
  namespace: string,
  strategy: string,
): void {
  for (const analysis_status of ['completed', 'skipped']) {
    const labels = { name, namespace, deployment_strategy: strategy, analysis_status };
    metrics.canary.successes.inc(labels, 0);
    metrics.canary.failures.inc(labels, 0);
  }
}

/** Drops a deleted canary's series so they do not linger at their last value. */
export async function forgetCanaryMetrics(
  metrics: FledgeMetrics,
  name: string,
  namespace: string,
  targetName: string,
): Promise<void> {
  metrics.canary.status.remove({ name, namespace });
  metrics.canary.analysisHalted.remove({ name, namespace });
  metrics.canary.duration.remove({ name, namespace });
  metrics.canary.weight.remove({ workload: targetName, namespace });
  metrics.canary.weight.remove({ workload: `${targetName}-primary`, namespace });
  const labelled: LabelledMetric[] = [
    metrics.canary.metricAnalysis,
    metrics.canary.successes,
    metrics.canary.failures,
  ];
  for (const metric of labelled) {
    const { values } = await metric.get();
    for (const { labels } of values) {
      if (labels.name === name && labels.namespace === namespace) metric.remove(labels);
    }
  }
}

interface LabelledMetric {
  get(): Promise<{ values: { labels: Record<string, string | number | undefined> }[] }>;
  remove(labels: Record<string, string | number | undefined>): void;
}

/** Connections and requests of the pooled apiserver agents (src/kube/agent.ts), read at scrape time. */
function registerApiserverMetrics(registers: Registry[]): void {
  // Process-wide totals, read from the pools at scrape time.
  const totals: [string, string, 'opened' | 'resets' | 'rateLimitWaitSeconds' | 'rebuilds'][] = [
    [
      'apiserver_connections_opened_total',
      'Connections opened to the apiserver (each a TCP connect and TLS handshake)',
      'opened',
    ],
    [
      'apiserver_connection_resets_total',
      'Times every apiserver connection was dropped because a request timed out or a watch stalled',
      'resets',
    ],
    [
      'apiserver_rate_limit_wait_seconds_total',
      'Seconds requests waited for the client-side rate limit (--kube-api-qps, --kube-api-burst)',
      'rateLimitWaitSeconds',
    ],
    [
      'apiserver_agent_rebuilds_total',
      'Connection pools rebuilt because the CA, client certificate or key changed',
      'rebuilds',
    ],
  ];
  for (const [name, help, field] of totals) {
    new Counter({
      name: `${prefix}${name}`,
      help,
      registers,
      collect() {
        this.reset();
        this.inc(apiserverPoolCounts()[field]);
      },
    });
  }
  new Gauge({
    name: `${prefix}apiserver_connections`,
    help: 'TCP (TLS) connections to the apiserver open now',
    registers,
    collect() {
      this.set(apiserverPoolCounts().connections);
    },
  });
  new Gauge({
    name: `${prefix}apiserver_requests_in_flight`,
    help: 'Apiserver requests and watches under way now',
    registers,
    collect() {
      this.set(apiserverPoolCounts().inFlight);
    },
  });
  new Counter({
    name: `${prefix}apiserver_requests_total`,
    help: 'Requests sent to the apiserver, by kind: request or watch',
    labelNames: ['kind'] as const,
    registers,
    collect() {
      const { requests } = apiserverPoolCounts();
      this.reset();
      for (const kind of requestKinds) this.inc({ kind }, requests[kind]);
    },
  });
}
