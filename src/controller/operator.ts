import type { KubernetesListObject, KubernetesObject, V1PodSpec } from '@kubernetes/client-node';
import { Counter, Gauge, Histogram } from 'prom-client';
import {
  API_VERSION,
  CANARY_PLURAL,
  GROUP,
  VERSION,
  type AlertProvider,
  type Canary,
  type MetricTemplate,
  type RouterProvider,
} from '../api/index.ts';
import { ProviderCache, providerFactories, type Measurement, type MeasureDeps } from '../analysis/index.ts';
import type { HookResult } from '../engine/index.ts';
import { TaskExecutor, WebhookClient, type TaskExecutorMetrics } from '../hooks/index.ts';
import { apiserverPool } from '../kube/agent.ts';
import { CachedObjectClient, type CacheFor } from '../kube/cached-client.ts';
import {
  createKubeClients,
  loadKubeConfig,
  type KubeClients,
  type KubeObjectClient,
} from '../kube/client.ts';
import { isNotFound } from '../kube/errors.ts';
import { EventRecorder, KubeEventSink } from '../kube/events.ts';
import { KubeLeaseStore } from '../kube/leases.ts';
import { AlertDispatcher, createAlertMetrics, defaultAlertTargetsFromEnv } from '../notifiers/index.ts';
import {
  HTTPROUTE_API_VERSION,
  HTTPROUTE_KIND,
  KNATIVE_API_VERSION,
  createRouter,
  type Router,
} from '../routers/index.ts';
import { createInformer, type SupervisedInformer } from '../runtime/informer.ts';
import { objectKey } from '../runtime/keys.ts';
import { LeaderElector } from '../runtime/leader-election.ts';
import { WorkQueue, instrumentHandler } from '../runtime/work-queue.ts';
import type { Logger } from '../telemetry/logger.ts';
import { createMetrics, type FledgeMetrics } from '../telemetry/metrics.ts';
import {
  informerLiveness,
  informerReadiness,
  leaderElectionReadiness,
  startTelemetryServer,
  type HealthCheck,
  type TelemetryServer,
} from '../telemetry/server.ts';
import { version } from '../version.ts';
import { collectConfigRefs } from '../workloads/configs.ts';
import { createWorkloadRegistry, PRIMARY_SUFFIX } from '../workloads/index.ts';
import { Effects } from './effects.ts';
import { RefusalReasons, TransientReasons } from './failures.ts';
import { SourceRevisions } from './source-revision.ts';
import { Observer, type RouterSet } from './observer.ts';
import { createPreflight } from './preflight.ts';
import { referenceResolver, type ReferencedKind } from './references.ts';
import type { OperatorOptions } from './options.ts';
import { createReconciler } from './reconciler.ts';
import { CanaryTelemetry } from './telemetry.ts';

export interface RunningOperator {
  /** URL of /metrics, /healthz and /readyz. */
  readonly telemetryUrl: string;
  /** Settles when the operator stopped by itself (lost leadership). */
  readonly stopped: Promise<{ reason: string }>;
  stop(): Promise<void>;
}

type PodWorkload = KubernetesObject & { spec?: { template?: { spec?: V1PodSpec } } };

/** How long settled hook and metric results wait for their canary's next reconcile. */
const resultTtlMs = 15 * 60_000;

/**
 * Wires the operator: informers that only enqueue Canary keys, one keyed work
 * queue running reconcile (observe, decide, act), background executors for hooks
 * and metric queries, alert delivery, events, metrics, health, leader election.
 */
