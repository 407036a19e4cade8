import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { CanaryAnalysis, WebhookType } from '../../../src/api/index.ts';
import type { MeasurementOutcome } from '../../../src/analysis/index.ts';
import { decide, type Decision, type DecisionInput } from '../../../src/engine/index.ts';
import { initialisedWorld, parseRequestId, phaseIs, runUntil, specOf, type World } from './world.ts';

// Model-based tests: random configurations and random sequences of world
// events (failures, restarts, crashes, new revisions, manual controls), with
// the invariants of the issue checked after every single decision.
// Random runs in total: 250 + 200 + 200 + 200 = 850 per test run.

const METRICS = ['request-success-rate', 'request-duration'];
const GATES: readonly WebhookType[] = ['confirm-rollout', 'confirm-traffic-increase', 'confirm-promotion'];

type Strategy = 'canary' | 'weights' | 'mirror' | 'ab' | 'bg' | 'bgm';

interface Config {
  strategy: Strategy;
  step: number;
  max: number;
  weights: number[];
  iterations: number;
  threshold: number;
  stepWeightPromotion: number | undefined;
  hooks: WebhookType[];
  metrics: number;
  /** Each metric's own noDataLimit, or the deadline-derived default. */
  noDataLimit: number | undefined;
}

const configArb: fc.Arbitrary<Config> = fc
  .record({
    strategy: fc.constantFrom<Strategy>('canary', 'weights', 'mirror', 'ab', 'bg', 'bgm'),
    step: fc.integer({ min: 5, max: 60 }),
    extra: fc.integer({ min: 0, max: 60 }),
    weights: fc.uniqueArray(fc.integer({ min: 1, max: 100 }), { minLength: 1, maxLength: 5 }),
    iterations: fc.integer({ min: 1, max: 4 }),
    threshold: fc.integer({ min: 1, max: 3 }),
    stepWeightPromotion: fc.option(fc.integer({ min: 10, max: 60 }), { nil: undefined }),
    hooks: fc.subarray<WebhookType>([
      'confirm-rollout',
      'pre-rollout',
      'rollout',
      'confirm-traffic-increase',
      'confirm-promotion',
      'rollback',
      'post-rollout',
      'event',
    ]),
    metrics: fc.integer({ min: 1, max: 2 }),
    noDataLimit: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
  })
  .map(({ extra, weights, ...rest }) => ({
    ...rest,
    max: Math.min(100, rest.step + extra),
    weights: [...weights].sort((a, b) => a - b),
  }));

function analysisOf(config: Config): CanaryAnalysis {
  const common: CanaryAnalysis = {
    threshold: config.threshold,
    metrics: METRICS.slice(0, config.metrics).map((name) => ({
      name,
      thresholdRange: { min: 1 },
      ...(config.noDataLimit === undefined ? {} : { noDataLimit: config.noDataLimit }),
    })),
    webhooks: config.hooks.map((type) => ({ name: `${type}-hook`, type, url: `http://hooks.test/${type}` })),
  };
  const promotion =
    config.stepWeightPromotion === undefined ? {} : { stepWeightPromotion: config.stepWeightPromotion };
  switch (config.strategy) {
    case 'canary':
      return { ...common, ...promotion, stepWeight: config.step, maxWeight: config.max };
    case 'weights':
      return { ...common, ...promotion, stepWeights: config.weights };
    case 'mirror':
      return { ...common, ...promotion, stepWeight: config.step, maxWeight: config.max, mirror: true };
    case 'ab':
      return {
        ...common,
        iterations: config.iterations,
        match: [{ headers: { 'x-user': { exact: 'beta' } } }],
      };
    case 'bg':
      return { ...common, iterations: config.iterations };
    case 'bgm':
      return { ...common, iterations: config.iterations, mirror: true };
  }
}

/** The weight ceiling of a progressive canary, computed here independently of the engine. */
function maxWeightOf(config: Config): number | undefined {
  if (config.strategy === 'weights') return config.weights.at(-1);
  if (config.strategy === 'canary' || config.strategy === 'mirror') return config.max;
  return undefined;
}

