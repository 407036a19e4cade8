import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAll } from 'js-yaml';
import { imageOf, inPhase, waitForCanary } from '../../harness/canary.ts';
import { kubectl } from '../../harness/control-plane.ts';
import { createTestNamespace, integrationEnv } from '../../harness/env.ts';
import { startOperatorProcess, type OperatorProcess } from '../../harness/operator.ts';
import { waitFor } from '../../harness/processes.ts';
import { startFakeGatewayController, type FakeGatewayController } from '../../harness/third-party.ts';
import { apply, canary, deployment, setImage } from '../controller/fixtures.ts';
import { chartPath, helm } from './helm.ts';

// The chart installed with Helm into the real control plane, then the operator
// run out of cluster under the chart's ServiceAccount (the Deployment's image
// cannot run here): a bearer token from the TokenRequest API, the flags the
// installed Deployment passes, and a canary taken to promotion. Every API call
// the operator makes is checked by the apiserver against the chart's RBAC, so a
// missing rule shows up as a 403 in its logs or as a canary that never promotes.
//
// Both RBAC modes are installed. In cluster-wide mode the operator still gets
// --namespace (the harness adds it, and it must): watching every namespace of the
// shared control plane would reconcile other test files' canaries alongside
// their own operators. The ClusterRole and its binding are what that mode adds,
// and they are what authorises the run.

const { kubeconfigPath } = integrationEnv();

interface Installed {
  release: string;
  namespace: string;
  serviceAccount: string;
  /** The operator container's args in the Deployment Helm installed. */
  args: string[];
}

interface Manifest {
  kind: string;
  metadata: { name: string };
  spec?: { template?: { spec?: { serviceAccountName?: string; containers?: { args?: string[] }[] } } };
}

const installed: Installed[] = [];

async function installChart(namespace: string, set: string[]): Promise<Installed> {
  // A unique release name: ClusterRoles are cluster-scoped and parallel runs share the control plane.
  const release = `fledge-${namespace.split('-').at(-1)}`;
  // --skip-crds: global setup already installed these CRDs (cluster-scoped, shared by every test file).
  await helm([
    'install',
    release,
    chartPath,
    `--kubeconfig=${kubeconfigPath}`,
    '--namespace',
    namespace,
    '--skip-crds',
    '--wait',
    '--timeout=90s',
    ...set.flatMap((s) => ['--set', s]),
  ]);
  const manifests = (
    loadAll(
      await helm(['get', 'manifest', release, `--kubeconfig=${kubeconfigPath}`, '--namespace', namespace]),
    ) as (Manifest | null)[]
  ).filter((m): m is Manifest => m !== null);
  const pod = manifests.find((m) => m.kind === 'Deployment')?.spec?.template?.spec;
  const args = pod?.containers?.[0]?.args;
  if (!pod?.serviceAccountName || !args)
    throw new Error(`release ${release} rendered no operator Deployment`);
  const result = { release, namespace, serviceAccount: pod.serviceAccountName, args };
  installed.push(result);
  return result;
}

/** A kubeconfig for the test cluster that authenticates as the ServiceAccount, with a fresh bound token. */
async function serviceAccountKubeconfig(dir: string, namespace: string, serviceAccount: string) {
  const token = (
    await kubectl(kubeconfigPath, ['create', 'token', serviceAccount, '-n', namespace, '--duration=1h'])
  ).trim();
  const admin = JSON.parse(
    await kubectl(kubeconfigPath, ['config', 'view', '--raw', '--minify', '--flatten', '-o', 'json']),
  ) as { clusters: { name: string; cluster: Record<string, unknown> }[] };
  const cluster = admin.clusters[0];
  if (!cluster) throw new Error('the test kubeconfig has no cluster');
  const user = `system:serviceaccount:${namespace}:${serviceAccount}`;
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [cluster],
    users: [{ name: user, user: { token } }],
    contexts: [{ name: user, context: { cluster: cluster.name, user, namespace } }],
    'current-context': user,
  };
  const path = join(dir, `${namespace}-${serviceAccount}.kubeconfig`);
  await writeFile(path, JSON.stringify(config), { mode: 0o600 });
  return path;
}

