import type { CanaryStatus, NormalizedCanarySpec, Phase } from '../../../src/api/index.ts';
import type { Measurement } from '../../../src/analysis/index.ts';
import type {
  DecisionInput,
  HookResult,
  ObservedRoutes,
  PrimaryObservation,
  TargetObservation,
} from '../../../src/engine/index.ts';
import { measurement, specOf, T0, UID } from './world.ts';

// Hand-built inputs for one decision: a canary in a given phase with
// everything healthy, which each test then bends to make one row fire.

export const MINUTE = 60_000;
export const NOW = T0 + 60 * MINUTE;
export const iso = (ms: number) => new Date(ms).toISOString();

export const defaultSpec = (): NormalizedCanarySpec =>
  specOf({
    stepWeight: 20,
    maxWeight: 60,
    metrics: [{ name: 'request-success-rate', thresholdRange: { min: 99 } }],
  });

export const ready = { ready: true, message: 'ready', retriable: true };
export const notReady = { ready: false, message: '1/3 replicas available', retriable: true };
export const failed = { ready: false, message: 'ProgressDeadlineExceeded', retriable: false };

export interface Overrides {
  spec?: NormalizedCanarySpec;
  status?: Partial<CanaryStatus>;
  target?: Partial<Extract<TargetObservation, { exists: true }>> | { exists: false };
  primary?: Partial<Extract<PrimaryObservation, { exists: true }>> | { exists: false };
  routes?: ObservedRoutes | undefined;
  hookResults?: Record<string, HookResult>;
  metricResults?: Record<string, Measurement>;
  annotations?: Record<string, string>;
  deletionTimestamp?: string;
  now?: number;
}

/** Status of a canary in `phase`, mid-run where that makes sense (weight 20 of 20/40/60). */
export function statusIn(phase: Phase): CanaryStatus {
  const settled: CanaryStatus = {
    phase,
    run: 1,
    lastAppliedSpec: 'rev-1',
    lastPromotedSpec: 'rev-1',
    trackedConfigs: {},
    lastPromotedConfigs: {},
    canaryWeight: 0,
    failedChecks: 0,
    iterations: 0,
    trafficMode: 'None',
  };
  switch (phase) {
    case 'Waiting':
      return { ...settled, run: 2, lastAppliedSpec: 'rev-2', tick: tick(1, true) };
    case 'Progressing':
    case 'WaitingPromotion':
      return {
        ...settled,
        run: 2,
        lastAppliedSpec: 'rev-2',
        canaryWeight: 20,
        trafficMode: 'Weighted',
        preRolloutPassed: true,
        tick: tick(2, true),
      };
    case 'Promoting':
    case 'Finalising':
      return {
        ...settled,
        run: 2,
        lastAppliedSpec: 'rev-2',
        lastPromotedSpec: 'rev-2',
        canaryWeight: phase === 'Promoting' ? 60 : 0,
        trafficMode: phase === 'Promoting' ? 'Weighted' : 'None',
        tick: tick(4, true),
      };
    case 'Initializing':
      return { phase };
    default:
      return settled;
  }
}

/** A judged or pending tick that started one interval ago. */
export function tick(number: number, evaluated: boolean, startedMs = NOW - MINUTE) {
  return { number, startedTime: iso(startedMs), evaluated };
}

/** Routes matching what `status` wants, so nothing is pending unless a test says so. */
export function routesFor(status: CanaryStatus): ObservedRoutes {
  switch (status.phase) {
    case 'Progressing':
    case 'WaitingPromotion':
    case 'Promoting':
      if (status.trafficMode === 'Matched') return { primaryWeight: 0, canaryWeight: 100, mirrored: false };
      return {
        primaryWeight: 100 - (status.canaryWeight ?? 0),
        canaryWeight: status.canaryWeight ?? 0,
        mirrored: status.trafficMode === 'Mirror',
      };
    default:
      return { primaryWeight: 100, canaryWeight: 0, mirrored: false };
  }
}

export function inputFor(phase: Phase, overrides: Overrides = {}): DecisionInput {
  const status: CanaryStatus = { ...statusIn(phase), ...overrides.status };
  const revision =
    phase === 'Initializing' || phase === 'Initialized' || phase === 'Succeeded' ? 'rev-1' : 'rev-2';
  const target: TargetObservation =
    overrides.target !== undefined && overrides.target.exists === false
      ? { exists: false }
      : {
          exists: true,
          revision,
          configs: {},
          ready: phase === 'Initialized' || phase === 'Succeeded' || phase === 'Waiting' ? notReady : ready,
          ...(overrides.target as object | undefined),
        };
  const primary: PrimaryObservation =
    overrides.primary !== undefined && overrides.primary.exists === false
      ? { exists: false }
      : {
          exists: true,
          ready,
          stamp: status.lastPromotedSpec ?? 'rev-1',
          ...(overrides.primary as object | undefined),
        };
  return {
    canary: {
      metadata: {
        name: 'podinfo',
        namespace: 'apps',
        uid: UID,
        generation: 3,
        annotations: overrides.annotations ?? {},
        ...(overrides.deletionTimestamp === undefined
          ? {}
          : { deletionTimestamp: overrides.deletionTimestamp }),
      },
      spec: overrides.spec ?? defaultSpec(),
      status,
    },
    observed: {
      target,
      primary,
      routes: 'routes' in overrides ? overrides.routes : routesFor(status),
      hookResults: overrides.hookResults ?? {},
      metricResults: overrides.metricResults ?? {},
    },
    now: new Date(overrides.now ?? NOW),
    clusterName: 'test-cluster',
  };
}

/** Request id the engine uses for run 2, tick `n`. */
export const requestId = (n: number, rest: string, run = 2) => `${UID}/r${run}/t${n}/${rest}`;

export const metricResult = (n: number, outcome: Measurement['outcome'], run = 2) => ({
  [requestId(n, 'metric/0-request-success-rate', run)]: measurement('request-success-rate', outcome, NOW),
});

export function hookResult(
  id: string,
  ok: boolean,
  type: HookResult['type'],
  name: string,
): Record<string, HookResult> {
  return { [id]: { name, type, ok, status: ok ? 200 : 500, message: ok ? 'OK' : 'HTTP 500' } };
}
