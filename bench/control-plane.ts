// N Deployments and Canaries on a real control plane (KWOK pods), all released at once, with the
// operator running as its own process under its own ServiceAccount. The apiserver's audit log
// counts that identity's requests, so nothing the benchmark itself sends is in them.
// Numbers to compare between runs, never assertions.
import { execFile } from 'node:child_process';
import { copyFile, mkdir, readFile, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';
import type { Canary } from '../src/api/index.ts';
import { KubeObjectClient, loadKubeConfig } from '../src/kube/client.ts';
import { createInformer } from '../src/runtime/informer.ts';
import {
  PODS_PER_NODE,
  kubectl,
  startControlPlane,
  type ControlPlane,
} from '../test/harness/control-plane.ts';
import { installCrds } from '../test/harness/install.ts';
import { startOperatorProcess } from '../test/harness/operator.ts';
import { repoRoot, waitFor } from '../test/harness/processes.ts';
import { FAKE_GATEWAY_CONTROLLER, installGatewayApiCrds } from '../test/harness/third-party.ts';
import { printProfiles } from './profile.ts';

export type Scenario = 'bluegreen' | 'gatewayapi';

/** An operator under test: Fledge, or Flagger for `make bench-flagger`. */
export interface Contender {
  name: string;
  /** API group of its Canary kind. */
  group: string;
  /** The ServiceAccount it runs as, so the audit log tells its requests apart. */
  serviceAccount: string;
  /** Its heap gauge on /metrics. */
  heapMetric: string;
  /** Installs what it needs on the control plane (its CRDs). */
  prepare(kubeconfigPath: string): Promise<void>;
  start(options: ContenderStartOptions): Promise<ContenderProcess>;
}

export interface ContenderStartOptions {
  kubeconfigPath: string;
  namespace: string;
  name: string;
  /** Write a CPU profile here when the process exits (`--profile`; Fledge only). */
  profileDir?: string;
}

export interface ContenderProcess {
  pid: number;
  /** Base URL of its /metrics. */
  url: string;
  stop(): Promise<void>;
}

export interface ControlPlaneBenchOptions {
  sizes: number[];
  scenarios: Scenario[];
  /** Run one after another for each size and scenario, on the same control plane. */
  contenders: Contender[];
  /** Analysis interval of every Canary, seconds. */
  intervalSeconds: number;
  /** Where the JSON goes. */
  out: string;
  /** Profile each Fledge run's CPU into .bench/profiles/ and print where it went. */
  profile?: boolean;
}

interface Percentiles {
  p50: number | undefined;
  p99: number | undefined;
}

export interface RunResult {
  contender: string;
  scenario: Scenario;
  n: number;
  /** Revision changed (Deployment patched) to phase Progressing, seconds. */
  reaction: Percentiles;
  /** How much later than `interval` after the previous one each analysis tick started, seconds. */
  stepLag: Percentiles;
  /** Revision changed to phase Succeeded, seconds; max is when the last one finished. */
  timeToSucceeded: Percentiles & { max: number | undefined };
  succeeded: number;
  /** Status moves seen: phase changes and analysis ticks. */
  steps: number;
  /** The operator's requests during the release by "verb resource", the idle rate subtracted. */
  requests: Record<string, number>;
  readsPerStep: number;
  writesPerStep: number;
  connectionsMax: number;
  cpuSecondsPer1000Steps: number;
  /** Fledge only: reconciles, and watch events by resource, per step during the release. */
  reconcilesPerStep?: number;
  informerEventsPerStep?: Record<string, number>;
  idleRssMiB: number;
  peakRssMiB: number;
  peakHeapMiB: number;
}

const run = promisify(execFile);

/**
 * Fledge compiled as the image runs it (dist/ beside package.json): run from its TypeScript
 * sources, Node's type stripper alone would add about 30 MiB to the resident memory measured.
 */
async function buildFledge(): Promise<string> {
  const root = join(repoRoot, '.bench', 'build');
  await rm(root, { recursive: true, force: true });
  await run(join(repoRoot, 'node_modules', '.bin', 'tsc'), [
    '-p',
    join(repoRoot, 'tsconfig.build.json'),
    '--outDir',
    join(root, 'dist'),
  ]);
  await copyFile(join(repoRoot, 'package.json'), join(root, 'package.json'));
  return join(root, 'dist', 'cli', 'main.js');
}

let fledgeEntry: string | undefined;

/** Fledge as `fledge run` in its own process, with its default flags. */
export const fledgeContender: Contender = {
  name: 'fledge',
  group: 'fledge.dev',
  serviceAccount: 'fledge',
  heapMetric: 'nodejs_heap_size_used_bytes',
  prepare: async (kubeconfigPath) => {
    await installCrds(kubeconfigPath);
    fledgeEntry = await buildFledge();
  },
  start: ({ profileDir, ...options }) =>
    startOperatorProcess({
      ...options,
      ...(fledgeEntry === undefined ? {} : { entry: fledgeEntry }),
      args: ['--log-level=info'],
      env: profileDir ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${profileDir}` } : {},
    }),
};

const OPERATOR_NAMESPACE = 'fledge-bench';
const userOf = (contender: Contender) =>
  `system:serviceaccount:${OPERATOR_NAMESPACE}:${contender.serviceAccount}`;
const IDLE_WINDOW_MS = 15_000;
const RECONCILES = 'fledge_reconcile_total';
const INFORMER_EVENTS = 'fledge_informer_events_total';
const gatewayRefs = [{ name: 'public', namespace: 'gateways' }];

export async function benchControlPlane(options: ControlPlaneBenchOptions): Promise<RunResult[]> {
  const workdir = join(repoRoot, '.bench');
  await mkdir(workdir, { recursive: true });
  const policy = join(workdir, 'audit-policy.yaml');
  const auditLog = join(workdir, `audit-${Date.now()}.log`);
  // Only the operators' identities are logged, one line per request once it completes.
  const users = options.contenders.map((c) => JSON.stringify(userOf(c))).join(', ');
  await writeFile(
    policy,
    [
      'apiVersion: audit.k8s.io/v1',
      'kind: Policy',
      'omitStages: [RequestReceived, ResponseStarted]',
      'rules:',
      // Status patch bodies too, to tell a patch that changed something from one that did not.
      `  - level: Request`,
      `    users: [${users}]`,
      `    resources: [{ group: fledge.dev, resources: [canaries/status] }, { group: flagger.app, resources: [canaries/status] }]`,
      `  - level: Metadata`,
      `    users: [${users}]`,
      '  - level: None',
      '',
    ].join('\n'),
  );
  const largest = Math.max(...options.sizes);
  process.stdout.write(`\ncontrol plane: starting (KWOK nodes for ${largest} canaries)\n`);
  const controlPlane = await startControlPlane({
    // Primary and canary pods of every Canary.
    nodes: Math.ceil((largest * 2.2) / PODS_PER_NODE) + 1,
    // At 20 requests per second (their default) the controllers, not the operators, would set the pace
    // of a thousand rollouts.
    ...(largest > 100 ? { controllerQps: Math.ceil(largest / 5) } : {}),
    apiserverArgs: [`--audit-policy-file=${policy}`, `--audit-log-path=${auditLog}`, '--audit-log-maxsize=0'],
  });
  const results: RunResult[] = [];
  try {
    if (options.scenarios.includes('gatewayapi')) await installGatewayApiCrds(controlPlane.kubeconfigPath);
    await kubectl(controlPlane.kubeconfigPath, ['create', 'namespace', OPERATOR_NAMESPACE]);
    const identities = new Map<Contender, string>();
    for (const contender of options.contenders) {
      await contender.prepare(controlPlane.kubeconfigPath);
      identities.set(contender, await operatorIdentity(controlPlane, workdir, contender.serviceAccount));
    }
    // Interleaved: each size and scenario runs for every contender before the next one starts.
    for (const n of options.sizes) {
      for (const scenario of options.scenarios) {
        for (const contender of options.contenders) {
          const identity = identities.get(contender) as string;
          const result = await runOnce(controlPlane, contender, identity, auditLog, scenario, n, options);
          results.push(result);
          printResult(result);
          await writeFile(options.out, `${JSON.stringify({ node: process.version, results }, null, 2)}\n`);
        }
      }
    }
  } finally {
    await controlPlane.stop();
  }
  process.stdout.write(`results: ${options.out}\n`);
  return results;
}

/** A ServiceAccount with cluster-admin and a kubeconfig holding its token: an operator's own identity. */
async function operatorIdentity(
  controlPlane: ControlPlane,
  workdir: string,
  account: string,
): Promise<string> {
  const kc = controlPlane.kubeconfigPath;
  await kubectl(kc, ['create', 'serviceaccount', account, '-n', OPERATOR_NAMESPACE]);
  await kubectl(kc, [
    'create',
    'clusterrolebinding',
    `${account}-bench`,
    '--clusterrole=cluster-admin',
    `--serviceaccount=${OPERATOR_NAMESPACE}:${account}`,
  ]);
  const token = (
    await kubectl(kc, ['create', 'token', account, '-n', OPERATOR_NAMESPACE, '--duration=24h'])
  ).trim();
  const path = join(workdir, `${account}.kubeconfig`);
  await writeFile(
    path,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: 'bench',
          cluster: { server: controlPlane.server, 'certificate-authority': controlPlane.caPath },
        },
      ],
      users: [{ name: account, user: { token } }],
      contexts: [{ name: 'bench', context: { cluster: 'bench', user: account } }],
      'current-context': 'bench',
    }),
  );
  return path;
}

function deployment(namespace: string, name: string): KubernetesObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { namespace, name },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.10', ports: [{ containerPort: 80 }] }],
        },
      },
    },
  } as KubernetesObject;
}

function canary(
  group: string,
  namespace: string,
  name: string,
  scenario: Scenario,
  interval: string,
): KubernetesObject {
  const spec =
    scenario === 'bluegreen'
      ? {
          provider: 'kubernetes',
          service: { port: 80 },
          analysis: { interval, threshold: 1, iterations: 3 },
        }
      : {
          provider: 'gatewayapi:v1',
          service: { port: 80, gatewayRefs },
          analysis: { interval, threshold: 1, stepWeight: 25, maxWeight: 50 },
        };
  return {
    apiVersion: `${group}/v1beta1`,
    kind: 'Canary',
    metadata: { namespace, name },
    spec: { targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name }, ...spec },
  } as KubernetesObject;
}

/** Runs `work` over `items`, `limit` at a time. */
async function inParallel<T>(items: readonly T[], limit: number, work: (item: T) => Promise<unknown>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await work(items[next++] as T);
    }),
  );
}

interface Timeline {
  releasedAt?: number;
  progressingAt?: number;
  succeededAt?: number;
  ticks: Map<number, number>;
  last?: string;
}

async function runOnce(
  controlPlane: ControlPlane,
  contender: Contender,
  operatorKubeconfig: string,
  auditLog: string,
  scenario: Scenario,
  n: number,
  options: ControlPlaneBenchOptions,
): Promise<RunResult> {
  const kc = controlPlane.kubeconfigPath;
  const namespace = `bench-${contender.name}-${scenario}-${n}`;
  const interval = `${options.intervalSeconds}s`;
  const label = `${contender.name}, ${scenario}, N = ${n}`;
  process.stdout.write(`${label}: creating ${n} Deployments and Canaries\n`);
  await kubectl(kc, ['create', 'namespace', namespace]);
  const client = new KubeObjectClient(loadKubeConfig({ kubeconfigPath: kc }));
  const names = Array.from({ length: n }, (_, i) => `app-${i}`);
  await inParallel(names, 16, (name) => client.create(deployment(namespace, name)));
  await inParallel(names, 16, (name) =>
    client.create(canary(contender.group, namespace, name, scenario, interval)),
  );
  const gateway = scenario === 'gatewayapi' ? acceptRoutes(client, kc, namespace) : { stop: () => undefined };

  const timelines = new Map<string, Timeline>(names.map((name) => [name, { ticks: new Map() }]));
  let steps = 0;
  const path = `/apis/${contender.group}/v1beta1/namespaces/${namespace}/canaries`;
  const canaries = createInformer<Canary & KubernetesObject>(loadKubeConfig({ kubeconfigPath: kc }), {
    resource: 'canaries',
    path,
    list: () =>
      client.request<KubernetesListObject<Canary & KubernetesObject>>('GET', path, undefined, undefined, {}),
  });
  canaries.addHandler({
    enqueue: () => undefined,
    keysFor: (object) => {
      const timeline = timelines.get(object.metadata.name ?? '');
      const status = object.status;
      if (timeline?.releasedAt === undefined || status === undefined) return [];
      const tick = status.tick?.number;
      // Flagger has no tick: its iteration count and weight move at each step instead.
      const flaggerStep = status as { iterations?: number; canaryWeight?: number };
      const moved = `${status.phase}/${tick ?? `${flaggerStep.iterations}/${flaggerStep.canaryWeight}`}`;
      if (moved !== timeline.last) steps++;
      timeline.last = moved;
      const since = Date.parse(status.lastTransitionTime ?? '');
      if (status.phase === 'Progressing' && timeline.progressingAt === undefined)
        timeline.progressingAt = since;
      if (status.phase === 'Succeeded' && timeline.succeededAt === undefined) timeline.succeededAt = since;
      if (tick !== undefined && status.tick?.startedTime !== undefined && status.phase !== 'Succeeded')
        timeline.ticks.set(tick, Date.parse(status.tick.startedTime));
      return [];
    },
  });
  canaries.start();

  let operator: ContenderProcess | undefined;
  const profileDir =
    options.profile && contender === fledgeContender
      ? join(repoRoot, '.bench', 'profiles', namespace)
      : undefined;
  const apiserverPort = Number(new URL(controlPlane.server).port);
  const samples = new Sampler();
  try {
    operator = await contender.start({
      kubeconfigPath: operatorKubeconfig,
      namespace,
      name: `${contender.name}-${scenario}-${n}`,
      profileDir,
    });
    const probe = { url: operator.url, pid: operator.pid, apiserverPort };
    await waitFor(
      `${n} Canaries initialised`,
      async () => canaries.list(namespace).filter((c) => c.status?.phase === 'Initialized').length === n,
      Math.max(180_000, n * 1_000),
    );
    // The idle cost: requests while nothing happens, subtracted from the release's below.
    await samples.sample(probe);
    const idleRssMiB = samples.last('process_resident_memory_bytes') / 2 ** 20;
    const idleFrom = Date.now();
    await new Promise((done) => setTimeout(done, IDLE_WINDOW_MS));
    const idleTo = Date.now();

    process.stdout.write(`${label}: releasing all at once\n`);
    samples.start(probe);
    const cpuBefore = samples.last('process_cpu_seconds_total');
    const countersBefore = samples.snapshot();
    const releaseFrom = Date.now();
    await inParallel(names, 32, async (name) => {
      await client.patch(
        { apiVersion: 'apps/v1', kind: 'Deployment', namespace, name },
        { spec: { template: { metadata: { annotations: { 'bench/revision': '2' } } } } },
        'application/merge-patch+json',
      );
      (timelines.get(name) as Timeline).releasedAt = Date.now();
    });
    const deadline = Math.max(600_000, n * 1_200);
    await waitFor(
      `${n} Canaries Succeeded`,
      async () => [...timelines.values()].every((t) => t.succeededAt !== undefined),
      deadline,
    ).catch((err: unknown) => process.stdout.write(`  ${(err as Error).message}\n`));
    const releaseTo = Date.now();
    await samples.stop();
    const cpu = samples.last('process_cpu_seconds_total') - cpuBefore;
    const grown = (metric: string) => samples.last(metric) - (countersBefore.get(metric) ?? Number.NaN);

    const requests = await operatorRequests(
      auditLog,
      userOf(contender),
      [idleFrom, idleTo],
      [releaseFrom, releaseTo],
    );
    const verbs = (read: boolean) =>
      Object.entries(requests)
        .filter(([key]) => ['get', 'list', 'watch'].includes(key.split(' ')[0] as string) === read)
        .reduce((sum, [, count]) => sum + count, 0);
    const all = [...timelines.values()];
    const since = (at: number | undefined, t: Timeline) =>
      at === undefined || t.releasedAt === undefined ? undefined : (at - t.releasedAt) / 1000;
    const lags = all.flatMap((t) => {
      const starts = [...t.ticks.entries()].sort(([a], [b]) => a - b).map(([, at]) => at);
      return starts.slice(1).map((at, i) => (at - (starts[i] as number)) / 1000 - options.intervalSeconds);
    });
    const succeeded = all.map((t) => since(t.succeededAt, t)).filter((s) => s !== undefined);
    return {
      contender: contender.name,
      scenario,
      n,
      reaction: percentiles(all.map((t) => since(t.progressingAt, t)).filter((s) => s !== undefined)),
      stepLag: percentiles(lags),
      timeToSucceeded: {
        ...percentiles(succeeded),
        max: succeeded.length ? Math.max(...succeeded) : undefined,
      },
      succeeded: succeeded.length,
      steps,
      requests,
      readsPerStep: round(verbs(true) / Math.max(steps, 1)),
      writesPerStep: round(verbs(false) / Math.max(steps, 1)),
      connectionsMax: samples.max(CONNECTIONS),
      cpuSecondsPer1000Steps: round((cpu / Math.max(steps, 1)) * 1000),
      ...(contender === fledgeContender
        ? {
            reconcilesPerStep: round(grown(RECONCILES) / Math.max(steps, 1)),
            informerEventsPerStep: Object.fromEntries(
              [...samples.snapshot().keys()]
                .filter((key) => key.startsWith(`${INFORMER_EVENTS}{`))
                .map((key) => [
                  key.slice(INFORMER_EVENTS.length + 1, -1),
                  round(grown(key) / Math.max(steps, 1)),
                ])
                .filter(([, perStep]) => (perStep as number) > 0),
            ),
          }
        : {}),
      idleRssMiB: round(idleRssMiB),
      peakRssMiB: round(samples.max('process_resident_memory_bytes') / 2 ** 20),
      peakHeapMiB: round(samples.max(contender.heapMetric) / 2 ** 20),
    };
  } finally {
    await samples.stop();
    await operator?.stop();
    if (profileDir) await printProfiles(profileDir, (line) => process.stdout.write(`${line}\n`));
    canaries.stop();
    gateway.stop();
    await kubectl(kc, ['delete', 'namespace', namespace, '--wait=false']);
  }
}

interface Route extends KubernetesObject {
  spec: { parentRefs?: Record<string, unknown>[] };
  status?: { parents?: { conditions?: { type: string; observedGeneration?: number }[] }[] };
}

/**
 * Plays the Gateway controller: accepts every route generation it sees, 16 at a time, as the
 * benchmark's admin (kubectl per route, as the tests' fake controller does, is too slow for N).
 */
function acceptRoutes(client: KubeObjectClient, kubeconfigPath: string, namespace: string) {
  const path = `/apis/gateway.networking.k8s.io/v1/namespaces/${namespace}/httproutes`;
  const routes = createInformer<Route>(loadKubeConfig({ kubeconfigPath }), {
    resource: 'httproutes',
    path,
    list: () => client.request<KubernetesListObject<Route>>('GET', path, undefined, undefined, {}),
  });
  const pending = new Set<string>();
  const lagging = (route: Readonly<Route>) =>
    (route.status?.parents ?? []).length !== (route.spec.parentRefs ?? []).length ||
    (route.status?.parents ?? []).some(
      (parent) =>
        parent.conditions?.find((c) => c.type === 'Accepted')?.observedGeneration !==
        route.metadata?.generation,
    );
  routes.addHandler({
    enqueue: () => undefined,
    keysFor: (route) => {
      if (lagging(route)) pending.add(route.metadata?.name ?? '');
      return [];
    },
  });
  routes.start();
  let running = true;
  const accept = async (name: string) => {
    const route = routes.get(namespace, name);
    if (route === undefined || !lagging(route)) return;
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const condition = (type: string) => ({
      type,
      status: 'True',
      reason: type,
      message: 'accepted by the benchmark',
      observedGeneration: route.metadata?.generation,
      lastTransitionTime: now,
    });
    const parents = (route.spec.parentRefs ?? []).map((parentRef) => ({
      parentRef,
      controllerName: FAKE_GATEWAY_CONTROLLER,
      conditions: [condition('Accepted'), condition('ResolvedRefs')],
    }));
    await client
      .patch(
        { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', namespace, name },
        { status: { parents } },
        'application/merge-patch+json',
        { subresource: 'status' },
      )
      .catch(() => pending.add(name));
  };
  void (async () => {
    while (running) {
      const names = [...pending];
      pending.clear();
      await inParallel(names, 16, accept);
      await new Promise((done) => setTimeout(done, 50));
    }
  })();
  return {
    stop: () => {
      running = false;
      routes.stop();
    },
  };
}

/** The operator's audited requests by "verb resource" in `window`, minus the idle rate over `idle`. */
async function operatorRequests(
  auditLog: string,
  user: string,
  idle: [number, number],
  window: [number, number],
): Promise<Record<string, number>> {
  // The audit backend writes in batches: give it a moment to catch up.
  await new Promise((done) => setTimeout(done, 2_000));
  const counts = { idle: new Map<string, number>(), window: new Map<string, number>() };
  for (const line of (await readFile(auditLog, 'utf8')).split('\n')) {
    if (!line.startsWith('{')) continue;
    const event = JSON.parse(line) as {
      verb: string;
      user?: { username?: string };
      objectRef?: { resource?: string; subresource?: string };
      requestReceivedTimestamp: string;
    };
    if (event.user?.username !== user) continue;
    const at = Date.parse(event.requestReceivedTimestamp);
    const into =
      at >= idle[0] && at < idle[1]
        ? counts.idle
        : at >= window[0] && at < window[1]
          ? counts.window
          : undefined;
    if (into === undefined) continue;
    const ref = event.objectRef;
    const key = `${event.verb} ${ref?.resource ?? '(none)'}${ref?.subresource ? `/${ref.subresource}` : ''}`;
    into.set(key, (into.get(key) ?? 0) + 1);
  }
  const scale = (window[1] - window[0]) / (idle[1] - idle[0]);
  const result: Record<string, number> = {};
  for (const [key, count] of counts.window) {
    const net = Math.round(count - (counts.idle.get(key) ?? 0) * scale);
    if (net > 0) result[key] = net;
  }
  return Object.fromEntries(Object.entries(result).sort(([, a], [, b]) => b - a));
}

/** The sample the benchmark adds to an operator's own: its open connections to the apiserver. */
const CONNECTIONS = 'bench_apiserver_connections';

interface Probe {
  /** Base URL of the operator's /metrics. */
  url: string;
  pid: number;
  apiserverPort: number;
}

/**
 * Established TCP connections from `pid` to `port`, counted by the kernel rather than by the
 * operator, so Fledge and Flagger are measured alike: the process's socket inodes matched
 * against the connection tables of its network namespace.
 */
async function connectionsTo(pid: number, port: number): Promise<number> {
  const inodes = new Set<string>();
  for (const fd of await readdir(`/proc/${pid}/fd`).catch(() => [])) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    const socket = /^socket:\[(\d+)\]$/.exec(target);
    if (socket) inodes.add(socket[1] as string);
  }
  const remotePort = port.toString(16).toUpperCase().padStart(4, '0');
  let count = 0;
  for (const table of ['tcp', 'tcp6']) {
    const text = await readFile(`/proc/${pid}/net/${table}`, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      // local, remote, state (01: established) ... inode
      if (fields[2]?.endsWith(`:${remotePort}`) && fields[3] === '01' && inodes.has(fields[9] ?? '')) count++;
    }
  }
  return count;
}

/** Scrapes the operator's /metrics every second; keeps the last and the largest value of each sample. */
class Sampler {
  readonly #last = new Map<string, number>();
  readonly #max = new Map<string, number>();
  #loop: Promise<void> | undefined;
  #running = false;

  async sample(probe: Probe): Promise<void> {
    const text = await (await fetch(`${probe.url}/metrics`)).text();
    const samples: [string, number][] = [[CONNECTIONS, await connectionsTo(probe.pid, probe.apiserverPort)]];
    // A labelled series counts towards its name (the sum over labels) and towards name{resource}.
    const sums = new Map<string, number>();
    for (const line of text.split('\n')) {
      const match = /^(\w+)(?:\{([^}]*)\})? ([\d.e+-]+)$/.exec(line);
      if (!match) continue;
      const [, name = '', labels, value] = match;
      const resource = /resource="([^"]+)"/.exec(labels ?? '')?.[1];
      for (const key of resource === undefined ? [name] : [name, `${name}{${resource}}`])
        sums.set(key, (sums.get(key) ?? 0) + Number(value));
    }
    samples.push(...sums);
    for (const [name, value] of samples) {
      this.#last.set(name, value);
      this.#max.set(name, Math.max(value, this.#max.get(name) ?? value));
    }
  }

  start(probe: Probe): void {
    this.#max.clear();
    for (const [name, value] of this.#last) this.#max.set(name, value);
    this.#running = true;
    this.#loop = (async () => {
      while (this.#running) {
        await this.sample(probe).catch(() => undefined);
        await new Promise((done) => setTimeout(done, 1_000));
      }
    })();
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#loop;
  }

  last(name: string): number {
    return this.#last.get(name) ?? Number.NaN;
  }

  /** The latest value of every series. */
  snapshot(): Map<string, number> {
    return new Map(this.#last);
  }

  max(name: string): number {
    return this.#max.get(name) ?? Number.NaN;
  }
}

function percentiles(values: number[]): Percentiles {
  if (values.length === 0) return { p50: undefined, p99: undefined };
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) =>
    round(sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] as number);
  return { p50: at(0.5), p99: at(0.99) };
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

function printResult(r: RunResult): void {
  const s = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? '-' : String(v));
  const lines = [
    `${r.contender}, ${r.scenario}, N = ${r.n}: ${r.succeeded}/${r.n} Succeeded, ${r.steps} steps`,
    `  reaction p50/p99            ${s(r.reaction.p50)} / ${s(r.reaction.p99)} s`,
    `  step lag p50/p99            ${s(r.stepLag.p50)} / ${s(r.stepLag.p99)} s`,
    `  time to Succeeded p50/max   ${s(r.timeToSucceeded.p50)} / ${s(r.timeToSucceeded.max)} s`,
    `  reads / writes per step     ${s(r.readsPerStep)} / ${s(r.writesPerStep)}`,
    `  CPU s per 1000 steps        ${s(r.cpuSecondsPer1000Steps)}`,
    ...(r.reconcilesPerStep === undefined
      ? []
      : [
          `  reconciles per step         ${s(r.reconcilesPerStep)}`,
          `  watch events per step       ${Object.entries(r.informerEventsPerStep ?? {})
            .map(([resource, perStep]) => `${resource} ${perStep}`)
            .join(', ')}`,
        ]),
    `  RSS idle / peak, heap peak  ${s(r.idleRssMiB)} / ${s(r.peakRssMiB)} MiB, ${s(r.peakHeapMiB)} MiB`,
    `  apiserver connections, max  ${s(r.connectionsMax)}`,
    `  requests (verb resource)    ${Object.entries(r.requests)
      .map(([key, count]) => `${key}: ${count}`)
      .join(', ')}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
