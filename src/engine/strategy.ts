import { createHash } from 'node:crypto';
import type { CanaryStatus, NormalizedAnalysis, Strategy, TrafficMode } from '../api/index.ts';
import type { DraftStatus } from './context.ts';
import type { ObservedRoutes, RouteSpec } from './types.ts';

// The traffic schedule of each strategy as an ordered list of stages. A run
// starts with no traffic on the canary (where the pre-rollout hooks run), walks
// the stages one passing analysis tick at a time, then promotes.

export type StageGate = 'confirm-traffic-increase' | 'confirm-promotion';

/** One step of the schedule: the traffic the canary gets while this step is analysed. */
export interface Stage {
  traffic: TrafficMode;
  canaryWeight: number;
  iterations: number;
  /** Webhooks of this type must all succeed before the run enters the stage. */
  enterGate?: StageGate;
}

export interface Plan {
  stages: Stage[];
  /** Webhooks of this type must all succeed before promotion. */
  promotionGate?: 'confirm-promotion';
}

/** Where a run stands: -1 before the first stage, else an index into `plan.stages`. */
export type StageIndex = number;

export function planFor(strategy: Strategy, analysis: NormalizedAnalysis): Plan {
  switch (strategy) {
    case 'Canary':
      return canaryPlan(analysis);
    case 'ABTesting':
      return {
        stages: iterationStages(analysis, 'Matched'),
        promotionGate: 'confirm-promotion',
      };
    case 'BlueGreen':
    case 'BlueGreenMirroring': {
      const iterations = requireIterations(analysis);
      const traffic = strategy === 'BlueGreenMirroring' ? 'Mirror' : 'None';
      // Blue/green switches all traffic to the canary for one last analysed step; the
      // promotion gate guards that switch, as it is the moment users see the new version.
      const allTraffic: Stage = {
        traffic: 'Weighted',
        canaryWeight: 100,
        iterations,
        enterGate: 'confirm-promotion',
      };
      return { stages: [...iterationStages(analysis, traffic), allTraffic] };
    }
  }
}

function canaryPlan(analysis: NormalizedAnalysis): Plan {
  const weights = canaryWeights(analysis);
  const stages: Stage[] = weights.map((canaryWeight) => ({
    traffic: 'Weighted',
    canaryWeight,
    iterations: 0,
    enterGate: 'confirm-traffic-increase',
  }));
  if (analysis.mirror) {
    stages.unshift({
      traffic: 'Mirror',
      canaryWeight: 0,
      iterations: 0,
      enterGate: 'confirm-traffic-increase',
    });
  }
  return { stages, promotionGate: 'confirm-promotion' };
}

/** The weights of a progressive canary: the explicit list, or equal steps clamped to maxWeight. */
export function canaryWeights(analysis: NormalizedAnalysis): number[] {
  if (analysis.stepWeights !== undefined && analysis.stepWeights.length > 0) return [...analysis.stepWeights];
  const step = analysis.stepWeight;
  const max = analysis.maxWeight;
  if (step === undefined || max === undefined) {
    throw new Error(
      'spec.analysis: a progressive canary needs stepWeight (with maxWeight) or stepWeights; normalizeCanary fills maxWeight',
    );
  }
  const weights: number[] = [];
  for (let weight = step; weight < max; weight += step) weights.push(weight);
  weights.push(max);
  return weights;
}

function requireIterations(analysis: NormalizedAnalysis): number {
  if (analysis.iterations === undefined) {
    throw new Error('spec.analysis.iterations is required for A/B testing and blue/green');
  }
  return analysis.iterations;
}

function iterationStages(analysis: NormalizedAnalysis, traffic: TrafficMode): Stage[] {
  const count = requireIterations(analysis);
  return Array.from({ length: count }, (_, i) => ({ traffic, canaryWeight: 0, iterations: i + 1 }));
}

/** Orders positions in a run, so a schedule edited mid-run continues from the nearest stage behind. */
function progressKey(position: Pick<Stage, 'traffic' | 'canaryWeight' | 'iterations'>): number {
  return position.iterations * 1000 + position.canaryWeight + (position.traffic === 'Mirror' ? 0.5 : 0);
}

