import type { ABMatch, NormalizedCanarySpec } from '../api/index.ts';
import type { ObjectRef } from '../kube/client.ts';
import { applyObject } from '../kube/patch.ts';
import { applyHandoff, describeRef, isOwned, liveObject, refOf, type SpecObject } from './adoption.ts';
import { escapeRegex } from './httproute.ts';
import { routerObjectMetadata } from './objects.ts';
import {
  RouterConfigError,
  requireService,
  serviceNames,
  type HandBack,
  type RoutableCanary,
  type RouteWeights,
  type RouterDeps,
  type WeightReadback,
} from './router.ts';
import { SingleObjectRouter, apexRef, type ObjectRoutes } from './single-object.ts';

// The Service Mesh Interface TrafficSplit `<apex>` shared by the linkerd, smi:v1alphaN and
// osm providers: backends `<apex>-primary` and `<apex>-canary` with the weights, in the
// API version the provider names. v1alpha1 weights are Kubernetes quantities ("90"),
// later versions integers. Only v1alpha3 lets a split match requests (an HTTPRouteGroup),
// which is how A/B testing by headers is made there: matching requests are split by the
// weights, every other request goes to the apex Service (the primary pods).

export const SPLIT_GROUP = 'split.smi-spec.io';
export const SPECS_GROUP = 'specs.smi-spec.io';
export const TRAFFIC_SPLIT_KIND = 'TrafficSplit';
export const ROUTE_GROUP_KIND = 'HTTPRouteGroup';

export type SmiVersion = 'v1alpha1' | 'v1alpha2' | 'v1alpha3';

/** The SMI version with HTTPRouteGroup matches on a TrafficSplit. */
export const AB_VERSION: SmiVersion = 'v1alpha3';

export interface TrafficSplitBackend {
  service: string;
  /** A quantity string in v1alpha1, an integer in v1alpha2 and v1alpha3. */
  weight: number | string;
}

export interface TrafficSplitSpec {
  service: string;
  backends: TrafficSplitBackend[];
  /** kind and name only: the SMI CRDs declare no apiGroup here, and server-side apply refuses it. */
  matches?: { kind: string; name: string }[];
}

export type TrafficSplit = SpecObject<TrafficSplitSpec>;

/**
 * One HTTPRouteGroup match: every header must match its RE2 regular expression. On the
 * wire the headers are a list of one-entry maps (smi-sdk-go's v1alpha3 encoding).
 */
export interface HTTPMatch {
  name: string;
  headers: Record<string, string>[];
}

export type HTTPRouteGroup = SpecObject<{ matches: HTTPMatch[] }>;

/** How one router of the family maps a spec.provider string to the API version it writes. */
export interface SmiFlavour {
  readonly provider: string;
  versionOf(provider: string | undefined): SmiVersion;
}

export function splitWeight(version: SmiVersion, weight: number): number | string {
  return version === 'v1alpha1' ? String(weight) : weight;
}

/** A weight as written in any version: an integer, or a quantity such as "90" or "500m". */
export function parseSplitWeight(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const match = /^(\d+(?:\.\d+)?)(m?)$/.exec(value.trim());
  if (match === null) return undefined;
  const amount = Number(match[1]);
  return match[2] === 'm' ? amount / 1000 : amount;
}

/** One condition as the RE2 expression an HTTPRouteGroup header match holds. */
function headerPattern(match: { exact?: string; prefix?: string; suffix?: string; regex?: string }): string {
  if (match.exact !== undefined) return `^${escapeRegex(match.exact)}$`;
  if (match.prefix !== undefined) return `^${escapeRegex(match.prefix)}`;
  if (match.suffix !== undefined) return `${escapeRegex(match.suffix)}$`;
  if (match.regex !== undefined) return match.regex;
  throw new RouterConfigError('analysis.match headers need one of exact, prefix, suffix or regex');
}

