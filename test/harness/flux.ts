import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { builtTools, kubectl, waitEstablished } from './control-plane.ts';
import { ProcessExitedError, ProcessGroup, freePort, waitFor } from './processes.ts';

// Flux's source-controller and kustomize-controller, built by hack/build-tools.sh, run against the test
// control plane with the admin kubeconfig: the GitOps engine that applies what a test commits to Git.

const FLUX_KINDS = 'gitrepositories.source.toolkit.fluxcd.io,kustomizations.kustomize.toolkit.fluxcd.io';
/** The annotation `flux reconcile` sets: a controller reconciles at once when its value changes. */
export const REQUESTED_AT = 'reconcile.fluxcd.io/requestedAt';

export interface FluxPaths {
  sourceController: string;
  kustomizeController: string;
  crds: string[];
  version: string;
}

/** The two controllers and their CRD files, building them into ~/.cache/fledge when missing. */
export async function fluxPaths(): Promise<FluxPaths> {
  const tools = await builtTools('flux', ['FLUX_SOURCE', 'FLUX_KUSTOMIZE', 'FLUX_VERSION'] as const);
  const [source, kustomize] = [tools.FLUX_SOURCE, tools.FLUX_KUSTOMIZE];
  const crds: string[] = [];
  for (const dir of [source, kustomize]) {
    for (const file of await readdir(join(dir, 'crds'))) crds.push(join(dir, 'crds', file));
  }
  return {
    sourceController: join(source, 'bin/source-controller'),
    kustomizeController: join(kustomize, 'bin/kustomize-controller'),
    crds,
    version: tools.FLUX_VERSION,
  };
}

/** Applies Flux's CRDs (server-side, idempotent) and waits until their kinds are served. */
export async function installFluxCrds(kubeconfigPath: string, paths: FluxPaths): Promise<void> {
  const files = paths.crds.flatMap((file) => ['-f', file]);
  await kubectl(kubeconfigPath, ['apply', '--server-side', '--force-conflicts', ...files]);
  await waitEstablished(kubeconfigPath, files);
  await waitFor('Flux kinds to be served', async () => {
    await kubectl(kubeconfigPath, ['get', FLUX_KINDS, '--all-namespaces']);
    return true;
  });
}

export interface Flux {
  stop(): Promise<void>;
  /** Both controllers' logs, for a failing test's message. */
  logPaths: string[];
}

/**
 * Starts source-controller and kustomize-controller on loopback, without leader election. They watch
 * only `namespace` (their runtime namespace), so parallel test files never share their objects.
 */
export async function startFlux(kubeconfigPath: string, namespace: string): Promise<Flux> {
  const paths = await fluxPaths();
  await installFluxCrds(kubeconfigPath, paths);
  const group = await ProcessGroup.create('fledge-flux');
  try {
    const env = { KUBECONFIG: kubeconfigPath, RUNTIME_NAMESPACE: namespace };
    const loopback = async () => `127.0.0.1:${await freePort()}`;
    const storage = await loopback();
    const common = async () => [
      '--watch-all-namespaces=false',
      '--enable-leader-election=false',
      `--metrics-addr=${await loopback()}`,
      `--health-addr=${await loopback()}`,
      '--log-level=debug',
    ];
    const health = new Map<string, string>();
    const start = async (name: string, bin: string, args: string[]) => {
      const flags = await common();
      health.set(name, flags[3]!.slice('--health-addr='.length));
      await group.start(name, bin, [...flags, ...args], env);
    };
    const artifacts = join(group.workdir, 'artifacts');
    await mkdir(artifacts);
    await start('source-controller', paths.sourceController, [
      `--storage-path=${artifacts}`,
      `--storage-addr=${storage}`,
      `--storage-adv-addr=${storage}`,
    ]);
    await start('kustomize-controller', paths.kustomizeController, []);
    for (const [name, address] of health) {
      await waitFor(`${name} to be ready`, async () => {
        try {
          group.assertRunning(name);
        } catch (err) {
          throw new ProcessExitedError((err as Error).message);
        }
        const response = await fetch(`http://${address}/readyz`);
        return response.ok;
      });
    }
    return {
      logPaths: [...health.keys()].map((name) => group.logPath(name)),
      stop: () => group.stop(),
    };
  } catch (err) {
    await group.stop({ keepWorkdir: true });
    throw err;
  }
}

/** A GitRepository on `url`'s `main` and a Kustomization applying its root into `namespace`. */
export function fluxSync(namespace: string, name: string, url: string): object[] {
  return [
    {
      apiVersion: 'source.toolkit.fluxcd.io/v1',
      kind: 'GitRepository',
      metadata: { name, namespace },
      spec: { url, interval: '10m', ref: { branch: 'main' } },
    },
    {
      apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
      kind: 'Kustomization',
      metadata: { name, namespace },
      spec: {
        sourceRef: { kind: 'GitRepository', name },
        path: './',
        interval: '10m',
        prune: true,
        targetNamespace: namespace,
      },
    },
  ];
}

interface FluxObject {
  metadata: { annotations?: Record<string, string> };
  status?: {
    lastHandledReconcileAt?: string;
    lastAppliedRevision?: string;
    artifact?: { revision?: string };
    conditions?: { type: string; status: string; message?: string }[];
  };
}

async function getFlux(
  kubeconfigPath: string,
  namespace: string,
  kind: string,
  name: string,
): Promise<FluxObject> {
  const out = await kubectl(kubeconfigPath, ['get', kind, name, '-n', namespace, '-o', 'json']);
  return JSON.parse(out) as FluxObject;
}

/**
 * What `flux reconcile kustomization --with-source` does: asks the GitRepository to fetch, waits until it
 * has `commit`, then asks the Kustomization to apply and waits until it has applied `commit`, Ready.
 */
export async function reconcileFlux(
  kubeconfigPath: string,
  namespace: string,
  name: string,
  commit: string,
): Promise<void> {
  const revisionOf = (object: FluxObject, key: 'artifact' | 'applied') =>
    key === 'artifact' ? object.status?.artifact?.revision : object.status?.lastAppliedRevision;
  const step = async (kind: string, key: 'artifact' | 'applied') => {
    const requestedAt = new Date().toISOString();
    await kubectl(kubeconfigPath, [
      'annotate',
      '--overwrite',
      kind,
      name,
      '-n',
      namespace,
      `${REQUESTED_AT}=${requestedAt}`,
    ]);
    let last: FluxObject | undefined;
    await waitFor(
      `${kind} ${name} to reconcile ${commit.slice(0, 7)}`,
      async () => {
        last = await getFlux(kubeconfigPath, namespace, kind, name);
        const ready = last.status?.conditions?.find((c) => c.type === 'Ready');
        return (
          last.status?.lastHandledReconcileAt === requestedAt &&
          ready?.status === 'True' &&
          (revisionOf(last, key) ?? '').endsWith(commit)
        );
      },
      90_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}; last status: ${JSON.stringify(last?.status)}`);
    });
  };
  await step('gitrepository', 'artifact');
  await step('kustomization', 'applied');
}

/**
 * A Deployment as kept in Git for Fledge: no replicas (the Canary scales the target, to zero between runs,
 * so Git leaves them alone), one container serving `http` on 9898.
 */
export function gitDeployment(name: string, image: string): object {
  const labels = { app: name };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name },
    spec: {
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: { containers: [{ name: 'app', image, ports: [{ name: 'http', containerPort: 9898 }] }] },
      },
    },
  };
}