/** Analysed steps a clean run takes, computed independently of the engine. */
function expectedSteps(config: Config): number {
  switch (config.strategy) {
    case 'canary':
      return Math.ceil(config.max / config.step);
    case 'mirror':
      return Math.ceil(config.max / config.step) + 1;
    case 'weights':
      return config.weights.length;
    case 'ab':
      return config.iterations;
    case 'bg':
    case 'bgm':
      return config.iterations + 1;
  }
}

// ------------------------------------------------------------------ world behaviour

type Answers = {
  hook: (type: WebhookType, run: number, tick: number) => boolean;
  metric: (name: string, run: number, tick: number) => MeasurementOutcome;
};

const answersArb: fc.Arbitrary<Answers> = fc.record({
  hook: fc.func(
    fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  ),
  metric: fc.func(
    fc.oneof(
      { weight: 12, arbitrary: fc.constant<MeasurementOutcome>('pass') },
      { weight: 1, arbitrary: fc.constant<MeasurementOutcome>('fail') },
      { weight: 1, arbitrary: fc.constant<MeasurementOutcome>('noData') },
      { weight: 1, arbitrary: fc.constant<MeasurementOutcome>('error') },
    ),
  ),
});

function makeWorld(config: Config, answers: Answers): World {
  return initialisedWorld({
    spec: specOf(analysisOf(config)),
    // Rollback hooks say "roll back" rarely: only when the generated answer is false.
    hooks: (type, key) =>
      type === 'rollback' ? !answers.hook(type, key.run, key.tick) : answers.hook(type, key.run, key.tick),
    metrics: (key) => answers.metric(key.name, key.run, key.tick),
  });
}

/** The same answers, but from tick `calmAfter` on every check passes and every gate opens, so each run ends. */
function eventually(answers: Answers, calmAfter: number): Answers {
  return {
    hook: (type, run, tick) => tick > calmAfter || answers.hook(type, run, tick),
    metric: (name, run, tick) => (tick > calmAfter ? 'pass' : answers.metric(name, run, tick)),
  };
}

type WorldEvent =
  | { kind: 'reconcile' }
  | { kind: 'sleep'; ms: number }
  | { kind: 'restart' }
  | { kind: 'crash' }
  | { kind: 'slowResults'; on: boolean }
  | { kind: 'newRevision' }
  | { kind: 'revert' }
  | { kind: 'control'; control: 'promote' | 'abort' | 'retry' }
  | { kind: 'suspend'; on: boolean }
  | { kind: 'primary'; broken: boolean }
  | { kind: 'canary'; broken: boolean }
  | { kind: 'router'; works: boolean };

const eventArb: fc.Arbitrary<WorldEvent> = fc.oneof(
  { weight: 30, arbitrary: fc.constant({ kind: 'reconcile' as const }) },
  {
    weight: 4,
    arbitrary: fc.integer({ min: 1_000, max: 400_000 }).map((ms) => ({ kind: 'sleep' as const, ms })),
  },
  { weight: 2, arbitrary: fc.constant({ kind: 'restart' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'crash' as const }) },
  { weight: 1, arbitrary: fc.boolean().map((on) => ({ kind: 'slowResults' as const, on })) },
  { weight: 2, arbitrary: fc.constant({ kind: 'newRevision' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'revert' as const }) },
  {
    weight: 2,
    arbitrary: fc
      .constantFrom('promote', 'abort', 'retry')
      .map((control) => ({ kind: 'control' as const, control })),
  },
  { weight: 1, arbitrary: fc.boolean().map((on) => ({ kind: 'suspend' as const, on })) },
  { weight: 1, arbitrary: fc.boolean().map((broken) => ({ kind: 'primary' as const, broken })) },
  { weight: 1, arbitrary: fc.boolean().map((broken) => ({ kind: 'canary' as const, broken })) },
  { weight: 1, arbitrary: fc.boolean().map((works) => ({ kind: 'router' as const, works })) },
);

let revisionCounter = 0;

