import { cloneJson } from './clone.ts';
import type {
  AlertSeverity,
  Canary,
  CanaryAlert,
  CanaryAnalysis,
  CanaryMetric,
  CanaryService,
  CanarySpec,
  CanaryThresholdRange,
  CanaryWebhook,
  LocalReference,
  RouterProvider,
  SessionAffinity,
  WebhookType,
} from './canary.ts';
import { parseGoDuration } from './duration.ts';
import type { Strategy } from './status.ts';

// Turns an admitted Canary into the shape the engine works with: deprecated
// Flagger aliases mapped to their replacements and every default made explicit,
// so no other module re-derives a default. Pure: the input is never mutated.

export const DEFAULT_ANALYSIS_INTERVAL = '60s';
export const DEFAULT_THRESHOLD = 1;
export const DEFAULT_MAX_WEIGHT = 100;
export const DEFAULT_READY_THRESHOLD = 100;
export const DEFAULT_PROGRESS_DEADLINE_SECONDS = 600;
export const DEFAULT_METRIC_INTERVAL = '1m';
export const DEFAULT_WEBHOOK_TIMEOUT = '10s';
export const DEFAULT_SESSION_MAX_AGE_SECONDS = 86_400;
export const DEFAULT_PORT_NAME = 'http';

export interface NormalizationNote {
  /** Path of the field in the original spec, e.g. `spec.analysis.metrics[0].threshold`. */
  field: string;
  /** `alias`: a deprecated Flagger form was rewritten; `default`: an omitted field was filled in. */
  kind: 'alias' | 'default';
  message: string;
}

type FullReference = Required<LocalReference>;

export type NormalizedMetric = Omit<
  CanaryMetric,
  'threshold' | 'interval' | 'thresholdRange' | 'templateRef'
> & {
  interval: string;
  thresholdRange: CanaryThresholdRange;
  templateRef?: FullReference;
};

export type NormalizedWebhook = Omit<
  CanaryWebhook,
  'type' | 'timeout' | 'retries' | 'disableTLS' | 'muteAlert'
> & {
  type: WebhookType;
  timeout: string;
  retries: number;
  disableTLS: boolean;
  muteAlert: boolean;
};

export type NormalizedAlert = Omit<CanaryAlert, 'severity' | 'providerRef'> & {
  severity: AlertSeverity;
  providerRef: FullReference;
};

export type NormalizedSessionAffinity = SessionAffinity & { maxAge: number };

export type NormalizedAnalysis = Omit<
  CanaryAnalysis,
  | 'interval'
  | 'threshold'
  | 'mirror'
  | 'primaryReadyThreshold'
  | 'canaryReadyThreshold'
  | 'sessionAffinity'
  | 'metrics'
  | 'webhooks'
  | 'alerts'
> & {
  interval: string;
  threshold: number;
  mirror: boolean;
  primaryReadyThreshold: number;
  canaryReadyThreshold: number;
  sessionAffinity?: NormalizedSessionAffinity;
  metrics: NormalizedMetric[];
  webhooks: NormalizedWebhook[];
  alerts: NormalizedAlert[];
};

export type NormalizedService = CanaryService & {
  name: string;
  portName: string;
  targetPort: number | string;
};

export type NormalizedCanarySpec = Omit<
  CanarySpec,
  | 'analysis'
  | 'canaryAnalysis'
  | 'service'
  | 'progressDeadlineSeconds'
  | 'skipAnalysis'
  | 'revertOnDeletion'
  | 'suspend'
> & {
  analysis: NormalizedAnalysis;
  service?: NormalizedService;
  progressDeadlineSeconds: number;
  skipAnalysis: boolean;
  revertOnDeletion: boolean;
  suspend: boolean;
};

export interface NormalizedCanary {
  spec: NormalizedCanarySpec;
  /** The strategy the analysis settings select (Flagger infers it the same way). */
  strategy: Strategy;
  notes: NormalizationNote[];
}

export interface NormalizeOptions {
  /** The controller's default router, filled in when spec.provider is omitted. */
  defaultProvider?: RouterProvider;
}

/**
 * Strategy selected by the analysis settings: iterations with match is A/B
 * testing, iterations alone blue/green (with mirroring when mirror is set),
 * anything else a progressive canary.
 */
export function deriveStrategy(analysis: Pick<CanaryAnalysis, 'iterations' | 'match' | 'mirror'>): Strategy {
  if (analysis.iterations === undefined) return 'Canary';
  if (analysis.match !== undefined && analysis.match.length > 0) return 'ABTesting';
  return analysis.mirror === true ? 'BlueGreenMirroring' : 'BlueGreen';
}

