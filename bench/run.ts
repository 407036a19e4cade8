// `make bench`: throughput and memory of the parts every canary pays for.
// Numbers, not assertions: compare runs on the same machine.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Phases } from '../src/api/index.ts';
import { decide } from '../src/engine/index.ts';
import { WorkQueue } from '../src/runtime/work-queue.ts';
import { inputFor } from '../test/unit/engine/fixtures.ts';
import { benchApiserver } from './apiserver.ts';
import { benchControlPlane, fledgeContender, type Scenario } from './control-plane.ts';
import { flaggerContender, printRatios } from './flagger.ts';
import { repoRoot } from '../test/harness/processes.ts';

function report(name: string, operations: number, elapsedMs: number, heapBytes?: number): void {
  const perSecond = Math.round((operations / elapsedMs) * 1000);
  const heap = heapBytes === undefined ? '' : `, heap +${(heapBytes / 1024 / 1024).toFixed(1)} MiB`;
  process.stdout.write(`${name.padEnd(44)} ${perSecond.toLocaleString('en').padStart(12)} ops/s${heap}\n`);
}

function settleHeap(): number {
  globalThis.gc?.();
  return process.memoryUsage().heapUsed;
}

/** decide() for a canary in each phase, round robin: the cost of one reconcile's pure part. */
function benchDecide(iterations: number): void {
  const inputs = Phases.filter((p) => p !== 'Terminating' && p !== 'Terminated').map((phase) =>
    inputFor(phase),
  );
  for (let i = 0; i < 2_000; i++) decide(inputs[i % inputs.length]!); // warm up
  const start = performance.now();
  for (let i = 0; i < iterations; i++) decide(inputs[i % inputs.length]!);
  report('engine: decide() across phases', iterations, performance.now() - start);
}

/** The work queue with many distinct keys: its overhead per reconcile, and what it holds in memory. */
async function benchQueue(keys: number): Promise<void> {
  const before = settleHeap();
  let processed = 0;
  const queue = new WorkQueue({ name: 'bench', workers: 4, handler: async () => void processed++ });
  queue.start();
  const start = performance.now();
  for (let k = 0; k < keys; k++) queue.add(`ns-${k % 50}/canary-${k}`);
  await queue.shutdown({ drain: true });
  report(
    `work queue: ${keys.toLocaleString('en')} keys`,
    processed,
    performance.now() - start,
    settleHeap() - before,
  );
}

const { values } = parseArgs({
  options: {
    // 10,100,1000; 10,50,200 against Flagger (the sizes its comparison was first made at).
    sizes: { type: 'string' },
    scenarios: { type: 'string', default: 'bluegreen,gatewayapi' },
    interval: { type: 'string', default: '10' },
    out: { type: 'string', default: join(repoRoot, '.bench', 'control-plane.json') },
    'micro-only': { type: 'boolean', default: false },
    // A V8 CPU profile of each Fledge run (the whole process life), summarised after it.
    profile: { type: 'boolean', default: false },
    // `make bench-flagger`: the control-plane part only, Fledge and Flagger interleaved.
    'against-flagger': { type: 'boolean', default: false },
  },
});

const againstFlagger = values['against-flagger'];
process.stdout.write(`Fledge benchmarks on Node ${process.version}\n`);
if (!againstFlagger) {
  benchDecide(50_000);
  await benchQueue(10_000);
  await benchApiserver(Number(process.env.FLEDGE_BENCH_ROUNDS ?? 250));
}
if (!values['micro-only']) {
  const scenarios = values.scenarios.split(',').map((s) => s.trim());
  for (const scenario of scenarios) {
    if (scenario !== 'bluegreen' && scenario !== 'gatewayapi')
      throw new Error(`--scenarios: "${scenario}" is not bluegreen or gatewayapi`);
  }
  const sizes = values.sizes ?? (againstFlagger ? '10,50,200' : '10,100,1000');
  const results = await benchControlPlane({
    sizes: sizes.split(',').map(Number),
    scenarios: scenarios as Scenario[],
    contenders: againstFlagger ? [fledgeContender, flaggerContender] : [fledgeContender],
    intervalSeconds: Number(values.interval),
    out: values.out,
    profile: values.profile,
  });
  if (againstFlagger) printRatios(results);
}
