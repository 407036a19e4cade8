import type { KubernetesObject } from '@kubernetes/client-node';
import {
  API_VERSION,
  CANARY_KIND,
  type AlertProvider,
  type Canary,
  type CanaryStatus,
  type NormalizedCanarySpec,
  type Phase,
} from '../api/index.ts';
import { analysisContextFor, measure, recordMeasurement, type MeasureDeps } from '../analysis/index.ts';
import type { Action, RouteSpec } from '../engine/index.ts';
import { eventWebhooksFor, webhookChecksum, type WebhookClient } from '../hooks/index.ts';
import type { KubeObjectClient } from '../kube/client.ts';
import { describeKubeError, isNotFound, normalizeKubeError } from '../kube/errors.ts';
import type { EventRecorder } from '../kube/events.ts';
import {
  recipientsFor,
  resolveProviderConfig,
  type AlertDispatcher,
  type AlertMessage,
  type AlertSubscription,
} from '../notifiers/index.ts';
import { applyServices, finalizeServices, type SessionCookies } from '../routers/index.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { FledgeMetrics } from '../telemetry/metrics.ts';
import type { PodSelector, WorkloadObservation, WorkloadRegistry } from '../workloads/index.ts';
import { identityOf, providerOf } from './identity.ts';
import { routable, type Observer, type RouterSet } from './observer.ts';

export interface EffectsDeps {
  log: Logger;
  client: KubeObjectClient;
  workloads: WorkloadRegistry;
  routers: RouterSet;
  observer: Observer;
  webhooks: WebhookClient;
  events: EventRecorder;
  alerts: AlertDispatcher;
  /** Operator-wide alert destinations for canaries that list no alerts. */
  defaultAlerts: readonly AlertSubscription[];
  /** Operator-wide event webhook for canaries without event hooks of their own. */
  eventWebhook: string | undefined;
  measureDeps: MeasureDeps;
  defaultProvider: string;
  metrics: FledgeMetrics;
  /** Read-only caches of the referenced kinds. */
  /** AlertProviders by namespace and name: the informer cache, or a read outside the watched namespace. */
  alertProviders: { get(namespace: string, name: string): Promise<Readonly<AlertProvider> | undefined> };
}

/** Carries out the engine's actions against the cluster. */
export class Effects {
  readonly #deps: EffectsDeps;

  constructor(deps: EffectsDeps) {
    this.#deps = deps;
  }

  async apply(key: string, canary: Canary, spec: NormalizedCanarySpec, action: Action): Promise<void> {
    const deps = this.#deps;
    const workload = deps.workloads.forCanary(canary);
    switch (action.kind) {
      case 'initialise':
        // Services and routes come with the first setRoutes, once the primary serves.
        await workload.initialise(canary);
        return;
      case 'scaleCanary':
        return workload.scaleCanary(canary, action.to);
      case 'setRoutes': {
        await this.#ensureRouting(key, canary, spec);
        await deps.routers
          .forProvider(providerOf(spec))
          .setRoutes(routable(canary, spec), desiredRoutes(action.routes));
        return;
      }
      case 'promote':
        return workload.promote(canary, {
          revision: action.revision,
          configs: canary.status?.trackedConfigs ?? {},
        });
      case 'runHook':
        return this.#runHook(key, canary, action);
      case 'measure':
        return this.#measure(key, canary, spec, action);
      case 'alert':
        return this.#alert(canary, spec, action.message);
      case 'event':
        return this.#event(canary, spec, action);
      case 'revert': {
        const readiness = await workload.revert(canary);
        if (!readiness.ready) deps.log.info({ reason: readiness.message }, 'waiting for the restored target');
        return;
      }
      case 'finalise':
        return this.finalise(canary, spec);
      default: {
        const unknown: never = action;
        throw new Error(`unknown action ${JSON.stringify(unknown)}`);
      }
    }
  }

  /**
   * A deleted Canary's last step, once the target serves again and before the primary
   * goes: the routing object, then the apex Service, back to the target. Only with
   * revertOnDeletion do the objects Fledge created outlive the Canary; a target that
   * no longer exists has nothing handed to it.
   */
  async finalise(canary: Canary, spec: NormalizedCanarySpec): Promise<void> {
    const workload = this.#deps.workloads.forCanary(canary);
    const world = await workload.observe(canary);
    if (!world.target.exists)
      this.#deps.log.warn({ target: canary.spec.targetRef.name }, 'target gone: nothing to hand back');
    const found = world.target.exists ? world.target.selector : undefined;
    const selector = found && { [found.label]: found.value };
    const handBack = { release: spec.revertOnDeletion && world.target.exists };
    await this.#deps.routers.forProvider(providerOf(spec)).finalize(routable(canary, spec), handBack);
    if (workload.backends === 'pods')
      await finalizeServices(this.#deps.client, routable(canary, spec), selector, handBack);
  }

  /** Records a Warning event on the Canary outside the engine (a spec that cannot be acted on). */
  warn(canary: Canary, reason: string, message: string): void {
    this.#record(canary, 'Warning', reason, message);
  }

  async #ensureRouting(key: string, canary: Canary, spec: NormalizedCanarySpec): Promise<void> {
    const world: WorkloadObservation | undefined = this.#deps.observer.lastWorkload(key);
    if (!world?.target.exists) throw new Error(`target ${canary.spec.targetRef.name} not observed yet`);
    const selector = world.target.selector;
    const workload = this.#deps.workloads.forCanary(canary);
    if (workload.backends === 'pods') {
      if (selector === undefined) throw new Error(`target ${canary.spec.targetRef.name} has no pod selector`);
      await this.#applyServices(canary, spec, world, selector);
    }
    await workload.prepareRoutes?.(canary);
    await this.#deps.routers.forProvider(providerOf(spec)).reconcile(routable(canary, spec));
  }