/** Normalise an admitted Canary. Throws if it lacks fields the schema requires. */
export function normalizeCanary(
  canary: Pick<Canary, 'metadata' | 'spec'>,
  options: NormalizeOptions = {},
): NormalizedCanary {
  const notes: NormalizationNote[] = [];
  const namespace = canary.metadata.namespace;
  if (namespace === undefined || namespace === '') {
    throw new Error(
      'metadata.namespace is required to resolve references; read the Canary from the apiserver',
    );
  }
  const spec = cloneJson(canary.spec);
  const note = (field: string, kind: NormalizationNote['kind'], message: string) => {
    notes.push({ field, kind, message });
  };

  const { analysis: current, canaryAnalysis: legacy, service, ...rest } = spec;
  let analysisPath = 'spec.analysis';
  let analysis = current;
  if (analysis === undefined) {
    if (legacy === undefined) {
      throw new Error('spec.analysis is required: the Canary was not validated by the fledge.dev CRD schema');
    }
    analysis = legacy;
    analysisPath = 'spec.canaryAnalysis';
    note(analysisPath, 'alias', 'spec.canaryAnalysis is deprecated: read as spec.analysis; rename the field');
  }

  const provider = rest.provider ?? options.defaultProvider;
  if (rest.provider === undefined && provider !== undefined) {
    note('spec.provider', 'default', `spec.provider not set: using the controller default ${provider}`);
  }

  const normalized: NormalizedCanarySpec = {
    ...rest,
    ...(provider === undefined ? {} : { provider }),
    analysis: normalizeAnalysis(analysis, analysisPath, namespace, note),
    progressDeadlineSeconds: withDefault(
      rest.progressDeadlineSeconds,
      DEFAULT_PROGRESS_DEADLINE_SECONDS,
      'spec.progressDeadlineSeconds',
      note,
    ),
    skipAnalysis: rest.skipAnalysis ?? false,
    revertOnDeletion: rest.revertOnDeletion ?? false,
    suspend: rest.suspend ?? false,
  };
  if (service !== undefined) {
    normalized.service = normalizeService(service, rest.targetRef.name, note);
  }
  return { spec: normalized, strategy: deriveStrategy(normalized.analysis), notes };
}

type Note = (field: string, kind: NormalizationNote['kind'], message: string) => void;

function withDefault<T>(value: T | undefined, fallback: T, field: string, note: Note): T {
  if (value !== undefined) return value;
  note(field, 'default', `${field} not set: using ${String(fallback)}`);
  return fallback;
}

function checkedDuration(value: string, field: string): string {
  parseGoDuration(value, field);
  return value;
}

function normalizeService(service: CanaryService, targetName: string, note: Note): NormalizedService {
  // Formats admission checks with CEL, for a Canary it never saw: InvalidSpec, not a router error.
  if (service.timeout !== undefined) checkedDuration(service.timeout, 'spec.service.timeout');
  if (service.backendTimeout !== undefined)
    checkedDuration(service.backendTimeout, 'spec.service.backendTimeout');
  if (service.retries?.perTryTimeout !== undefined)
    checkedDuration(service.retries.perTryTimeout, 'spec.service.retries.perTryTimeout');
  return {
    ...service,
    name: withDefault(service.name, targetName, 'spec.service.name', note),
    portName: withDefault(service.portName, DEFAULT_PORT_NAME, 'spec.service.portName', note),
    targetPort: withDefault<number | string>(
      service.targetPort,
      service.port,
      'spec.service.targetPort',
      note,
    ),
  };
}

function normalizeAnalysis(
  analysis: CanaryAnalysis,
  path: string,
  namespace: string,
  note: Note,
): NormalizedAnalysis {
  const { metrics = [], webhooks = [], alerts = [], sessionAffinity, ...rest } = analysis;
  const result: NormalizedAnalysis = {
    ...rest,
    // Admission checks the format with CEL; parsed here too so a Canary it never saw (a client-side
    // check, an older CRD) becomes InvalidSpec rather than an error on every decision.
    interval: checkedDuration(
      withDefault(analysis.interval, DEFAULT_ANALYSIS_INTERVAL, `${path}.interval`, note),
      `${path}.interval`,
    ),
    threshold: withDefault(analysis.threshold, DEFAULT_THRESHOLD, `${path}.threshold`, note),
    mirror: analysis.mirror ?? false,
    primaryReadyThreshold: withDefault(
      analysis.primaryReadyThreshold,
      DEFAULT_READY_THRESHOLD,
      `${path}.primaryReadyThreshold`,
      note,
    ),
    canaryReadyThreshold: withDefault(
      analysis.canaryReadyThreshold,
      DEFAULT_READY_THRESHOLD,
      `${path}.canaryReadyThreshold`,
      note,
    ),
    metrics: metrics.map((m, i) => normalizeMetric(m, `${path}.metrics[${i}]`, namespace, note)),
    webhooks: webhooks.map((w, i) => normalizeWebhook(w, `${path}.webhooks[${i}]`, note)),
    alerts: alerts.map((a, i) => normalizeAlert(a, `${path}.alerts[${i}]`, namespace, note)),
  };
  if (analysis.iterations === undefined) {
    // Admission's CEL rule says the same; repeated for a Canary it never saw.
    if (analysis.stepWeight === undefined && (analysis.stepWeights ?? []).length === 0) {
      throw new Error(
        `${path} needs a schedule: set stepWeight or stepWeights for a progressive canary, or iterations for A/B testing and blue/green`,
      );
    }
    // Progressive canary: the weight ceiling is explicit, or the last explicit step.
    const lastStep = analysis.stepWeights?.at(-1);
    result.maxWeight =
      lastStep ?? withDefault(analysis.maxWeight, DEFAULT_MAX_WEIGHT, `${path}.maxWeight`, note);
  }
  if (sessionAffinity !== undefined) {
    result.sessionAffinity = {
      ...sessionAffinity,
      maxAge: withDefault(
        sessionAffinity.maxAge,
        DEFAULT_SESSION_MAX_AGE_SECONDS,
        `${path}.sessionAffinity.maxAge`,
        note,
      ),
    };
  }
  return result;
}

