// `make demo-gitops`: the GitOps path on the local sandbox. podinfo, its Canary and a smoke-test webhook
// live in a Git repository served on loopback; real Flux (source-controller and kustomize-controller)
// applies each commit and Fledge releases it. A good tag is promoted; a bad tag fails its smoke test and
// is rolled back, and the rollback names the commit. It prints the Git log as it goes, then stops
// everything it started (Ctrl-C stops early) and leaves nothing behind.
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import type { CanaryStatus } from '../src/api/index.ts';
import { canaryStatus, imageOf } from '../test/harness/canary.ts';
import { kubectl } from '../test/harness/control-plane.ts';
import { fluxSync, gitDeployment, reconcileFlux, startFlux, type Flux } from '../test/harness/flux.ts';
import { startGitServer, type GitRepository, type GitServer } from '../test/harness/git-server.ts';
import { startOperatorProcess, type OperatorProcess } from '../test/harness/operator.ts';
import { repoRoot } from '../test/harness/processes.ts';
import { startSandbox, type Sandbox } from '../test/harness/sandbox.ts';
import { startFakeGatewayController, type FakeGatewayController } from '../test/harness/third-party.ts';
import { canaryEvents } from '../test/integration/controller/history.ts';

const namespace = 'demo-gitops';
const app = 'podinfo';
const image = (tag: string) => `ghcr.io/stefanprodan/podinfo:${tag}`;
// The smoke test fails for this tag.
const badTag = '6.7.2';

const say = (message: string) => process.stderr.write(`[demo-gitops] ${message}\n`);
const clock = () => new Date().toTimeString().slice(0, 8);

let sandbox: Sandbox | undefined;
let flux: Flux | undefined;
let operator: OperatorProcess | undefined;
let gateway: FakeGatewayController | undefined;
let git: GitServer | undefined;
let smoke: Server | undefined;
let stopping = false;

async function stop(reason: string, exitCode: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    say(`stopping (${reason})`);
    await operator?.stop();
    await flux?.stop();
    await gateway?.stop();
    await git?.close();
    smoke?.closeAllConnections();
    smoke?.close();
    await sandbox?.stop();
    say('stopped; nothing left running');
  }
  process.exit(exitCode);
}
process.on('SIGINT', () => void stop('SIGINT', 0));
process.on('SIGTERM', () => void stop('SIGTERM', 0));

/** A smoke test as a rollout webhook: it looks at the image the canary runs and fails the bad tag. */
async function startSmokeTest(kubeconfigPath: string): Promise<string> {
  smoke = createServer((request, response) => {
    request.resume();
    imageOf(kubeconfigPath, namespace, app)
      .then((running) =>
        running.endsWith(`:${badTag}`)
          ? response.writeHead(500).end(`${running}: /healthz answers 500`)
          : response.writeHead(200).end(`${running}: ok`),
      )
      .catch((err: Error) => response.writeHead(500).end(err.message));
  });
  await new Promise<void>((done) => smoke!.listen(0, '127.0.0.1', done));
  return `http://127.0.0.1:${(smoke.address() as AddressInfo).port}/smoke`;
}

/** The repository's files with podinfo at `tag`. */
function manifests(tag: string, smokeUrl: string): Record<string, string> {
  const objects: Record<string, object> = {
    'deployment.yaml': gitDeployment(app, image(tag)),
    'canary.yaml': {
      apiVersion: 'fledge.dev/v1beta1',
      kind: 'Canary',
      metadata: { name: app },
      spec: {
        provider: 'gatewayapi:v1',
        targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: app },
        service: { port: 9898, gatewayRefs: [{ name: 'public', namespace: 'gateway-system' }] },
        analysis: {
          interval: '10s',
          threshold: 2,
          maxWeight: 50,
          stepWeight: 25,
          webhooks: [{ name: 'smoke-test', type: 'rollout', url: smokeUrl, timeout: '5s' }],
        },
      },
    },
  };
  return Object.fromEntries(Object.entries(objects).map(([path, object]) => [path, stringify(object)]));
}

async function gitLog(repo: GitRepository): Promise<void> {
  say('$ git log --oneline');
  for (const line of await repo.log()) say(`  ${line}`);
}