  async #applyServices(
    canary: Canary,
    spec: NormalizedCanarySpec,
    world: WorkloadObservation,
    { label, value, primaryValue }: PodSelector,
  ): Promise<void> {
    await applyServices(this.#deps.client, {
      canary: routable(canary, spec),
      selectors: { primary: { [label]: primaryValue }, canary: { [label]: value } },
      podTemplate: podTemplateOf(world),
    });
  }

  #runHook(key: string, canary: Canary, action: Extract<Action, { kind: 'runHook' }>): void {
    const { name, namespace } = identityOf(canary);
    const ref = { name, namespace };
    const checksum = webhookChecksum(canary.status);
    // The engine reads every hook's answer but a post-rollout one's.
    const observer = this.#deps.observer;
    const request = action.webhook.type === 'post-rollout' ? observer.sendHook : observer.requestHook;
    request.call(observer, key, action.id, async (signal) => {
      const result = await this.#deps.webhooks.call(
        { id: action.id, canary: ref, webhook: action.webhook, phase: action.phase, checksum },
        signal,
      );
      this.#deps.log.info(
        {
          canary: name,
          namespace,
          hook: result.name,
          type: result.type,
          ok: result.ok,
          status: result.status,
          reason: result.message,
        },
        'webhook answered',
      );
      return result;
    });
  }

  #measure(
    key: string,
    canary: Canary,
    spec: NormalizedCanarySpec,
    action: Extract<Action, { kind: 'measure' }>,
  ): void {
    // The name the data plane knows the canary by, where the target has one (a Knative revision).
    const world = this.#deps.observer.lastWorkload(key);
    const route = world?.target.exists ? world.target.route : undefined;
    const context = analysisContextFor(canary, {
      defaultProvider: providerOf(spec),
      ...(route !== undefined && { route }),
    });
    const { name, namespace } = context;
    this.#deps.observer.requestMeasurement(key, action.id, async (signal) => {
      const measurement = await measure(action.metric, context, this.#deps.measureDeps, signal, action.id);
      recordMeasurement(this.#deps.metrics.canary.metricAnalysis, { name, namespace }, measurement);
      this.#deps.log.info(
        {
          canary: name,
          namespace,
          metric: measurement.name,
          outcome: measurement.outcome,
          value: measurement.value,
          reason: measurement.message,
        },
        'measured',
      );
      return measurement;
    });
  }

  async #alert(canary: Canary, spec: NormalizedCanarySpec, message: AlertMessage): Promise<void> {
    const subscriptions =
      spec.analysis.alerts.length === 0 ? undefined : await this.#subscriptions(canary, spec);
    const recipients = recipientsFor(message, subscriptions, this.#deps.defaultAlerts);
    if (recipients.length > 0) this.#deps.alerts.enqueue(message, recipients);
  }

  async #subscriptions(canary: Canary, spec: NormalizedCanarySpec): Promise<AlertSubscription[]> {
    const subscriptions: AlertSubscription[] = [];
    for (const alert of spec.analysis.alerts) {
      const ref = { namespace: alert.providerRef.namespace, name: alert.providerRef.name };
      const where = `AlertProvider ${ref.namespace}/${ref.name} (alert ${alert.name})`;
      // A broken alert is reported and skipped: the other alerts and the rollout go on.
      try {
        const provider = await this.#deps.alertProviders.get(ref.namespace, ref.name);
        if (!provider) {
          this.warn(canary, 'AlertProviderMissing', `${where} not found; create it or fix providerRef`);
          continue;
        }
        const secretName = provider.spec.secretRef?.name;
        const secret = secretName ? await this.#secretData(ref.namespace, secretName) : undefined;
        if (secretName && !secret) {
          this.warn(
            canary,
            'AlertProviderInvalid',
            `${where}: Secret ${ref.namespace}/${secretName} named by spec.secretRef not found; ` +
              'create it or fix spec.secretRef',
          );
          continue;
        }
        subscriptions.push({
          severity: alert.severity,
          provider: resolveProviderConfig(ref, provider.spec, secret),
        });
      } catch (err) {
        const { reason, message } = normalizeKubeError(err);
        // Fledge's own errors (bad provider settings, a refused cross-namespace read) already say what to fix.
        const detail = reason === 'Unknown' ? message : describeKubeError(err);
        this.warn(canary, 'AlertProviderInvalid', `alert ${alert.name}: ${detail}`);
      }
    }
    return subscriptions;
  }

  async #secretData(namespace: string, name: string): Promise<Record<string, string> | undefined> {
    try {
      const secret = await this.#deps.client.get<KubernetesObject & { data?: Record<string, string> }>({
        apiVersion: 'v1',
        kind: 'Secret',
        namespace,
        name,
      });
      return secret.data ?? {};
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  #event(canary: Canary, spec: NormalizedCanarySpec, action: Extract<Action, { kind: 'event' }>): void {
    this.#recordDecided(canary, spec, action);
  }

  /**
   * The first reconcile of a Canary in this process: the Events its last recorded decision
   * asked for, in case a crash came between writing that decision and writing them. Those
   * already written are found by name and not repeated, nor are their webhooks. Past the age
   * at which the apiserver deletes Events (an hour by default) they are left alone, as they
   * can no longer be told from ones that were written and have expired.
   */
  replayDecidedEvents(canary: Canary, spec: NormalizedCanarySpec, now: Date): void {
    const decided = canary.status?.lastEvents;
    if (decided === undefined || now.getTime() - Date.parse(decided.decidedTime) > eventTtlMs) return;
    for (const event of decided.events) this.#recordDecided(canary, spec, event);
  }

  /**
   * An Event of the decision in status, and its webhooks: the Canary's own `event` hooks, else
   * the operator-wide one. They go out only when the Event was not found already written, so a
   * restart that sends the decision's Events again does not call them twice.
   */
  #recordDecided(canary: Canary, spec: NormalizedCanarySpec, event: DecidedEvent): void {
    const id = decidedEventId(canary.status, event);
    const { name, namespace } = identityOf(canary);
    const notify = () => {
      const hooks = eventWebhooksFor(spec.analysis.webhooks, this.#deps.eventWebhook);
      hooks.forEach((webhook, index) =>
        this.#deps.webhooks.sendEvent(webhook, {
          canary: { name, namespace },
          phase: (canary.status?.phase ?? 'Initializing') as Phase,
          checksum: webhookChecksum(canary.status),
          eventType: event.type,
          message: event.message,
          ...(id === undefined
            ? {}
            : { id: `${canary.metadata.uid ?? ''}/event/${id}/${index}-${webhook.name}` }),
        }),
      );
    };
    this.#record(canary, event.type, event.reason, event.message, id, notify);
  }

  #record(
    canary: Canary,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
    id?: string,
    unlessWritten?: () => void,
  ): void {
    this.#deps.events.record({
      regarding: { apiVersion: API_VERSION, kind: CANARY_KIND, ...identityOf(canary) },
      type,
      reason,
      action: reason,
      note: message,
      ...(id === undefined ? {} : { id }),
      ...(unlessWritten === undefined ? {} : { unlessWritten }),
    });
  }
}