/**
 * How Flagger read the deprecated scalar `threshold`: a floor for the builtin
 * request-success-rate, a ceiling for everything else (request-duration, inline
 * queries, template metrics, whatever their name).
 */
export function thresholdRangeFromDeprecated(
  metric: Pick<CanaryMetric, 'name' | 'query' | 'templateRef'>,
  threshold: number,
) {
  const builtinSuccessRate =
    metric.query === undefined && metric.templateRef === undefined && metric.name === 'request-success-rate';
  const bound: 'min' | 'max' = builtinSuccessRate ? 'min' : 'max';
  return { bound, range: { [bound]: threshold } as CanaryThresholdRange };
}

function normalizeMetric(
  metric: CanaryMetric,
  path: string,
  namespace: string,
  note: Note,
): NormalizedMetric {
  const { threshold, thresholdRange, templateRef, ...rest } = metric;
  let range = thresholdRange;
  if (range === undefined) {
    if (threshold === undefined) {
      throw new Error(
        `${path}.thresholdRange is required: the Canary was not validated by the fledge.dev CRD schema`,
      );
    }
    const { bound, range: mapped } = thresholdRangeFromDeprecated(metric, threshold);
    range = mapped;
    note(
      `${path}.threshold`,
      'alias',
      `threshold is deprecated: read as thresholdRange.${bound}: ${threshold}; write that instead`,
    );
  }
  if (metric.query !== undefined) {
    note(
      `${path}.query`,
      'alias',
      'inline query is deprecated: it runs against spec.metricsServer; move it into a MetricTemplate and use templateRef',
    );
  }
  const result: NormalizedMetric = {
    ...rest,
    interval: withDefault(metric.interval, DEFAULT_METRIC_INTERVAL, `${path}.interval`, note),
    thresholdRange: range,
  };
  if (templateRef !== undefined) {
    result.templateRef = { name: templateRef.name, namespace: templateRef.namespace ?? namespace };
  }
  return result;
}

function normalizeWebhook(webhook: CanaryWebhook, path: string, note: Note): NormalizedWebhook {
  let type: WebhookType;
  if (webhook.type === undefined) {
    type = 'rollout';
    note(`${path}.type`, 'default', 'webhook type not set: using rollout');
  } else if (webhook.type === '') {
    type = 'rollout';
    note(`${path}.type`, 'alias', 'empty webhook type is read as rollout; write type: rollout');
  } else {
    type = webhook.type;
  }
  if (webhook.timeout !== undefined) checkedDuration(webhook.timeout, `${path}.timeout`);
  return {
    ...webhook,
    type,
    timeout: withDefault(webhook.timeout, DEFAULT_WEBHOOK_TIMEOUT, `${path}.timeout`, note),
    retries: webhook.retries ?? 0,
    disableTLS: webhook.disableTLS ?? false,
    muteAlert: webhook.muteAlert ?? false,
  };
}

function normalizeAlert(alert: CanaryAlert, path: string, namespace: string, note: Note): NormalizedAlert {
  let severity: AlertSeverity;
  if (alert.severity === undefined) {
    severity = 'info';
    note(`${path}.severity`, 'default', 'alert severity not set: using info');
  } else if (alert.severity === '') {
    severity = 'info';
    note(`${path}.severity`, 'alias', 'empty alert severity is read as info; write severity: info');
  } else {
    severity = alert.severity;
  }
  return {
    ...alert,
    severity,
    providerRef: { name: alert.providerRef.name, namespace: alert.providerRef.namespace ?? namespace },
  };
}
