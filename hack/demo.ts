// `make demo`: a sample canary walked through a weighted rollout to promotion on
// the local sandbox. It starts the sandbox and the operator, applies
// docs/examples/ (podinfo and its Canary), waits for the Canary to initialise,
// releases a new image and prints every phase and weight change. Where it can make
// a pod network (root), real requests flow: Traefik serves the HTTPRoute, a backend
// answers as each pod, steady load runs, and every step prints the split and success
// rate the backends measured; a faulty release then follows and is rolled back on
// Traefik's metrics. It then keeps running, still reporting changes, until Ctrl-C,
// SIGINT or SIGTERM stops everything, leaving nothing running.
import { join } from 'node:path';
import type { CanaryStatus, Phase } from '../src/api/index.ts';
import { canaryStatus, imageOf } from '../test/harness/canary.ts';
import { kubectl } from '../test/harness/control-plane.ts';
import type { PodCount } from '../test/harness/backend.ts';
import { startDataPlane, type DataPlane } from '../test/harness/data-plane.ts';
import { startLoad, type Load } from '../test/harness/load.ts';
import { startOperatorProcess, type OperatorProcess } from '../test/harness/operator.ts';
import { repoRoot } from '../test/harness/processes.ts';
import { startSandbox, type Sandbox } from '../test/harness/sandbox.ts';
import { traefikGateway } from '../test/harness/proxy.ts';
import { startFakeGatewayController, type FakeGatewayController } from '../test/harness/third-party.ts';
import { traefikGatewayQueries } from '../test/integration/traffic/queries.ts';

const namespace = 'demo';
const name = 'podinfo';
const examples = join(repoRoot, 'docs/examples');
// docs/examples/podinfo.yaml ships 6.7.0; the demo releases the next patch.
const nextImage = 'ghcr.io/stefanprodan/podinfo:6.7.1';
// With real traffic, a release after that one answers 20% of its requests with 500s.
const faultyImage = 'ghcr.io/stefanprodan/podinfo:6.7.2';

const say = (message: string) => process.stderr.write(`[demo] ${message}\n`);
const clock = () => new Date().toTimeString().slice(0, 8);

/** One line per phase, so a new phase cannot go unexplained. */
const phaseLine: Record<Phase, (status: CanaryStatus) => string> = {
  Initializing: () => 'initialising: creating podinfo-primary, the Services and the HTTPRoute',
  Initialized: () => 'initialised: podinfo-primary serves 100% of the traffic; waiting for a new revision',
  Waiting: () => 'waiting: a confirm-rollout webhook holds the release',
  Progressing: (s) =>
    s.canaryWeight
      ? `progressing: canary ${s.canaryWeight}%, primary ${100 - s.canaryWeight}%`
      : 'progressing: the new revision is up; no traffic on it yet',
  WaitingPromotion: () => 'waiting: a confirm-promotion webhook holds the promotion',
  Promoting: () => "promoting: copying the canary's pod template to podinfo-primary",
  Finalising: () => 'finalising: traffic back on the updated primary; scaling the canary down',
  Succeeded: () => 'succeeded: the new revision is promoted',
  Failed: (s) =>
    `failed: rolled back to the primary (${s.conditions?.find((c) => c.type === 'Promoted')?.message ?? 'see events'})`,
  Terminating: () => 'terminating: the Canary is being deleted',
  Terminated: () => 'terminated',
};

let sandbox: Sandbox | undefined;
let operator: OperatorProcess | undefined;
let gateway: FakeGatewayController | undefined;
let plane: DataPlane | undefined;
let load: Load | undefined;
/** Set by the first signal or fatal error; every loop and start-up step checks it. */
let stopRequested: string | undefined;
let stopped = false;
/** The start-up step in progress: a half-started sandbox cannot be stopped, so a stop waits for it. */
let inFlight: Promise<unknown> = Promise.resolve();

async function stop(reason: string, exitCode: number): Promise<never> {
  stopRequested ??= reason;
  if (!stopped) {
    stopped = true;
    say(`stopping (${reason})`);
    await load?.stop();
    await gateway?.stop();
    await operator?.stop();
    await plane?.stop();
    await sandbox?.stop();
    say('stopped; nothing left running');
  }
  process.exit(exitCode);
}

const onSignal = (signal: string) => {
  if (stopRequested) return;
  stopRequested = signal;
  void inFlight.then(() => stop(signal, 0));
};
process.on('SIGINT', () => onSignal('SIGINT'));
process.on('SIGTERM', () => onSignal('SIGTERM'));