/** analysis.match as HTTPRouteGroup matches (any match sends the request to the split). */
export function routeGroupMatches(matches: readonly ABMatch[]): HTTPMatch[] {
  return matches.map((entry, i) => {
    const field = `spec.analysis.match[${i}]`;
    if (entry.queryParams !== undefined || entry.sourceLabels !== undefined) {
      throw new RouterConfigError(
        `${field}: an SMI HTTPRouteGroup matches headers only; remove queryParams and sourceLabels`,
      );
    }
    const headers = Object.entries(entry.headers ?? {});
    if (headers.length === 0) throw new RouterConfigError(`${field} needs at least one header condition`);
    return {
      name: `ab-${i}`,
      headers: headers
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([name, m]) => ({ [name]: headerPattern(m) })),
    };
  });
}

/** Refuses A/B testing for a version whose TrafficSplit cannot match requests. */
export function checkSplitExpressible(spec: NormalizedCanarySpec, version: SmiVersion): void {
  const matches = spec.analysis.match;
  if (matches === undefined || matches.length === 0) return;
  if (version !== AB_VERSION) {
    throw new RouterConfigError(
      `spec.analysis.match: a TrafficSplit ${version} cannot match requests (HTTPRouteGroup matches came in ` +
        `${AB_VERSION}): set spec.provider to smi:${AB_VERSION} if the mesh serves it, or remove spec.analysis.match`,
    );
  }
  routeGroupMatches(matches);
}

/** The TrafficSplit `<apex>` with the weights; with A/B testing (v1alpha3) it matches the route group `<apex>`. */
export function renderTrafficSplit(
  canary: RoutableCanary,
  version: SmiVersion,
  weights: Pick<RouteWeights, 'primaryWeight' | 'canaryWeight'>,
  owned: boolean,
): TrafficSplit {
  checkSplitExpressible(canary.spec, version);
  const names = serviceNames(requireService(canary, 'smi'));
  const spec: TrafficSplitSpec = {
    service: names.apex,
    backends: [
      { service: names.primary, weight: splitWeight(version, weights.primaryWeight) },
      { service: names.canary, weight: splitWeight(version, weights.canaryWeight) },
    ],
  };
  if (isABTesting(canary)) spec.matches = [{ kind: ROUTE_GROUP_KIND, name: names.apex }];
  return {
    apiVersion: `${SPLIT_GROUP}/${version}`,
    kind: TRAFFIC_SPLIT_KIND,
    metadata: routerObjectMetadata(canary, names.apex, requireService(canary, 'smi').apex, owned, true),
    spec,
  };
}

/**
 * The split a deleted Canary hands back: everything to the apex Service (which then selects
 * the target's pods), without Flux's opt-out marks; `owned: false` releases it.
 */
export function renderHandoffSplit(
  canary: RoutableCanary,
  version: SmiVersion,
  owned: boolean,
): TrafficSplit {
  const { apex } = serviceNames(requireService(canary, 'smi'));
  return {
    apiVersion: `${SPLIT_GROUP}/${version}`,
    kind: TRAFFIC_SPLIT_KIND,
    metadata: routerObjectMetadata(canary, apex, requireService(canary, 'smi').apex, owned, false),
    spec: { service: apex, backends: [{ service: apex, weight: splitWeight(version, 100) }] },
  };
}

export function renderRouteGroup(canary: RoutableCanary, matches: readonly ABMatch[]): HTTPRouteGroup {
  const { apex } = serviceNames(requireService(canary, 'smi'));
  return {
    apiVersion: `${SPECS_GROUP}/${AB_VERSION}`,
    kind: ROUTE_GROUP_KIND,
    metadata: routerObjectMetadata(canary, apex, requireService(canary, 'smi').apex, true, true),
    spec: { matches: routeGroupMatches(matches) },
  };
}

function isABTesting(canary: RoutableCanary): boolean {
  return (canary.spec.analysis.match?.length ?? 0) > 0;
}