export async function startOperator(options: OperatorOptions, log: Logger): Promise<RunningOperator> {
  const kubeConfig = loadKubeConfig(options.kubeconfig ? { kubeconfigPath: options.kubeconfig } : {});
  const kube = createKubeClients(kubeConfig);
  apiserverPool(kubeConfig).setRateLimit(options.kubeApi);
  const metrics = createMetrics({ version, meshProvider: options.meshProvider });
  log.info(
    { server: kubeConfig.getCurrentCluster()?.server, namespace: options.namespace ?? '(all)', version },
    'starting',
  );

  const informers = createInformers(kube, options, metrics, log);
  const httpRoutes = await optionalInformer(kube, options, metrics, log, HTTPROUTE_API_VERSION, 'httproutes');
  const knativeServices = await optionalInformer(
    kube,
    options,
    metrics,
    log,
    KNATIVE_API_VERSION,
    'services',
  );
  // Read on every observe of an autoscaled Canary: cached when the API is served.
  const autoscalers = {
    'autoscaling/v2/HorizontalPodAutoscaler': await optionalInformer(
      kube,
      options,
      metrics,
      log,
      'autoscaling/v2',
      'horizontalpodautoscalers',
    ),
    'keda.sh/v1alpha1/ScaledObject': await optionalInformer(
      kube,
      options,
      metrics,
      log,
      'keda.sh/v1alpha1',
      'scaledobjects',
    ),
  };
  const queue: WorkQueue = new WorkQueue({
    name: 'canary',
    workers: options.workers,
    metrics: metrics.workQueue,
    handler: instrumentHandler((key, signal) => reconcile(key, signal), metrics.reconcile),
    onError: (key, error, retryInMs) =>
      log.warn({ canary: key, err: error, retryInMs }, 'reconcile failed; retrying with back-off'),
  });
  const enqueue = (key: string) => queue.add(key);
  wireHandlers(informers, enqueue);
  // A route's weights or its Gateway's verdict changed: the Canary whose apex it is.
  httpRoutes?.addHandler({
    enqueue,
    keysFor: (route) =>
      informers.canaries
        .list(route.metadata?.namespace)
        .filter((c) => (c.spec.service?.name ?? c.spec.targetRef.name) === route.metadata?.name)
        .map((c) => objectKey(c.metadata.namespace, c.metadata.name ?? '')),
  });
  // A Knative Service's revisions or traffic changed: the Canary that targets it.
  knativeServices?.addHandler({
    enqueue,
    keysFor: (service) =>
      informers.canaries
        .list(service.metadata?.namespace)
        .filter(
          (c) =>
            c.spec.targetRef.apiVersion === KNATIVE_API_VERSION &&
            c.spec.targetRef.name === service.metadata?.name,
        )
        .map((c) => objectKey(c.metadata.namespace, c.metadata.name ?? '')),
  });

  const executorMetrics = createExecutorMetrics(metrics);
  const hooks = new TaskExecutor<HookResult>({
    name: 'webhooks',
    concurrency: 16,
    perKeyConcurrency: 4,
    resultTtlMs,
    onSettled: enqueue,
    logger: log,
    metrics: executorMetrics,
  });
  const measurements = new TaskExecutor<Measurement>({
    name: 'metrics',
    concurrency: 16,
    perKeyConcurrency: 4,
    resultTtlMs,
    onSettled: enqueue,
    logger: log,
    metrics: executorMetrics,
  });

  // Workloads, Services and the rest of what informers watch are read from their caches.
  const objects = new CachedObjectClient(
    kube.kubeConfig,
    cacheFor(
      informers,
      { [`${HTTPROUTE_API_VERSION}/${HTTPROUTE_KIND}`]: httpRoutes, ...autoscalers },
      options.namespace,
    ),
    {
      counters: {
        cached: (kind) => metrics.cachedReads.inc({ kind }),
        applySkipped: (kind) => metrics.appliesSkipped.inc({ kind }),
      },
    },
  );
  const workloads = createWorkloadRegistry({
    client: objects,
    options: {
      selectorLabels: options.selectorLabels,
      includeLabelPrefixes: options.includeLabelPrefixes,
      configTracking: options.configTracking,
    },
  });
  const routers = routerSet(objects);
  const sourceRevisions = new SourceRevisions({
    client: kube.objects,
    annotation: options.revisionAnnotation,
    log,
  });
  const observer = new Observer({ workloads, routers, hooks, measurements, sourceRevisions });
  const webhooks = new WebhookClient({ logger: log });
  const events = new EventRecorder({
    sink: new KubeEventSink(kube.objects),
    reportingInstance: options.leaderElection?.identity ?? 'fledge',
    log,
    onDropped: (reason) => metrics.eventsDropped.inc({ reason }),
  });
  const alerts = new AlertDispatcher({
    logger: log,
    metrics: createAlertMetrics(metrics.registry),
    onDeliveryFailed: (failure) => log.warn({ failure }, 'alert not delivered'),
  });
  const providers = new ProviderCache({ context: { cluster: kube.objects } });
  const telemetry = new CanaryTelemetry(metrics);
  const templates = resolverFor(kube, informers.metricTemplates, 'MetricTemplate', options.namespace);
  const alertProviders = resolverFor(kube, informers.alertProviders, 'AlertProvider', options.namespace);
  for (const reason of TransientReasons) metrics.transientErrors.inc({ reason }, 0);
  for (const reason of RefusalReasons) metrics.refusals.inc({ reason }, 0);
  const effects = new Effects({
    log,
    client: objects,
    workloads,
    routers,
    observer,
    webhooks,
    events,
    alerts,
    defaultAlerts: defaultAlertTargetsFromEnv(process.env, options.alertFlags),
    eventWebhook: options.eventWebhook,
    measureDeps: measureDeps(objects, templates, providers, options),
    defaultProvider: options.meshProvider,
    metrics,
    alertProviders: { get: alertProviders },
  });
  const reconcile = createReconciler({
    log,
    now: () => new Date(),
    clusterName: options.clusterName,
    defaultProvider: options.meshProvider as RouterProvider,
    client: kube.objects,
    canaries: informers.canaries,
    observer,
    effects,
    telemetry,
    preflight: createPreflight({
      getMetricTemplate: templates,
      canariesIn: (namespace) => informers.canaries.list(namespace),
      metricProviderTypes: Object.keys(providerFactories),
      getWorkload: (kind, namespace, name) =>
        (kind === 'DaemonSet' ? informers.daemonSets : informers.deployments).get(namespace, name),
      getAlertProvider: alertProviders,
    }),
    failures: {
      transient: (reason) => metrics.transientErrors.inc({ reason }),
      refused: (reason) => metrics.refusals.inc({ reason }),
    },
  });

  const all = Object.values(informers);
  for (const informer of all) informer.start();
  httpRoutes?.start();
  knativeServices?.start();
  for (const informer of Object.values(autoscalers)) informer?.start();

  let resolveStopped: (value: { reason: string }) => void = () => undefined;
  const stopped = new Promise<{ reason: string }>((resolve) => (resolveStopped = resolve));
  const elector = options.leaderElection
    ? new LeaderElector({
        identity: options.leaderElection.identity,
        name: options.leaderElection.id,
        leaseDurationMs: options.leaderElection.leaseDurationMs,
        renewDeadlineMs: options.leaderElection.renewDeadlineMs,
        retryPeriodMs: options.leaderElection.retryPeriodMs,
        store: new KubeLeaseStore(kube.objects, options.leaderElection.namespace, options.leaderElection.id),
        metrics: metrics.leaderElection,
        log,
        onStartedLeading: () => {
          log.info({ identity: options.leaderElection?.identity }, 'leading: starting reconciles');
          void startWhenSynced();
        },
        // Stop acting at once; the process then exits so it restarts as a candidate.
        onStoppedLeading: (reason) => {
          log.warn({ reason }, 'leadership lost: stopping all reconciles');
          void queue
            .shutdown({ drain: false })
            .then(() => resolveStopped({ reason: `leadership lost (${reason})` }));
        },
      })
    : undefined;

  const liveness: HealthCheck[] = all.map(informerLiveness);
  const readiness: HealthCheck[] = [
    ...all.map(informerReadiness),
    ...(elector ? [leaderElectionReadiness(elector)] : []),
  ];
  const server: TelemetryServer = await startTelemetryServer({
    listenAddress: options.listenAddress,
    registry: metrics.registry,
    liveness,
    readiness,
    log,
  });
  // Not under `url`: the logger redacts every url field, and this one is not a secret.
  log.info({ endpoint: server.url }, 'serving /metrics, /healthz and /readyz');

  let started = false;
  async function startWhenSynced(): Promise<void> {
    await Promise.all(all.map((informer) => informer.whenSynced()));
    if (started) return;
    started = true;
    queue.start();
    for (const canary of informers.canaries.list())
      enqueue(objectKey(canary.metadata?.namespace, canary.metadata?.name ?? ''));
    log.info({ canaries: informers.canaries.list().length }, 'watching canaries');
  }
  if (elector) elector.start();
  else void startWhenSynced();

  return {
    telemetryUrl: server.url,
    stopped,
    stop: async () => {
      await queue.shutdown({ drain: false });
      await elector?.stop();
      for (const informer of all) informer.stop();
      httpRoutes?.stop();
      knativeServices?.stop();
      for (const informer of Object.values(autoscalers)) informer?.stop();
      await Promise.all([hooks.shutdown(), measurements.shutdown()]);
      await webhooks.drainEvents();
      await Promise.all([webhooks.close(), alerts.close(), events.flush(), server.close()]);
      providers.close();
    },
  };
}