/** Runs a start-up step, or nothing once a stop is under way (the stop then exits the process). */
function step<T>(run: () => Promise<T>): Promise<T> {
  if (stopRequested) return new Promise<never>(() => undefined);
  const promise = run();
  inFlight = promise.catch(() => undefined);
  return promise;
}

let lastSeen: string | undefined;

/** Prints a line whenever the Canary's phase or weight changes; resolves once `until` holds. */
async function follow(kubeconfigPath: string, until: (status: CanaryStatus) => boolean): Promise<void> {
  while (!stopRequested) {
    if (operator?.exited()) {
      // Ctrl-C in a terminal signals the operator too; give our own handler the chance to run first.
      await new Promise((done) => setTimeout(done, 500));
      if (!stopRequested) await stop('the operator exited unexpectedly', 1);
      return;
    }
    const status = await canaryStatus(kubeconfigPath, namespace, name).catch(() => undefined);
    const seen = status?.phase && `${status.phase}:${status.canaryWeight ?? 0}`;
    if (status?.phase && seen !== lastSeen) {
      lastSeen = seen;
      // What the backends answered while the step that just ended lasted, then the new step.
      const measured = await measuredSince();
      if (measured) say(`            ${measured}`);
      say(`${clock()}  ${phaseLine[status.phase](status)}`);
    }
    if (status && until(status)) return;
    await new Promise((done) => setTimeout(done, 1_000));
  }
}

let lastCounts: PodCount[] | undefined;

/** What the backends answered since the last call, per version: share of requests and success rate. */
async function measuredSince(): Promise<string | undefined> {
  if (!plane) return undefined;
  const counts = (await plane.backend.counts().catch(() => [])).filter((c) => c.namespace === namespace);
  const before = lastCounts ?? [];
  lastCounts = counts;
  const perVersion = new Map<string, { all: number; ok: number }>();
  for (const c of counts) {
    const earlier = before.find((b) => b.name === c.name && b.code === c.code)?.count ?? 0;
    const entry = perVersion.get(c.version) ?? { all: 0, ok: 0 };
    entry.all += c.count - earlier;
    if (c.code < 500) entry.ok += c.count - earlier;
    perVersion.set(c.version, entry);
  }
  const total = [...perVersion.values()].reduce((sum, v) => sum + v.all, 0);
  if (total === 0) return undefined;
  const parts = [...perVersion]
    .filter(([, v]) => v.all > 0)
    .map(([version, v]) => `${version} ${pct(v.all, total)} (${pct(v.ok, v.all)} ok)`);
  return `measured: ${total} requests, ${parts.join(', ')}`;
}

const pct = (part: number, whole: number) => `${Math.round((100 * part) / whole)}%`;

/** Traefik, the pod network and the backend, or undefined (with why) where they cannot run. */
async function realTraffic(kubeconfigPath: string): Promise<DataPlane | undefined> {
  try {
    return await startDataPlane({
      kubeconfigPath,
      onWait: (holder) => say(`waiting for the pod network another run holds (${holder})`),
    });
  } catch (err) {
    say(`no real traffic: ${err instanceof Error ? err.message : String(err)}`);
    return undefined;
  }
}

