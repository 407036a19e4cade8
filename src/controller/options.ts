import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { AlertProviderTypes, REVISION_ANNOTATION, RouterProviders, parseGoDuration } from '../api/index.ts';
import { isLabelKey } from '../workloads/index.ts';
import { defaultAlertSettings, type DefaultAlertFlags } from '../notifiers/index.ts';
import { LogLevels, isLogLevel } from '../telemetry/logger.ts';

/** Everything `fledge run` is told, validated. */
export interface OperatorOptions {
  kubeconfig: string | undefined;
  /** Watch only this namespace; undefined watches all. */
  namespace: string | undefined;
  logLevel: (typeof LogLevels)[number];
  /** Router for canaries without spec.provider. */
  meshProvider: string;
  /** Prometheus URL for canaries without spec.metricsServer. */
  metricsServer: string | undefined;
  clusterName: string;
  includeLabelPrefixes: string[];
  selectorLabels: string[];
  /** The target annotation holding the revision of the source that applied it. */
  revisionAnnotation: string;
  configTracking: boolean;
  workers: number;
  /** Client-side limit on apiserver requests (watches excluded), as client-go's QPS and burst. */
  kubeApi: { qps: number; burst: number };
  listenAddress: string;
  queryTimeoutMs: number;
  leaderElection: LeaderElectionFlags | undefined;
  alertFlags: DefaultAlertFlags;
  eventWebhook: string | undefined;
}

export interface LeaderElectionFlags {
  namespace: string;
  id: string;
  identity: string;
  /** How long a standby waits, from when it last saw the Lease change, before taking it. */
  leaseDurationMs: number;
  /** The leader stops acting when it has not renewed for this long. */
  renewDeadlineMs: number;
  /** Pause between Lease reads and renewals (standbys add up to 120 % jitter). */
  retryPeriodMs: number;
}

export class UsageError extends Error {
  override name = 'UsageError';
}

const alertFlagNames = AlertProviderTypes.flatMap((type) => defaultAlertSettings.map((s) => `${type}-${s}`));

export const runUsage = `Usage: fledge run [flags]

Runs the operator: watches Canaries and drives their releases.

Cluster:
  --kubeconfig PATH                 kubeconfig (default: $KUBECONFIG, then in-cluster, then ~/.kube/config)
  --namespace NAME                  watch only this namespace (default: all namespaces)
Behaviour:
  --mesh-provider NAME              router for canaries without spec.provider (default: kubernetes)
  --metrics-server URL              Prometheus for canaries without spec.metricsServer
  --query-timeout DURATION          metric query timeout (default: 30s)
  --cluster-name NAME               shown in every alert
  --include-label-prefix LIST       label/annotation prefixes copied to the primary, comma-separated; * for all
  --selector-labels LIST            selector labels rewritten with -primary (default: app,name,app.kubernetes.io/name)
  --enable-config-tracking BOOL     copy and track ConfigMaps and Secrets (default: true)
  --revision-annotation KEY         target annotation naming the commit that applied it, shown in status,
                                    events and alerts (default: ${REVISION_ANNOTATION}); without it, a
                                    target Flux applied names its Kustomization's revision
  --workers N                       canaries reconciled at once (default: 4)
  --kube-api-qps N                  apiserver requests per second, on average (default: 100)
  --kube-api-burst N                apiserver requests at once after a quiet spell (default: 200)
Operations:
  --listen-address ADDR             /metrics, /healthz and /readyz (default: :8080)
  --leader-elect                    run leader election (for several replicas)
  --leader-election-namespace NS    namespace of the Lease (default: the --namespace, else default)
  --leader-election-id NAME         name of the Lease (default: fledge)
  --leader-election-lease-duration DURATION
                                    a standby takes the Lease once it has not changed for this long (default: 15s)
  --leader-election-renew-deadline DURATION
                                    the leader stops acting when it could not renew for this long (default: 10s)
  --leader-election-retry-period DURATION
                                    pause between Lease renewals and reads (default: 2s); after a crash a
                                    standby takes over within lease-duration + 4.4 x retry-period (23.8s)
  --log-level LEVEL                 ${LogLevels.join('|')} (default: info, or $LOG_LEVEL)
Alerts for canaries without spec.analysis.alerts (each also read from the upper-case environment variable):
  --<type>-url, --<type>-token, --<type>-proxy-url, --<type>-user, --<type>-channel
                                    type: ${AlertProviderTypes.join(', ')}; e.g. --slack-url or SLACK_URL
  --alert-severity LEVEL            info|warn|error (default: info)
  --event-webhook URL               POST every Kubernetes event Fledge records (or EVENT_WEBHOOK_URL)
  -h, --help                        show this help
`;