interface Informers {
  canaries: SupervisedInformer<Canary & KubernetesObject>;
  deployments: SupervisedInformer<PodWorkload>;
  daemonSets: SupervisedInformer<PodWorkload>;
  configMaps: SupervisedInformer<KubernetesObject>;
  secrets: SupervisedInformer<KubernetesObject>;
  services: SupervisedInformer<KubernetesObject>;
  metricTemplates: SupervisedInformer<MetricTemplate & KubernetesObject>;
  alertProviders: SupervisedInformer<AlertProvider & KubernetesObject>;
}

function createInformers(
  kube: KubeClients,
  options: OperatorOptions,
  metrics: FledgeMetrics,
  log: Logger,
): Informers {
  const ns = options.namespace;
  const scoped = (prefix: string, plural: string) =>
    ns ? `${prefix}/namespaces/${ns}/${plural}` : `${prefix}/${plural}`;
  const common = { metrics: metrics.informer, log };
  // Listed as plain JSON, as the watch sends it: the caches answer the workloads' and routers'
  // reads (CachedObjectClient).
  const informer = <T extends KubernetesObject>(resource: string, prefix: string) => {
    const path = scoped(prefix, resource);
    return createInformer<T>(kube.kubeConfig, {
      ...common,
      resource,
      path,
      list: () => kube.objects.request<KubernetesListObject<T>>('GET', path, undefined, undefined, {}),
    });
  };
  const custom = <T extends KubernetesObject>(plural: string) =>
    informer<T>(plural, `/apis/${GROUP}/${VERSION}`);
  return {
    canaries: custom(CANARY_PLURAL),
    metricTemplates: custom('metrictemplates'),
    alertProviders: custom('alertproviders'),
    deployments: informer<PodWorkload>('deployments', '/apis/apps/v1'),
    daemonSets: informer<PodWorkload>('daemonsets', '/apis/apps/v1'),
    configMaps: informer<KubernetesObject>('configmaps', '/api/v1'),
    secrets: informer<KubernetesObject>('secrets', '/api/v1'),
    services: informer<KubernetesObject>('services', '/api/v1'),
  };
}

