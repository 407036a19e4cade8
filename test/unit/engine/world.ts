import {
  normalizeCanary,
  type CanaryAnalysis,
  type CanarySpec,
  type CanaryStatus,
  type NormalizedCanarySpec,
  type WebhookType,
} from '../../../src/api/index.ts';
import type { Measurement, MeasurementOutcome } from '../../../src/analysis/index.ts';
import {
  decide,
  type Action,
  type Decision,
  type DecisionInput,
  type HookResult,
  type ObservedRoutes,
  type Observations,
} from '../../../src/engine/index.ts';

// A tiny simulation of everything around the engine: the target and primary
// workloads, the router, and a controller that runs the requested hooks and
// queries. Results are pure functions of (run, tick, name), so asking again
// after a restart yields the same answer.

export const T0 = Date.parse('2030-01-01T00:00:00Z');
export const UID = '9f1c-uid';

export function specOf(analysis: CanaryAnalysis, extra: Partial<CanarySpec> = {}): NormalizedCanarySpec {
  return normalizeCanary({
    metadata: { name: 'podinfo', namespace: 'apps' },
    spec: {
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
      service: { port: 9898 },
      progressDeadlineSeconds: 600,
      analysis: { interval: '1m', ...analysis },
      ...extra,
    },
  }).spec;
}

export interface RequestKey {
  run: number;
  tick: number;
  name: string;
}

/** Parses an engine request id `<uid>/r<run>/t<tick>/<kind>/.../<index>-<name>`. */
export function parseRequestId(id: string): RequestKey {
  const match = /\/r(\d+)\/t(\d+)\/.*\/\d+-([^/]+)$/.exec(id);
  if (match === null) throw new Error(`unexpected request id ${id}`);
  return { run: Number(match[1]), tick: Number(match[2]), name: match[3] as string };
}

export type HookAnswer = (type: WebhookType, key: RequestKey) => boolean;
export type MetricAnswer = (key: RequestKey) => MeasurementOutcome;

export interface WorldOptions {
  spec: NormalizedCanarySpec;
  hooks?: HookAnswer;
  metrics?: MetricAnswer;
  /** Results arrive only on the reconcile after the one that asked (true async). */
  slowResults?: boolean;
}

/** Default hook behaviour: gates open, checks pass, rollback hooks say no. */
export const friendlyHooks: HookAnswer = (type) => type !== 'rollback';

export class World {
  now = T0;
  spec: NormalizedCanarySpec;
  status: CanaryStatus = {};
  annotations: Record<string, string> = {};
  generation = 1;
  deletionTimestamp: string | undefined;
  target = {
    exists: true,
    revision: 'rev-1',
    configs: {} as Record<string, string>,
    up: true,
    broken: false,
    /** The commit that applied the target, as the observer reads it. */
    sourceRevision: undefined as string | undefined,
  };
  primary = { exists: false, stamp: undefined as string | undefined, broken: false, hardFailure: false };
  routes: ObservedRoutes | undefined;
  /** When false, setRoutes is accepted but never shows up in GetRoutes. */
  routerWorks = true;
  finalised = false;
  hookResults: Record<string, HookResult> = {};
  metricResults: Record<string, Measurement> = {};
  /** Requests the controller has started but whose results are not in yet. */
  inFlight: Action[] = [];
  hooks: HookAnswer;
  metrics: MetricAnswer;
  slowResults: boolean;
  /** Every request id the controller executed, with its answer, in order. */
  answered: {
    id: string;
    kind: 'hook' | 'metric';
    type?: WebhookType;
    ok?: boolean;
    outcome?: MeasurementOutcome;
  }[] = [];
  decisions: Decision[] = [];
  inputs: DecisionInput[] = [];

  constructor(options: WorldOptions) {
    this.spec = options.spec;
    this.hooks = options.hooks ?? friendlyHooks;
    this.metrics = options.metrics ?? (() => 'pass');
    this.slowResults = options.slowResults ?? false;
  }

  observe(): Observations {
    const target = this.target;
    const primary = this.primary;
    return {
      target: target.exists
        ? {
            exists: true,
            revision: target.revision,
            configs: { ...target.configs },
            ...(target.sourceRevision === undefined ? {} : { sourceRevision: target.sourceRevision }),
            ready: {
              ready: target.up && !target.broken,
              message: target.up ? (target.broken ? 'pods crash' : 'ready') : 'scaled to zero',
              retriable: true,
            },
          }
        : { exists: false },
      primary: primary.exists
        ? {
            exists: true,
            ready: {
              ready: !primary.broken,
              message: primary.broken ? 'pods pending' : 'ready',
              retriable: !primary.hardFailure,
            },
            ...(primary.stamp === undefined ? {} : { stamp: primary.stamp }),
          }
        : { exists: false },
      routes: this.routes === undefined ? undefined : { ...this.routes },
      hookResults: { ...this.hookResults },
      metricResults: { ...this.metricResults },
    };
  }