export function stageIndex(plan: Plan, status: DraftStatus): StageIndex {
  const key = progressKey({
    traffic: status.trafficMode,
    canaryWeight: status.canaryWeight,
    iterations: status.iterations,
  });
  if (key === 0) return -1;
  let index = -1;
  plan.stages.forEach((stage, i) => {
    if (progressKey(stage) <= key) index = i;
  });
  return index;
}

/** Routes carrying only primary traffic. */
export const PRIMARY_ONLY: RouteSpec = { primaryWeight: 100, canaryWeight: 0, mirror: false };
/** Routes sending everything to the canary (a failed promotion keeps users on the healthy canary). */
export const CANARY_ONLY: RouteSpec = { primaryWeight: 0, canaryWeight: 100, mirror: false };

/** The routes of the position recorded in status. */
export function stageRoutes(status: DraftStatus, analysis: NormalizedAnalysis): RouteSpec {
  const routes = baseRoutes(status.trafficMode, status.canaryWeight, analysis);
  const affinity = affinityOf(status);
  return affinity === undefined ? routes : { ...routes, sessionAffinity: affinity };
}

function baseRoutes(traffic: TrafficMode, canaryWeight: number, analysis: NormalizedAnalysis): RouteSpec {
  switch (traffic) {
    case 'None':
      return PRIMARY_ONLY;
    case 'Mirror':
      return { ...PRIMARY_ONLY, mirror: true, mirrorWeight: analysis.mirrorWeight ?? 100 };
    case 'Weighted':
      return { primaryWeight: 100 - canaryWeight, canaryWeight, mirror: false };
    case 'Matched':
      return { ...CANARY_ONLY, match: analysis.match ?? [] };
  }
}

/** Primary-only routes that still tell clients to drop the last run's canary cookie. */
export function primaryRoutes(status: CanaryStatus): RouteSpec {
  const affinity = affinityOf(status);
  return affinity === undefined ? PRIMARY_ONLY : { ...PRIMARY_ONLY, sessionAffinity: affinity };
}

function affinityOf(status: CanaryStatus): RouteSpec['sessionAffinity'] {
  const entries = {
    cookie: status.sessionAffinityCookie,
    previousCookie: status.previousSessionAffinityCookie,
    primaryCookie: status.primarySessionAffinityCookie,
  };
  const present = Object.entries(entries).filter(([, value]) => value !== undefined);
  return present.length === 0 ? undefined : Object.fromEntries(present);
}

export function routesMatch(observed: ObservedRoutes | undefined, desired: RouteSpec): boolean {
  return (
    observed !== undefined &&
    observed.primaryWeight === desired.primaryWeight &&
    observed.canaryWeight === desired.canaryWeight &&
    observed.mirrored === desired.mirror
  );
}

/**
 * Session-affinity cookie values for the run in progress: deterministic, so a restart
 * re-derives the same cookies. Once traffic leaves the canary, its cookie becomes the
 * previous one, which routers use to tell clients to drop it.
 */
export function affinityCookies(
  analysis: NormalizedAnalysis,
  uid: string,
  run: number,
): Pick<CanaryStatus, 'sessionAffinityCookie' | 'primarySessionAffinityCookie'> {
  const affinity = analysis.sessionAffinity;
  if (affinity === undefined) return {};
  const cookies: Pick<CanaryStatus, 'sessionAffinityCookie' | 'primarySessionAffinityCookie'> = {
    sessionAffinityCookie: `${affinity.cookieName}=${digest(`${uid}/${run}/canary`)}`,
  };
  if (affinity.primaryCookieName !== undefined) {
    cookies.primarySessionAffinityCookie = `${affinity.primaryCookieName}=${digest(`${uid}/${run}/primary`)}`;
  }
  return cookies;
}

/** Identifies a template plus its configs, as stamped on the primary. */
export function stampOf(revision: string, configs: Readonly<Record<string, string>> | undefined): string {
  // Keys are unique, so the order is total without an equality case.
  const entries = Object.entries(configs ?? {}).sort(([a], [b]) => (a < b ? -1 : 1));
  return entries.length === 0 ? revision : `${revision}+${digest(JSON.stringify(entries))}`;
}

export function sameConfigs(
  a: Readonly<Record<string, string>> | undefined,
  b: Readonly<Record<string, string>> | undefined,
): boolean {
  const left = Object.entries(a ?? {});
  const right = b ?? {};
  return left.length === Object.keys(right).length && left.every(([key, value]) => right[key] === value);
}

function digest(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}