/** Parses `fledge run` flags; undefined means --help was asked for. Throws UsageError naming the flag. */
export function parseRunOptions(
  argv: string[],
  env: Readonly<Record<string, string | undefined>>,
): OperatorOptions | undefined {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      kubeconfig: { type: 'string' },
      namespace: { type: 'string' },
      'mesh-provider': { type: 'string' },
      'metrics-server': { type: 'string' },
      'query-timeout': { type: 'string' },
      'cluster-name': { type: 'string' },
      'include-label-prefix': { type: 'string' },
      'selector-labels': { type: 'string' },
      'revision-annotation': { type: 'string' },
      'enable-config-tracking': { type: 'string' },
      workers: { type: 'string' },
      'kube-api-qps': { type: 'string' },
      'kube-api-burst': { type: 'string' },
      'listen-address': { type: 'string' },
      'leader-elect': { type: 'boolean' },
      'leader-election-namespace': { type: 'string' },
      'leader-election-id': { type: 'string' },
      'leader-election-lease-duration': { type: 'string' },
      'leader-election-renew-deadline': { type: 'string' },
      'leader-election-retry-period': { type: 'string' },
      'log-level': { type: 'string' },
      'alert-severity': { type: 'string' },
      'event-webhook': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      ...Object.fromEntries(alertFlagNames.map((name) => [name, { type: 'string' as const }])),
    },
  });
  if (values.help) return undefined;
  const flag = (name: string): string | undefined => {
    const value = (values as Record<string, unknown>)[name];
    return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
  };

  const logLevel = flag('log-level') ?? env.LOG_LEVEL ?? 'info';
  if (!isLogLevel(logLevel))
    throw new UsageError(`--log-level "${logLevel}" must be one of ${LogLevels.join(', ')}`);

  const meshProvider = flag('mesh-provider') ?? 'kubernetes';
  if (!(RouterProviders as readonly string[]).includes(meshProvider)) {
    throw new UsageError(
      `--mesh-provider "${meshProvider}" is not a known router; use one of ${RouterProviders.join(', ')}`,
    );
  }

  const metricsServer = flag('metrics-server');
  if (metricsServer !== undefined && !/^https?:\/\/[^\s]+$/.test(metricsServer)) {
    throw new UsageError(
      `--metrics-server "${metricsServer}" must be an http(s) URL such as http://prometheus:9090`,
    );
  }

  const duration = (name: string, fallback: string): number => {
    try {
      return parseGoDuration(flag(name) ?? fallback, `--${name}`);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  };
  const queryTimeoutMs = duration('query-timeout', '30s');

  const workersText = flag('workers') ?? '4';
  const workers = Number(workersText);
  if (!Number.isInteger(workers) || workers < 1 || workers > 64) {
    throw new UsageError(`--workers "${workersText}" must be a whole number from 1 to 64`);
  }

  const qpsText = flag('kube-api-qps') ?? '100';
  const qps = Number(qpsText);
  if (!(qps > 0 && qps <= 10_000)) {
    throw new UsageError(`--kube-api-qps "${qpsText}" must be a number above 0, at most 10000`);
  }
  const burstText = flag('kube-api-burst') ?? '200';
  const burst = Number(burstText);
  if (!Number.isInteger(burst) || burst < 1 || burst > 10_000) {
    throw new UsageError(`--kube-api-burst "${burstText}" must be a whole number from 1 to 10000`);
  }

  const tracking = flag('enable-config-tracking') ?? 'true';
  if (tracking !== 'true' && tracking !== 'false') {
    throw new UsageError(`--enable-config-tracking "${tracking}" must be true or false`);
  }

  const revisionAnnotation = flag('revision-annotation') ?? REVISION_ANNOTATION;
  if (!isLabelKey(revisionAnnotation)) {
    throw new UsageError(
      `--revision-annotation "${revisionAnnotation}" must be an annotation key such as ${REVISION_ANNOTATION}`,
    );
  }

  const namespace = flag('namespace');
  const list = (text: string) =>
    text
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');

  const alertFlags: DefaultAlertFlags = {};
  for (const name of [...alertFlagNames, 'alert-severity']) {
    const value = flag(name);
    if (value !== undefined) alertFlags[name as keyof DefaultAlertFlags] = value;
  }

  return {
    kubeconfig: flag('kubeconfig') ?? env.KUBECONFIG,
    namespace,
    logLevel,
    meshProvider,
    metricsServer,
    clusterName: flag('cluster-name') ?? '',
    includeLabelPrefixes: list(flag('include-label-prefix') ?? ''),
    selectorLabels: list(flag('selector-labels') ?? 'app,name,app.kubernetes.io/name'),
    revisionAnnotation,
    configTracking: tracking === 'true',
    workers,
    kubeApi: { qps, burst },
    listenAddress: flag('listen-address') ?? ':8080',
    queryTimeoutMs,
    leaderElection: values['leader-elect']
      ? {
          namespace: flag('leader-election-namespace') ?? namespace ?? 'default',
          id: flag('leader-election-id') ?? 'fledge',
          identity: `${env.POD_NAME ?? hostname()}-${Math.random().toString(36).slice(2, 8)}`,
          ...leaseDurations(duration),
        }
      : undefined,
    alertFlags,
    eventWebhook: flag('event-webhook') ?? env.EVENT_WEBHOOK_URL,
  };
}

/**
 * The Lease timings, checked as the elector needs them: the leader must stop acting
 * (renew deadline) before a standby may take over (lease duration), and get more than
 * one jittered retry within its deadline.
 */
function leaseDurations(
  duration: (name: string, fallback: string) => number,
): Pick<LeaderElectionFlags, 'leaseDurationMs' | 'renewDeadlineMs' | 'retryPeriodMs'> {
  const leaseDurationMs = duration('leader-election-lease-duration', '15s');
  const renewDeadlineMs = duration('leader-election-renew-deadline', '10s');
  const retryPeriodMs = duration('leader-election-retry-period', '2s');
  if (leaseDurationMs % 1000 !== 0 || leaseDurationMs < 1000)
    throw new UsageError('--leader-election-lease-duration must be whole seconds (the Lease stores seconds)');
  if (renewDeadlineMs >= leaseDurationMs)
    throw new UsageError(
      '--leader-election-renew-deadline must be shorter than --leader-election-lease-duration: ' +
        'the leader must stop acting before a standby may take over',
    );
  if (retryPeriodMs <= 0 || renewDeadlineMs <= 1.2 * retryPeriodMs)
    throw new UsageError(
      '--leader-election-retry-period must be above zero and under --leader-election-renew-deadline / 1.2',
    );
  return { leaseDurationMs, renewDeadlineMs, retryPeriodMs };
}
