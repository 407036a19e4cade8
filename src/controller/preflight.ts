import type { AlertProvider, Canary, MetricTemplate, NormalizedCanarySpec, Phase } from '../api/index.ts';
import {
  KUBERNETES_PROVIDER,
  capabilitiesOf,
  resolveProvider,
  ignoredFields,
  missingCapabilities,
  missingReferences,
  type CapabilityFinding,
} from '../routers/index.ts';
import { checkNotScaledToZero, checkTargetPort, primaryName, type TargetShape } from '../workloads/index.ts';
import { TerminalError } from './failures.ts';
import { providerOf } from './identity.ts';
import { ReferenceUnreadableError } from './references.ts';

// What the controller checks before the engine decides: that the effective provider
// has a router and can route the Canary as written, and, before a run starts, that
// the MetricTemplates it names exist and can be queried and that the target exposes
// spec.service.targetPort and is not at zero replicas with no primary to size from.
// A failure is a TerminalError. What is merely ignored is returned to be reported in
// Ready, a missing AlertProvider among it: it changes no traffic, so the run goes on
// without that alert.

export interface PreflightDeps {
  getMetricTemplate(namespace: string, name: string): Promise<Readonly<MetricTemplate> | undefined>;
  /** The Canaries of a namespace, from the informer cache. */
  canariesIn(namespace: string): readonly Readonly<Canary>[];
  /** MetricTemplate spec.provider.type values Fledge can query. */
  metricProviderTypes: readonly string[];
  /** A Deployment or DaemonSet from the informer cache. */
  getWorkload(kind: string, namespace: string, name: string): Readonly<TargetShape> | undefined;
  getAlertProvider(namespace: string, name: string): Promise<Readonly<AlertProvider> | undefined>;
}

/** Phases in which no run is under way: references are checked before one starts. */
const AT_REST: ReadonlySet<Phase | undefined> = new Set<Phase | undefined>([
  undefined,
  'Initializing',
  'Initialized',
  'Succeeded',
  'Failed',
]);

export type Preflight = (
  canary: Readonly<Canary>,
  spec: NormalizedCanarySpec,
  phase: Phase | undefined,
) => Promise<CapabilityFinding[]>;

export function createPreflight(deps: PreflightDeps): Preflight {
  return async (canary, spec, phase) => {
    checkClaim(canary, deps);
    const capabilities = capabilitiesOf(providerOf(spec));
    checkTargetRouter(spec, providerOf(spec));
    const missing = missingCapabilities(spec, capabilities);
    if (missing.length > 0) {
      throw new TerminalError('CapabilityMissing', missing.map((finding) => finding.message).join('; '));
    }
    const unreferenced = missingReferences(spec, capabilities);
    if (unreferenced.length > 0) {
      throw new TerminalError('RouteRefMissing', unreferenced.map((finding) => finding.message).join('; '));
    }
    // Throws a RouterConfigError (CapabilityMissing) for what the router's objects cannot say.
    capabilities.checkExpressible?.(spec);
    if (AT_REST.has(phase)) {
      await checkReferences(spec, deps);
      checkTarget(canary, spec, phase, deps);
    }
    return [...ignoredFields(spec, capabilities), ...(await missingAlertProviders(spec, deps))];
  };
}

/**
 * The target as a run would find it. Only while no run is under way: a target changed
 * mid-run is the run's to judge, and a refusal then would freeze traffic where it is.
 */
function checkTarget(
  canary: Readonly<Canary>,
  spec: NormalizedCanarySpec,
  phase: Phase | undefined,
  deps: PreflightDeps,
): void {
  const { apiVersion, kind, name } = spec.targetRef;
  // Ports and replicas are those of a pod workload; other kinds have neither.
  if (apiVersion !== 'apps/v1') return;
  const namespace = canary.metadata.namespace ?? '';
  const target = deps.getWorkload(kind, namespace, name);
  // A missing target is the engine's to wait for.
  if (target === undefined) return;
  const describe = `${kind} ${namespace}/${name}`;
  if (spec.service !== undefined)
    checkTargetPort(target, describe, spec.service.targetPort, 'spec.service.targetPort');
  // Never initialised: Fledge's own scale to zero comes only after a primary exists.
  const uninitialised = phase === undefined || phase === 'Initializing';
  if (
    kind === 'Deployment' &&
    uninitialised &&
    spec.autoscalerRef === undefined &&
    deps.getWorkload(kind, namespace, primaryName(name)) === undefined
  )
    checkNotScaledToZero(target, describe, name, 'spec.targetRef');
}