  input(): DecisionInput {
    return {
      canary: {
        metadata: {
          name: 'podinfo',
          namespace: 'apps',
          uid: UID,
          generation: this.generation,
          annotations: { ...this.annotations },
          ...(this.deletionTimestamp === undefined ? {} : { deletionTimestamp: this.deletionTimestamp }),
        },
        spec: this.spec,
        status: structuredClone(this.status),
      },
      observed: this.observe(),
      now: new Date(this.now),
      clusterName: 'test-cluster',
    };
  }

  /** One reconcile: decide, store the status, carry out the actions (unless the controller crashes first). */
  reconcile(options: { crashBeforeActions?: boolean } = {}): Decision {
    this.completeInFlight();
    const input = this.input();
    const decision = decide(input);
    this.inputs.push(input);
    this.decisions.push(decision);
    this.status = structuredClone(decision.status);
    if (!options.crashBeforeActions) for (const action of decision.actions) this.execute(action);
    return decision;
  }

  /** The controller process restarts: every in-memory result and request is gone. */
  restartController(): void {
    this.hookResults = {};
    this.metricResults = {};
    this.inFlight = [];
  }

  advance(ms: number): void {
    this.now += ms;
  }

  /** Reconcile, then sleep as the decision asks (or `idleMs` when it does not ask). */
  step(idleMs = 60_000): Decision {
    const decision = this.reconcile();
    this.advance(decision.requeueAfterMs ?? idleMs);
    return decision;
  }

  newRevision(revision: string, sourceRevision?: string): void {
    this.target.revision = revision;
    this.target.sourceRevision = sourceRevision;
  }

  private execute(action: Action): void {
    switch (action.kind) {
      case 'initialise':
      case 'promote':
        this.primary.exists = true;
        this.primary.stamp = action.stamp;
        return;
      case 'scaleCanary':
        this.target.up = action.to === 'up';
        return;
      case 'setRoutes':
        if (this.routerWorks) {
          this.routes = {
            primaryWeight: action.routes.primaryWeight,
            canaryWeight: action.routes.canaryWeight,
            mirrored: action.routes.mirror,
          };
        }
        return;
      case 'runHook':
      case 'measure':
        if (this.inFlight.some((a) => 'id' in a && a.id === action.id)) return;
        this.inFlight.push(action);
        if (!this.slowResults) this.completeInFlight();
        return;
      case 'revert':
        this.target.up = true;
        return;
      case 'finalise':
        this.finalised = true;
        return;
      case 'alert':
      case 'event':
        return;
    }
  }

  private completeInFlight(): void {
    for (const action of this.inFlight) {
      if (action.kind === 'measure') {
        const outcome = this.metrics(parseRequestId(action.id));
        this.answered.push({ id: action.id, kind: 'metric', outcome });
        this.metricResults[action.id] = measurement(action.metric.name, outcome, this.now);
      } else if (action.kind === 'runHook') {
        if (action.webhook.type === 'post-rollout') continue;
        const ok = this.hooks(action.webhook.type, parseRequestId(action.id));
        this.answered.push({ id: action.id, kind: 'hook', type: action.webhook.type, ok });
        this.hookResults[action.id] = {
          name: action.webhook.name,
          type: action.webhook.type,
          ok,
          status: ok ? 200 : 403,
          message: ok ? 'OK' : 'refused',
        };
      }
    }
    this.inFlight = [];
  }
}

export function measurement(name: string, outcome: MeasurementOutcome, at: number): Measurement {
  const value = outcome === 'pass' ? 99.5 : outcome === 'fail' ? 42 : undefined;
  return {
    name,
    ...(outcome === 'error' ? {} : { query: `sum(rate(${name}[1m]))` }),
    outcome,
    ...(value === undefined ? {} : { value }),
    message:
      outcome === 'noData' ? 'no data: the query returned no series' : `${outcome} (${value ?? 'n/a'})`,
    measuredAt: new Date(at).toISOString(),
  };
}

/** Drives reconciles until `done` holds or `limit` reconciles pass; returns the decisions made. */
export function runUntil(world: World, done: (w: World) => boolean, limit = 400): Decision[] {
  const made: Decision[] = [];
  for (let i = 0; i < limit && !done(world); i++) made.push(world.step());
  if (!done(world)) {
    const phases = made.slice(-5).map((d) => `${d.status.phase}:${d.transitions.join(',')}`);
    throw new Error(`world did not converge within ${limit} reconciles; last: ${phases.join(' | ')}`);
  }
  return made;
}

export const phaseIs =
  (...phases: string[]) =>
  (world: World) =>
    phases.includes(world.status.phase ?? '');

/** A world that has completed initialisation. */
export function initialisedWorld(options: WorldOptions): World {
  const world = new World(options);
  runUntil(world, phaseIs('Initialized'));
  world.step();
  return world;
}