type DecidedEvent = { reason: string; type: 'Normal' | 'Warning'; message: string };

/** The apiserver's default --event-ttl. */
const eventTtlMs = 60 * 60_000;

/** `<decision time, hex ms>-<index>` of an Event the status records as decided; undefined for any other. */
function decidedEventId(status: CanaryStatus | undefined, event: DecidedEvent): string | undefined {
  const decided = status?.lastEvents;
  const index =
    decided?.events.findIndex(
      (e) => e.reason === event.reason && e.type === event.type && e.message === event.message,
    ) ?? -1;
  if (decided === undefined || index < 0) return undefined;
  return `${Date.parse(decided.decidedTime).toString(16)}-${index}`;
}

function desiredRoutes(routes: RouteSpec) {
  const affinity = routes.sessionAffinity;
  const cookies: SessionCookies | undefined = affinity && {
    sessionAffinityCookie: affinity.cookie ?? null,
    primarySessionAffinityCookie: affinity.primaryCookie ?? null,
    previousSessionAffinityCookie: affinity.previousCookie ?? null,
  };
  return {
    primaryWeight: routes.primaryWeight,
    canaryWeight: routes.canaryWeight,
    mirror: routes.mirror,
    ...(cookies ? { cookies } : {}),
  };
}

/** The target's container ports in the shape port discovery reads. */
function podTemplateOf(world: WorkloadObservation) {
  if (!world.target.exists) return undefined;
  const containers = new Map<
    string,
    { name: string; ports: { name?: string; containerPort: number; protocol?: string }[] }
  >();
  for (const port of world.target.ports) {
    const entry = containers.get(port.container) ?? { name: port.container, ports: [] };
    entry.ports.push({
      containerPort: port.containerPort,
      ...(port.name ? { name: port.name } : {}),
      ...(port.protocol ? { protocol: port.protocol } : {}),
    });
    containers.set(port.container, entry);
  }
  return { spec: { containers: [...containers.values()] } };
}