/** Prints each phase and weight change until the run ends; resolves to the final status. */
async function follow(
  kubeconfigPath: string,
  done: (status: CanaryStatus) => boolean,
): Promise<CanaryStatus> {
  let last = '';
  for (;;) {
    if (operator?.exited()) await stop('the operator exited unexpectedly', 1);
    const status = await canaryStatus(kubeconfigPath, namespace, app).catch(() => undefined);
    const seen = status?.phase && `${status.phase} ${status.canaryWeight ?? 0}%`;
    if (status && seen && seen !== last) {
      last = seen;
      say(
        `${clock()}  ${status.phase}${status.phase === 'Progressing' ? `, canary weight ${status.canaryWeight ?? 0}%` : ''}`,
      );
    }
    if (status && done(status)) return status;
    await new Promise((resume) => setTimeout(resume, 1_000));
  }
}

/** Commits `tag`, makes Flux apply it now, follows the run and prints what Fledge recorded about the commit. */
async function release(kubeconfigPath: string, repo: GitRepository, smokeUrl: string, tag: string) {
  const commit = await repo.commit(`release ${app} ${tag}`, manifests(tag, smokeUrl));
  say(`${clock()}  committed ${commit.slice(0, 7)} "release ${app} ${tag}"; Flux applies it`);
  await gitLog(repo);
  await reconcileFlux(kubeconfigPath, namespace, 'apps', commit);
  const ended = await follow(
    kubeconfigPath,
    (s) => (s.phase === 'Succeeded' || s.phase === 'Failed') && s.sourceRevision?.endsWith(commit) === true,
  );
  say(`status.sourceRevision: ${ended.sourceRevision}`);
  const reason = ended.phase === 'Succeeded' ? 'Promoted' : 'RolledBack';
  const lead = `commit ${commit.slice(0, 7)}`;
  for (let i = 0; i < 30; i++) {
    const event = (await canaryEvents(kubeconfigPath, namespace, app)).find(
      (e) => e.reason === reason && e.note.startsWith(lead),
    );
    if (event) {
      say(`event ${event.type} ${event.reason}: ${event.note}`);
      break;
    }
    await new Promise((resume) => setTimeout(resume, 1_000));
  }
  say(`${app}-primary runs ${await imageOf(kubeconfigPath, namespace, `${app}-primary`)}`);
}

async function main(): Promise<void> {
  sandbox = await startSandbox(say);
  const { kubeconfigPath } = sandbox.controlPlane;
  await kubectl(kubeconfigPath, ['create', 'namespace', namespace]);
  git = await startGitServer();
  const repo = await git.repository('apps');
  say(`a Git server on loopback serves ${repo.url}`);
  flux = await startFlux(kubeconfigPath, namespace);
  say('Flux source-controller and kustomize-controller are running against the sandbox');
  operator = await startOperatorProcess({ kubeconfigPath, namespace, name: 'fledge' });
  say(`Fledge is running (${operator.url}/metrics)`);
  // No data plane here: a stand-in Gateway controller marks the HTTPRoute Accepted, as a real one would.
  gateway = startFakeGatewayController(kubeconfigPath, namespace, 500);
  const smokeUrl = await startSmokeTest(kubeconfigPath);
  say(`the Canary's rollout webhook is a smoke test that fails image tag ${badTag}`);
  say('watch it from another shell, in this repository:');
  say(`  export KUBECONFIG=${kubeconfigPath} PATH=$PWD/node_modules/.bin:$PATH`);
  say(`  node src/cli/main.ts status ${app} -n ${namespace} --watch`);

  const first = await repo.commit(`add ${app} 6.7.0`, manifests('6.7.0', smokeUrl));
  say(`${clock()}  committed ${first.slice(0, 7)} "add ${app} 6.7.0"`);
  await kubectl(
    kubeconfigPath,
    ['apply', '-f', '-'],
    JSON.stringify({ kind: 'List', apiVersion: 'v1', items: fluxSync(namespace, 'apps', repo.url) }),
  );
  await reconcileFlux(kubeconfigPath, namespace, 'apps', first);
  say('Flux applied it; Fledge initialises the primary');
  await follow(kubeconfigPath, (s) => s.phase === 'Initialized');

  await release(kubeconfigPath, repo, smokeUrl, '6.7.1');
  await release(kubeconfigPath, repo, smokeUrl, badTag);
  say(`Git still says ${badTag}; the primary keeps serving the last good tag until the next commit`);
  say(`$ fledge status ${app} -n ${namespace}`);
  const { stdout } = await promisify(execFile)(process.execPath, [
    join(repoRoot, 'src/cli/main.ts'),
    'status',
    app,
    '-n',
    namespace,
    `--kubeconfig=${kubeconfigPath}`,
  ]);
  for (const line of stdout.split('\n').slice(0, 7)) say(`  ${line}`);
  await stop('done', 0);
}

main().catch((err: unknown) => {
  if (stopping) return;
  say(err instanceof Error ? err.message : String(err));
  void stop('error', 1);
});