/**
 * An informer of `plural` in `apiVersion` when the apiserver serves it at start, else undefined.
 * Outside health and the start-up wait: a cluster without that API (the Gateway API, Knative),
 * or one that loses it, must not stop the operator.
 */
async function optionalInformer(
  kube: KubeClients,
  options: OperatorOptions,
  metrics: FledgeMetrics,
  log: Logger,
  apiVersion: string,
  plural: string,
): Promise<SupervisedInformer<KubernetesObject> | undefined> {
  try {
    const resources = await kube.objects.request<{ resources?: { name: string }[] }>(
      'GET',
      `/apis/${apiVersion}`,
      undefined,
      undefined,
      {},
    );
    if (!resources.resources?.some((resource) => resource.name === plural)) return undefined;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
  const path = options.namespace
    ? `/apis/${apiVersion}/namespaces/${options.namespace}/${plural}`
    : `/apis/${apiVersion}/${plural}`;
  return createInformer<KubernetesObject>(kube.kubeConfig, {
    metrics: metrics.informer,
    log,
    resource: plural,
    path,
    list: () =>
      kube.objects.request<KubernetesListObject<KubernetesObject>>('GET', path, undefined, undefined, {}),
  });
}

/**
 * The informer caching `ref`'s kind in `ref`'s namespace, if one does. `optional` informers, by
 * apiVersion/kind (HTTPRoutes, autoscalers; undefined when their API was not served at start),
 * answer once synced.
 */
export function cacheFor(
  informers: Pick<Informers, 'deployments' | 'daemonSets' | 'configMaps' | 'secrets' | 'services'>,
  optional: Record<string, SupervisedInformer<KubernetesObject> | undefined>,
  watched: string | undefined,
): CacheFor {
  const byKind: Record<string, SupervisedInformer<KubernetesObject>> = {
    'apps/v1/Deployment': informers.deployments,
    'apps/v1/DaemonSet': informers.daemonSets,
    'v1/ConfigMap': informers.configMaps,
    'v1/Secret': informers.secrets,
    'v1/Service': informers.services,
  };
  return (ref) => {
    if (watched !== undefined && ref.namespace !== watched) return undefined;
    const kind = `${ref.apiVersion}/${ref.kind}`;
    if (kind in optional) return optional[kind]?.hasSynced() === true ? optional[kind] : undefined;
    return byKind[kind];
  };
}

/** Every informer only maps its objects to the keys of the Canaries they concern. */
function wireHandlers(informers: Informers, enqueue: (key: string) => void): void {
  const canariesIn = (namespace: string | undefined) => informers.canaries.list(namespace);
  const keyOf = (canary: Canary) => objectKey(canary.metadata.namespace, canary.metadata.name ?? '');
  // A Canary also concerns the others on its target: deleting or moving the one that holds
  // a target lets the next one take it.
  informers.canaries.addHandler({
    enqueue,
    keysFor: (canary) => [
      keyOf(canary),
      ...canariesIn(canary.metadata.namespace)
        .filter(
          (other) =>
            other.metadata.uid !== canary.metadata.uid &&
            other.spec.targetRef.kind === canary.spec.targetRef.kind &&
            other.spec.targetRef.name === canary.spec.targetRef.name,
        )
        .map(keyOf),
    ],
  });

  // A target or its primary changed: the Canary that targets it.
  const workloadKeys = (kind: string) => (object: Readonly<PodWorkload>) => {
    const name = object.metadata?.name ?? '';
    const target = name.endsWith(PRIMARY_SUFFIX) ? name.slice(0, -PRIMARY_SUFFIX.length) : name;
    return canariesIn(object.metadata?.namespace)
      .filter(
        (c) =>
          c.spec.targetRef.kind === kind &&
          (c.spec.targetRef.name === name || c.spec.targetRef.name === target),
      )
      .map(keyOf);
  };
  informers.deployments.addHandler({ enqueue, keysFor: workloadKeys('Deployment') });
  // A Service target changed (a new revision of it): the Canary that releases it.
  informers.services.addHandler({
    enqueue,
    keysFor: (service) =>
      canariesIn(service.metadata?.namespace)
        .filter(
          (c) =>
            c.spec.targetRef.apiVersion === 'v1' &&
            c.spec.targetRef.kind === 'Service' &&
            c.spec.targetRef.name === service.metadata?.name,
        )
        .map(keyOf),
  });
  informers.daemonSets.addHandler({ enqueue, keysFor: workloadKeys('DaemonSet') });

  // A ConfigMap or Secret changed: the Canaries whose target uses it.
  const configKeys = (kind: 'configmap' | 'secret') => (object: Readonly<KubernetesObject>) => {
    const namespace = object.metadata?.namespace;
    const name = object.metadata?.name ?? '';
    return canariesIn(namespace)
      .filter((canary) => {
        const { kind: targetKind, name: targetName } = canary.spec.targetRef;
        const source = targetKind === 'DaemonSet' ? informers.daemonSets : informers.deployments;
        const podSpec = source.get(namespace ?? '', targetName)?.spec?.template?.spec;
        return (
          podSpec !== undefined &&
          collectConfigRefs(podSpec).some((ref) => ref.kind === kind && ref.name === name)
        );
      })
      .map(keyOf);
  };
  informers.configMaps.addHandler({ enqueue, keysFor: configKeys('configmap') });
  informers.secrets.addHandler({ enqueue, keysFor: configKeys('secret') });

  // A MetricTemplate or AlertProvider changed: the Canaries that name it (one refused for its absence goes on).
  type Ref = { name?: string; namespace?: string } | undefined;
  const referrers =
    (refsOf: (analysis: NonNullable<Canary['spec']['analysis']>) => Ref[]) =>
    (object: Readonly<KubernetesObject>) =>
      [...informers.canaries.list()]
        .filter((canary) => {
          const analysis = canary.spec.analysis ?? canary.spec.canaryAnalysis;
          return (analysis === undefined ? [] : refsOf(analysis)).some(
            (ref) =>
              ref?.name === object.metadata?.name &&
              (ref?.namespace ?? canary.metadata.namespace) === object.metadata?.namespace,
          );
        })
        .map(keyOf);
  informers.metricTemplates.addHandler({
    enqueue,
    keysFor: referrers((analysis) => (analysis.metrics ?? []).map((m) => m.templateRef)),
  });
  informers.alertProviders.addHandler({
    enqueue,
    keysFor: referrers((analysis) => (analysis.alerts ?? []).map((a) => a.providerRef)),
  });
}

function routerSet(client: KubeObjectClient): RouterSet {
  const routers = new Map<string, Router>();
  return {
    forProvider(provider) {
      let router = routers.get(provider);
      if (!router) routers.set(provider, (router = createRouter(provider, { client })));
      return router;
    },
  };
}

function measureDeps(
  client: KubeObjectClient,
  templates: (namespace: string, name: string) => Promise<(MetricTemplate & KubernetesObject) | undefined>,
  providers: ProviderCache,
  options: OperatorOptions,
): MeasureDeps {
  return {
    getMetricTemplate: async (ref) => templates(ref.namespace, ref.name),
    getSecretData: async (ref) => {
      try {
        const secret = await client.get<KubernetesObject & { data?: Record<string, string> }>({
          apiVersion: 'v1',
          kind: 'Secret',
          namespace: ref.namespace,
          name: ref.name,
        });
        return Object.fromEntries(
          Object.entries(secret.data ?? {}).map(([key, value]) => [
            key,
            Buffer.from(value, 'base64').toString('utf8'),
          ]),
        );
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
    providerFor: (config) => providers.providerFor(config),
    ...(options.metricsServer ? { defaultMetricsServer: options.metricsServer } : {}),
    queryTimeoutMs: options.queryTimeoutMs,
    now: () => new Date(),
  };
}

function createExecutorMetrics(metrics: FledgeMetrics): TaskExecutorMetrics {
  const registers = [metrics.registry];
  return {
    started: new Counter({
      name: 'fledge_tasks_started_total',
      help: 'Hook calls and metric queries started in the background',
      labelNames: ['executor'] as const,
      registers,
    }),
    finished: new Counter({
      name: 'fledge_tasks_finished_total',
      help: 'Hook calls and metric queries finished, by outcome',
      labelNames: ['executor', 'outcome'] as const,
      registers,
    }),
    running: new Gauge({
      name: 'fledge_tasks_running',
      help: 'Hook calls and metric queries running now',
      labelNames: ['executor'] as const,
      registers,
    }),
    queueWait: new Histogram({
      name: 'fledge_tasks_queue_wait_seconds',
      help: 'Time a hook call or metric query waited for a free slot',
      labelNames: ['executor'] as const,
      registers,
    }),
  };
}

function resolverFor<T extends KubernetesObject>(
  kube: KubeClients,
  informer: SupervisedInformer<T>,
  kind: ReferencedKind,
  watched: string | undefined,
) {
  return referenceResolver<T>(kind, watched, {
    cached: (namespace, name) => informer.get(namespace, name) as T | undefined,
    read: (readKind, namespace, name) =>
      kube.objects.get<T>({ apiVersion: API_VERSION, kind: readKind, namespace, name }),
  });
}