/**
 * `fledge run` out of cluster with the chart's flags. Two are left to the harness:
 * --listen-address (the pod's fixed port would collide between parallel test
 * files; the harness binds a free loopback port) and --log-level (debug, so a
 * refused call logged below info is seen too).
 */
function operatorArgs(chartArgs: string[]): string[] {
  const [command, ...flags] = chartArgs;
  expect(command).toBe('run');
  return flags.filter((flag) => !/^--(listen-address|log-level)=/.test(flag));
}

/** Log lines that show a call the apiserver refused or a reconcile that failed. */
async function refusals(operator: OperatorProcess): Promise<string[]> {
  return (await operator.logs())
    .map((line) => JSON.stringify(line))
    .filter((line) => /\b403\b|forbidden|reconcile failed|action failed/i.test(line));
}

/** Runs a scenario; when it fails, the operator's refusals (the likely cause) join the error. */
async function explainingRefusals(operator: OperatorProcess, scenario: () => Promise<void>): Promise<void> {
  try {
    await scenario();
  } catch (err) {
    const seen = await refusals(operator);
    if (err instanceof Error && seen.length > 0) {
      err.message += `\noperator log lines showing refused calls:\n${seen.slice(0, 5).join('\n')}`;
    }
    throw err;
  }
}

/**
 * Applies a Deployment and its Canary, releases a second image once initialised,
 * and expects it promoted to the primary. Returns the phase:weight path.
 */
async function promotesNewImage(namespace: string, name: string, spec: Record<string, unknown>) {
  await apply(
    kubeconfigPath,
    deployment(namespace, name, `example/${name}:1`),
    canary(namespace, name, spec),
  );
  await waitForCanary(kubeconfigPath, namespace, name, inPhase('Initialized'), {
    what: 'initialisation',
    timeoutMs: 90_000,
  });
  await setImage(kubeconfigPath, namespace, name, `example/${name}:2`);
  const { status, path } = await waitForCanary(
    kubeconfigPath,
    namespace,
    name,
    inPhase('Succeeded', 'Failed'),
    {
      timeoutMs: 150_000,
    },
  );
  expect(status.phase).toBe('Succeeded');
  expect(await imageOf(kubeconfigPath, namespace, `${name}-primary`)).toBe(`example/${name}:2`);
  return path;
}

async function leaseHolder(namespace: string, name: string): Promise<string> {
  return kubectl(kubeconfigPath, [
    'get',
    'lease',
    name,
    '-n',
    namespace,
    '-o',
    'jsonpath={.spec.holderIdentity}',
  ]);
}

