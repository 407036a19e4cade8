import type { MetricTemplate, NormalizedCanarySpec, Phase } from '../api/index.ts';
import {
  capabilitiesOf,
  ignoredFields,
  missingCapabilities,
  missingReferences,
  type CapabilityFinding,
} from '../routers/index.ts';
import { TerminalError } from './failures.ts';
import { providerOf } from './identity.ts';
import { ReferenceUnreadableError } from './references.ts';

// What the controller checks before the engine decides: that the effective provider
// has a router and can route the Canary as written, and, before a run starts, that
// the MetricTemplates it names exist and can be queried. (A missing AlertProvider changes
// no traffic: it is reported when an alert is sent, and the run goes on.) A failure
// is a TerminalError; what is merely ignored is returned to be reported.

export interface PreflightDeps {
  getMetricTemplate(namespace: string, name: string): Promise<Readonly<MetricTemplate> | undefined>;
  /** MetricTemplate spec.provider.type values Fledge can query. */
  metricProviderTypes: readonly string[];
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
  spec: NormalizedCanarySpec,
  phase: Phase | undefined,
) => Promise<CapabilityFinding[]>;

export function createPreflight(deps: PreflightDeps): Preflight {
  return async (spec, phase) => {
    const capabilities = capabilitiesOf(providerOf(spec));
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
    if (AT_REST.has(phase)) await checkReferences(spec, deps);
    return ignoredFields(spec, capabilities);
  };
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