/**
 * A core Service target is the apex itself: the kubernetes router, whose switch is the apex
 * Service's selector, would have to rewrite the very Service under release.
 */
function checkTargetRouter(spec: NormalizedCanarySpec, provider: string): void {
  const { apiVersion, kind } = spec.targetRef;
  if (apiVersion !== 'v1' || kind !== 'Service' || resolveProvider(provider) !== KUBERNETES_PROVIDER) return;
  throw new TerminalError(
    'UnsupportedTarget',
    `spec.targetRef: a Service target is split between its -primary and -canary copies by a router, and ` +
      `provider ${provider} can only switch the apex Service's selector, which here is the target itself: set ` +
      'spec.provider to a router that splits between Services (e.g. gatewayapi:v1 or istio), or point ' +
      'targetRef at the Deployment or DaemonSet behind the Service',
  );
}

/** Alerts whose AlertProvider is missing: named in Ready, never a refusal (alerts move no traffic). */
async function missingAlertProviders(
  spec: NormalizedCanarySpec,
  deps: PreflightDeps,
): Promise<CapabilityFinding[]> {
  const findings: CapabilityFinding[] = [];
  for (const [i, alert] of spec.analysis.alerts.entries()) {
    const { namespace, name } = alert.providerRef;
    const field = `spec.analysis.alerts[${i}].providerRef`;
    const notSent = `alert ${alert.name} is not sent`;
    const message = await deps.getAlertProvider(namespace, name).then(
      (provider) =>
        provider === undefined
          ? `${field}: AlertProvider ${namespace}/${name} not found, so ${notSent}: create it, or fix ${field}`
          : undefined,
      (err: unknown) => {
        if (err instanceof ReferenceUnreadableError) return `${field}: ${err.message}; until then ${notSent}`;
        // A failed read is not a missing provider; sending the alert reports it, and nothing waits on it.
        return undefined;
      },
    );
    if (message !== undefined) findings.push({ field, message });
  }
  return findings;
}

/**
 * One target, one Canary: two Canaries sharing a target would share its primary and both
 * report success. The one created first keeps it (then the lesser name); any other is refused.
 * A holder being deleted keeps it until it is gone, so its hand-back and the next Canary's
 * start never act on the same objects at once.
 */
function checkClaim(canary: Readonly<Canary>, deps: PreflightDeps): void {
  const { kind, name } = canary.spec.targetRef;
  const rivals = deps
    .canariesIn(canary.metadata.namespace ?? '')
    .filter(
      (other) =>
        other.metadata.uid !== canary.metadata.uid &&
        other.spec.targetRef.kind === kind &&
        other.spec.targetRef.name === name,
    );
  const first = [canary, ...rivals].sort(byAge)[0];
  if (first === undefined || first === canary) return;
  throw new TerminalError(
    'TargetClaimed',
    `spec.targetRef: ${kind} ${name} is already released by Canary ${first.metadata.name ?? ''}, created earlier: ` +
      'point this Canary at another target, or delete one of the two',
  );
}

function byAge(a: Readonly<Canary>, b: Readonly<Canary>): number {
  const created = (c: Readonly<Canary>) => String(c.metadata.creationTimestamp ?? '');
  return created(a).localeCompare(created(b)) || (a.metadata.name ?? '').localeCompare(b.metadata.name ?? '');
}

async function checkReferences(spec: NormalizedCanarySpec, deps: PreflightDeps): Promise<void> {
  for (const [i, metric] of spec.analysis.metrics.entries()) {
    const ref = metric.templateRef;
    if (ref === undefined) continue;
    const field = `spec.analysis.metrics[${i}].templateRef`;
    const template = await deps.getMetricTemplate(ref.namespace, ref.name).catch((err: unknown) => {
      if (err instanceof ReferenceUnreadableError)
        throw new TerminalError('TemplateMissing', `${field}: ${err.message}`);
      throw err;
    });
    if (template === undefined) {
      throw new TerminalError(
        'TemplateMissing',
        `${field}: MetricTemplate ${ref.namespace}/${ref.name} not found: create it, or fix ${field}`,
      );
    }
    const type = template.spec.provider.type;
    if (!deps.metricProviderTypes.includes(type)) {
      throw new TerminalError(
        'MetricProviderUnavailable',
        `${field}: MetricTemplate ${ref.namespace}/${ref.name} has spec.provider.type ${type}, which this version ` +
          `of Fledge cannot query (it queries ${deps.metricProviderTypes.join(', ')}): rewrite the template for ` +
          `one of those, or remove metric ${metric.name}`,
      );
    }
  }
}