/** The weights the split carries, as percentages (SMI weights are relative). */
export function readSplitWeights(split: TrafficSplit, canary: RoutableCanary): WeightReadback {
  const names = serviceNames(requireService(canary, 'smi'));
  const where = describeRef(refOf(split));
  const weightOf = (service: string): number | undefined => {
    const backend = (split.spec.backends ?? []).find((b) => b.service === service);
    return backend === undefined ? undefined : parseSplitWeight(backend.weight);
  };
  const primary = weightOf(names.primary);
  const canaryWeight = weightOf(names.canary);
  if (primary === undefined || canaryWeight === undefined) {
    return {
      ok: false,
      reason: `${where} has no readable weight for backend ${primary === undefined ? names.primary : names.canary}`,
    };
  }
  if (primary + canaryWeight === 0)
    return { ok: false, reason: `${where} gives both ${names.primary} and ${names.canary} weight 0` };
  if (isABTesting(canary) && !(split.spec.matches ?? []).some((m) => m.name === names.apex)) {
    return { ok: false, reason: `${where} does not match HTTPRouteGroup ${names.apex} (A/B testing)` };
  }
  const percent = Math.round((100 * canaryWeight) / (primary + canaryWeight));
  return { ok: true, weights: { primaryWeight: 100 - percent, canaryWeight: percent, mirrored: false } };
}

/** The TrafficSplit router of one provider of the family (linkerd, smi, osm). */
export class TrafficSplitRouter extends SingleObjectRouter<TrafficSplit> {
  readonly provider: string;
  readonly #flavour: SmiFlavour;

  constructor(deps: RouterDeps, flavour: SmiFlavour) {
    super(deps);
    this.#flavour = flavour;
    this.provider = flavour.provider;
  }

  protected ref(canary: RoutableCanary): ObjectRef {
    return apexRef(canary, this.provider, `${SPLIT_GROUP}/${this.#version(canary)}`, TRAFFIC_SPLIT_KIND);
  }

  /** Writes (or removes) the route group of A/B testing, once the split renders. */
  protected async renderer(canary: RoutableCanary, routes: ObjectRoutes, live: TrafficSplit | undefined) {
    const version = this.#version(canary);
    // Rendered first, so a spec error leaves an adopted split untouched.
    const split = renderTrafficSplit(canary, version, routes, isOwned(live, canary));
    const matches = canary.spec.analysis.match;
    if (matches !== undefined && matches.length > 0) {
      const group = renderRouteGroup(canary, matches);
      const existing = await liveObject<HTTPRouteGroup>(this.client, refOf(group));
      if (existing !== undefined && !isOwned(existing, canary)) {
        throw new RouterConfigError(
          `${describeRef(refOf(group))} exists and is not Fledge's: rename or delete it, or rename spec.service.name`,
        );
      }
      await applyObject(this.client, group);
    } else if (version === AB_VERSION) {
      await this.#removeRouteGroup(canary);
    }
    return () => split;
  }

  // A TrafficSplit has no status: the mesh's proxies read it as written.
  protected read(live: TrafficSplit, canary: RoutableCanary): WeightReadback {
    return readSplitWeights(live, canary);
  }

  protected override mirrorRefusal(): string {
    return `provider ${this.provider} cannot mirror traffic (a TrafficSplit only weighs backends): remove analysis.mirror`;
  }

  override async finalize(canary: RoutableCanary, handBack: HandBack): Promise<void> {
    await this.#removeRouteGroup(canary);
    await super.finalize(canary, handBack);
  }

  protected async handOff(canary: RoutableCanary, _live: TrafficSplit, handBack: HandBack): Promise<void> {
    const version = this.#version(canary);
    await applyHandoff(this.client, (owned) => renderHandoffSplit(canary, version, owned), handBack);
  }

  #version(canary: RoutableCanary): SmiVersion {
    return this.#flavour.versionOf(canary.spec.provider);
  }

  /** Deletes the route group Fledge wrote for A/B testing, if any. */
  async #removeRouteGroup(canary: RoutableCanary): Promise<void> {
    if (this.#version(canary) !== AB_VERSION) return;
    const ref = apexRef(canary, this.provider, `${SPECS_GROUP}/${AB_VERSION}`, ROUTE_GROUP_KIND);
    const group = await liveObject<HTTPRouteGroup>(this.client, ref);
    const ours = group?.metadata.ownerReferences?.some(
      (o) => o.controller === true && o.uid === canary.metadata.uid,
    );
    if (ours === true) await this.client.delete(ref);
  }
}