function apply(world: World, event: WorldEvent): Decision | undefined {
  switch (event.kind) {
    case 'reconcile':
      return world.step();
    case 'sleep':
      world.advance(event.ms);
      return undefined;
    case 'restart':
      world.restartController();
      return undefined;
    case 'crash':
      return world.reconcile({ crashBeforeActions: true });
    case 'slowResults':
      world.slowResults = event.on;
      return undefined;
    case 'newRevision':
      world.newRevision(`rev-x${++revisionCounter}`);
      return undefined;
    case 'revert':
      world.newRevision(world.status.lastPromotedSpec ?? 'rev-1');
      return undefined;
    case 'control':
      world.annotations[`fledge.dev/${event.control}`] = `token-${++revisionCounter}`;
      return undefined;
    case 'suspend':
      world.spec = { ...world.spec, suspend: event.on };
      return undefined;
    case 'primary':
      world.primary.broken = event.broken;
      return undefined;
    case 'canary':
      world.target.broken = event.broken;
      return undefined;
    case 'router':
      world.routerWorks = event.works;
      return undefined;
  }
}

// ------------------------------------------------------------------ invariants

const ONE_SHOT = new Set(['event', 'alert']);

/** Re-deciding on the engine's own status with nothing new observed fires one settling row and nothing new. */
function checkIdempotent(input: DecisionInput, decision: Decision): void {
  const again = decide({ ...input, canary: { ...input.canary, status: structuredClone(decision.status) } });
  expect(again.status).toEqual(decision.status);
  expect(again.transitions).toHaveLength(1);
  for (const action of again.actions) {
    expect(ONE_SHOT.has(action.kind)).toBe(false);
    expect(decision.actions).toContainEqual(action);
  }
}

function checkWeights(config: Config, decision: Decision): void {
  const max = maxWeightOf(config);
  if (max === undefined) return;
  const phase = decision.status.phase;
  if (phase !== 'Progressing' && phase !== 'WaitingPromotion') return;
  expect(decision.status.canaryWeight).toBeGreaterThanOrEqual(0);
  expect(decision.status.canaryWeight).toBeLessThanOrEqual(max);
  for (const action of decision.actions) {
    if (action.kind === 'setRoutes') expect(action.routes.canaryWeight).toBeLessThanOrEqual(max);
  }
}

/** A metric never goes without a verdict more often than its own limit allows: the run rolls back first. */
function checkNoDataLimit(config: Config, decision: Decision): void {
  if (config.noDataLimit === undefined) return;
  for (const count of Object.values(decision.status.noDataChecks ?? {})) {
    expect(count ?? 0).toBeLessThanOrEqual(config.noDataLimit);
  }
}

/** Promotion (and the blue/green switch guarded by confirm-promotion) only after a clean tick with open gates. */
function checkPromotionGuard(world: World, config: Config, input: DecisionInput, decision: Decision): void {
  if (!decision.transitions.some((t) => t === 'active.promote' || t === 'active.advance')) return;
  expect(decision.status.failedChecks ?? 0).toBeLessThan(config.threshold);
  const status = input.canary.status;
  // The judged tick is the one pending in the input; otherwise a tick without requests started and
  // was judged within this decision, and there is nothing it could have ignored.
  if (status.tick === undefined || status.tick.evaluated || decision.status.run !== status.run) return;
  const run = status.run ?? 0;
  const tick = status.tick.number;
  const answers = world.answered.filter((a) => {
    const key = parseRequestId(a.id);
    return key.run === run && key.tick === tick;
  });
  for (const answer of answers) {
    if (answer.kind === 'metric') expect(answer.outcome).toBe('pass');
    else if (answer.type === 'rollback') expect(answer.ok).toBe(false);
    else if (
      GATES.includes(answer.type as WebhookType) ||
      answer.type === 'rollout' ||
      answer.type === 'pre-rollout'
    ) {
      expect(answer.ok).toBe(true);
    }
  }
}

/** Once the world behaves (gates open, workloads and router healthy), every run ends. */
function calmDown(world: World): void {
  world.hooks = (type) => type !== 'rollback';
  world.metrics = () => 'pass';
  world.primary.broken = false;
  world.target.broken = false;
  world.routerWorks = true;
  world.slowResults = false;
  world.spec = { ...world.spec, suspend: false };
  runUntil(world, phaseIs('Succeeded', 'Failed', 'Initialized'), 600);
}

// ------------------------------------------------------------------ properties