async function main(): Promise<void> {
  sandbox = await step(() => startSandbox(say));
  const { kubeconfigPath } = sandbox.controlPlane;
  const prometheusUrl = sandbox.prometheus.url;
  await step(() => kubectl(kubeconfigPath, ['create', 'namespace', namespace]));
  operator = await step(() =>
    startOperatorProcess({
      kubeconfigPath,
      namespace,
      args: [`--metrics-server=${prometheusUrl}`],
      name: 'fledge',
    }),
  );
  say(`Fledge is running (metrics and health: ${operator.url}/metrics, /healthz, /readyz)`);
  plane = await step(() => realTraffic(kubeconfigPath));
  if (plane) {
    const proxy = plane.proxy;
    await step(() => sandbox!.prometheus.reload(plane!.scrapeConfigs));
    await step(() => kubectl(kubeconfigPath, ['create', 'namespace', 'gateway-system']));
    const objects = [
      ...traefikGateway(proxy, 'gateway-system', 'public'),
      successRateTemplate(prometheusUrl),
    ];
    await step(() =>
      kubectl(
        kubeconfigPath,
        ['apply', '-f', '-'],
        JSON.stringify({ kind: 'List', apiVersion: 'v1', items: objects }),
      ),
    );
    say(`Traefik serves the Gateway gateway-system/public on ${proxy.url}; every pod IP answers as its pod`);
  } else {
    // No data plane, so no real Gateway controller: a stand-in marks every HTTPRoute in the
    // namespace Accepted, as a real one would once it programs the route.
    gateway = startFakeGatewayController(kubeconfigPath, namespace, 500);
    say('no real gateway here: a fake Gateway controller marks the HTTPRoute Accepted (no traffic flows)');
  }

  await step(() => kubectl(kubeconfigPath, ['apply', '-n', namespace, '-f', examples]));
  say(`applied docs/examples/ to namespace ${namespace}: Deployment ${name} and its Canary`);
  if (plane) {
    await step(() => patch(kubeconfigPath, 'canary', 'merge', successRateCheck));
    say("added a success-rate check (min 99%) on Traefik's metrics to the Canary");
    load = startLoad(plane.proxy.url, { host: `${name}.${namespace}` });
    say(`sending steady load to ${plane.proxy.url}`);
  }
  say('watch it from another shell, in this repository:');
  say(`  export KUBECONFIG=${kubeconfigPath} PATH=$PWD/node_modules/.bin:$PATH`);
  say(`  node src/cli/main.ts status ${name} -n ${namespace} --watch`);
  say(`  kubectl -n ${namespace} get canaries,deployments,httproutes --watch`);
  await follow(kubeconfigPath, (s) => s.phase === 'Initialized');

  await step(() =>
    kubectl(kubeconfigPath, ['-n', namespace, 'set', 'image', `deployment/${name}`, `podinfo=${nextImage}`]),
  );
  say(`${clock()}  new revision: ${name} now runs ${nextImage}`);
  await follow(kubeconfigPath, (s) => s.phase === 'Succeeded' || s.phase === 'Failed');
  const primaryImage = await step(() => imageOf(kubeconfigPath, namespace, `${name}-primary`));
  say(`${name}-primary now runs ${primaryImage}`);
  if (plane) {
    await step(() => patch(kubeconfigPath, 'deployment', 'strategic', faultyRelease));
    say(`${clock()}  new revision: ${name} now runs ${faultyImage}, which answers 20% of requests with 500s`);
    await follow(kubeconfigPath, (s) => s.phase === 'Succeeded' || s.phase === 'Failed');
    const image = await step(() => imageOf(kubeconfigPath, namespace, `${name}-primary`));
    say(`${name}-primary still runs ${image}`);
  }
  say(`try another release: kubectl -n ${namespace} set image deployment/${name} podinfo=<image>`);
  say('still running; Ctrl-C stops the operator and the sandbox');
  // Keep reporting, so a release started from another shell shows up here too.
  await follow(kubeconfigPath, () => false);
}

/** Patches the demo's `kind` named like the sample (strategic merge keeps a container's other fields). */
function patch(kubeconfigPath: string, kind: string, type: 'merge' | 'strategic', body: object) {
  return kubectl(kubeconfigPath, [
    '-n',
    namespace,
    'patch',
    kind,
    name,
    `--type=${type}`,
    '-p',
    JSON.stringify(body),
  ]);
}

function successRateTemplate(prometheusUrl: string): object {
  return {
    apiVersion: 'fledge.dev/v1beta1',
    kind: 'MetricTemplate',
    metadata: { name: 'traefik-success-rate', namespace },
    spec: {
      provider: { type: 'prometheus', address: prometheusUrl },
      query: traefikGatewayQueries.successRate,
    },
  };
}

const successRateCheck = {
  spec: {
    analysis: {
      metrics: [
        {
          name: 'success-rate',
          interval: '15s',
          templateRef: { name: 'traefik-success-rate' },
          thresholdRange: { min: 99 },
        },
      ],
    },
  },
};

const faultyRelease = {
  spec: {
    template: {
      spec: {
        containers: [{ name: 'podinfo', image: faultyImage, env: [{ name: 'ERROR_RATE', value: '0.2' }] }],
      },
    },
  },
};

main().catch((err: unknown) => {
  // Commands cut short by a stop fail; that is not worth reporting.
  if (stopRequested) return;
  say(err instanceof Error ? err.message : String(err));
  void stop('error', 1);
});