describe('helm install, then the operator under the chart ServiceAccount', () => {
  let workdir = '';
  let operator: OperatorProcess | undefined;
  let gateway: FakeGatewayController | undefined;

  beforeAll(async () => {
    workdir = await mkdtemp(join(tmpdir(), 'fledge-helm-install-'));
  });
  /**
   * Installs the chart into a fresh namespace (values from `set`, given the apps
   * namespace) and starts the operator out of cluster under its ServiceAccount.
   */
  async function installAndRun(prefix: string, set: (apps: string) => string[]) {
    const [releaseNamespace, apps] = await Promise.all([
      createTestNamespace(`${prefix}-sys`),
      createTestNamespace(`${prefix}-apps`),
    ]);
    const release = await installChart(releaseNamespace, set(apps));
    const podName = `${release.release}-out-of-cluster`;
    operator = await startOperatorProcess({
      kubeconfigPath: await serviceAccountKubeconfig(workdir, releaseNamespace, release.serviceAccount),
      namespace: apps,
      args: operatorArgs(release.args),
      env: { POD_NAME: podName },
      name: prefix,
    });
    return { release, releaseNamespace, apps, podName, running: operator };
  }

  afterAll(async () => {
    await gateway?.stop();
    await operator?.stop();
    // Namespaces go with global teardown; helm uninstall also removes the cluster-scoped RBAC.
    for (const release of installed) {
      await helm([
        'uninstall',
        release.release,
        `--kubeconfig=${kubeconfigPath}`,
        '--namespace',
        release.namespace,
      ]);
    }
    await rm(workdir, { recursive: true, force: true });
  });

  it('sees a refused call in the logs (the check below can fail)', async () => {
    // A ServiceAccount with no RBAC at all: the same log check must catch it,
    // which also proves the operator really uses the token kubeconfig.
    const namespace = await createTestNamespace('chart-norbac');
    await kubectl(kubeconfigPath, ['create', 'serviceaccount', 'nobody', '-n', namespace]);
    operator = await startOperatorProcess({
      kubeconfigPath: await serviceAccountKubeconfig(workdir, namespace, 'nobody'),
      namespace,
      name: 'no-rbac',
    });
    const running = operator;
    await waitFor('a Forbidden line in the logs', async () => (await refusals(running)).length > 0, 30_000);
    await running.stop();
    operator = undefined;
  }, 60_000);

  it('watchNamespace (Role mode): a gatewayapi canary steps to maxWeight and promotes', async () => {
    const { release, releaseNamespace, apps, podName, running } = await installAndRun('chart', (apps) => [
      `watchNamespace=${apps}`,
    ]);
    const roles = await kubectl(kubeconfigPath, ['get', 'role,rolebinding', '-n', apps, '-o', 'name']);
    expect(roles).toContain(`role.rbac.authorization.k8s.io/${release.release}`);
    gateway = startFakeGatewayController(kubeconfigPath, apps);
    await explainingRefusals(running, async () => {
      const path = await promotesNewImage(apps, 'podinfo', {
        provider: 'gatewayapi:v1',
        service: { port: 9898, gatewayRefs: [{ name: 'public', namespace: 'gateways' }] },
        analysis: { interval: '10s', threshold: 1, maxWeight: 50, stepWeight: 25 },
      });
      expect(path).toEqual(expect.arrayContaining(['Progressing:25', 'Progressing:50']));
      // Leader election ran in the release namespace, under the chart's Lease Role.
      expect(await leaseHolder(releaseNamespace, release.release)).toMatch(new RegExp(`^${podName}-`));
    });
    expect(await refusals(running)).toEqual([]);

    await gateway.stop();
    gateway = undefined;
    await running.stop();
    operator = undefined;
  }, 300_000);

  it('cluster-wide (ClusterRole mode): a blue/green canary promotes', async () => {
    const { release, releaseNamespace, apps, podName, running } = await installAndRun('chart-cw', () => []);
    expect(release.args.some((arg) => arg.startsWith('--namespace='))).toBe(false);
    const binding = JSON.parse(
      await kubectl(kubeconfigPath, ['get', 'clusterrolebinding', release.release, '-o', 'json']),
    ) as { roleRef: { kind: string }; subjects: { name: string; namespace: string }[] };
    expect(binding.roleRef.kind).toBe('ClusterRole');
    expect(binding.subjects).toEqual([
      expect.objectContaining({ name: release.serviceAccount, namespace: releaseNamespace }),
    ]);
    await explainingRefusals(running, async () => {
      await promotesNewImage(apps, 'web', {
        provider: 'kubernetes',
        analysis: { interval: '10s', threshold: 1, iterations: 2 },
      });
      expect(await leaseHolder(releaseNamespace, release.release)).toMatch(new RegExp(`^${podName}-`));
    });
    expect(await refusals(running)).toEqual([]);

    await running.stop();
    operator = undefined;
  }, 300_000);
});