describe('model-based: random runs', () => {
  it('keep every invariant after every decision, and always end once the world behaves', () => {
    fc.assert(
      fc.property(
        configArb,
        answersArb,
        fc.array(eventArb, { minLength: 20, maxLength: 120 }),
        (config, answers, events) => {
          const world = makeWorld(config, answers);
          world.newRevision('rev-2');
          for (const event of events) {
            const before = world.inputs.length;
            const decision = apply(world, event);
            if (decision === undefined) continue;
            const input = world.inputs[before] as DecisionInput;
            checkWeights(config, decision);
            checkNoDataLimit(config, decision);
            checkPromotionGuard(world, config, input, decision);
            checkIdempotent(input, decision);
          }
          calmDown(world);
        },
      ),
      { numRuns: 250 },
    );
  });

  it('all-good metrics promote after exactly the expected number of analysed steps', () => {
    fc.assert(
      fc.property(configArb, (config) => {
        const clean = { ...config, hooks: config.hooks.filter((h) => h !== 'rollback') };
        const world = makeWorld(clean, { hook: () => true, metric: () => 'pass' });
        world.newRevision('rev-2');
        runUntil(world, phaseIs('Succeeded', 'Failed'), 800);
        expect(world.status.phase).toBe('Succeeded');
        const ticks = new Set(
          world.answered.filter((a) => a.kind === 'metric').map((a) => parseRequestId(a.id).tick),
        );
        expect(ticks.size).toBe(expectedSteps(config));
        expect(world.status.failedChecks).toBe(0);
      }),
      { numRuns: 200 },
    );
  });

  it('a failing metric rolls back within `threshold` analysed steps, never promoting', () => {
    fc.assert(
      fc.property(configArb, (config) => {
        const clean = { ...config, hooks: [] };
        const world = makeWorld(clean, { hook: () => true, metric: () => 'fail' });
        world.newRevision('rev-2');
        runUntil(world, phaseIs('Succeeded', 'Failed'), 800);
        expect(world.status).toMatchObject({ phase: 'Failed', failedChecks: config.threshold });
        const ticks = new Set(
          world.answered.filter((a) => a.kind === 'metric').map((a) => parseRequestId(a.id).tick),
        );
        expect(ticks.size).toBe(config.threshold);
        expect(world.status.lastPromotedSpec).toBe('rev-1');
        expect(world.decisions.some((d) => d.transitions.includes('active.promote'))).toBe(false);
      }),
      { numRuns: 200 },
    );
  });

  it('dropping all in-memory state at any point never changes the outcome', () => {
    const disruption = fc.array(fc.constantFrom('none', 'restart', 'crash', 'slow', 'fast'), {
      minLength: 400,
      maxLength: 400,
    });
    fc.assert(
      fc.property(configArb, answersArb, disruption, (config, generated, chaos) => {
        const answers = eventually(generated, 8);
        const calm = makeWorld(config, answers);
        const chaotic = makeWorld(config, answers);
        for (const world of [calm, chaotic]) world.newRevision('rev-2');
        runUntil(calm, phaseIs('Succeeded', 'Failed'), 800);
        let i = 0;
        runUntil(
          chaotic,
          (w) => {
            const next = chaos[i++ % chaos.length];
            if (next === 'restart') w.restartController();
            if (next === 'crash') w.reconcile({ crashBeforeActions: true });
            if (next === 'slow') w.slowResults = true;
            if (next === 'fast') w.slowResults = false;
            return phaseIs('Succeeded', 'Failed')(w);
          },
          1600,
        );
        expect(milestones(chaotic)).toEqual(milestones(calm));
        expect(answeredIds(chaotic)).toEqual(answeredIds(calm));
      }),
      { numRuns: 200 },
    );
  });
});

/** The run as a sequence of distinct (phase, weight, iteration, failed checks) states. */
function milestones(world: World): string[] {
  const states = world.decisions.map(
    (d) => `${d.status.phase}/${d.status.canaryWeight}/${d.status.iterations}/${d.status.failedChecks}`,
  );
  return states.filter((s, i) => s !== states[i - 1]);
}

function answeredIds(world: World): string[] {
  return [...new Set(world.answered.map((a) => a.id))].sort();
}
