import { CoreV1Api, KubeConfig, makeInformer, type V1Pod } from '@kubernetes/client-node';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PodBehaviour } from './backend-server.ts';
import type { PodNetwork } from './pod-network.ts';
import { ProcessGroup, repoRoot, waitFor } from './processes.ts';

/** Requests one pod answered with one status code, as the backend counted them. */
export interface PodCount extends PodBehaviour {
  code: number;
  count: number;
}

export interface Backend {
  /** Where Prometheus scrapes the per-pod counters (`host:port`, inside the pod network). */
  metricsTarget: string;
  /** The counters now. */
  counts(): Promise<PodCount[]>;
  stop(): Promise<void>;
}

export interface BackendOptions {
  network: PodNetwork;
  kubeconfigPath: string;
  /** Container ports the pods serve on; 9898 (podinfo's) unless told. */
  ports?: number[];
}

/**
 * Answers every KWOK pod's IP as that pod: a podinfo-like server (`/`, `/healthz`, `/status/{code}`,
 * `/delay/{s}`, `/token`) run inside the pod network, behaving as each pod's first container's
 * environment says: `VERSION` (default: the image tag), `ERROR_RATE` (share of 500s, 0 to 1) and
 * `LATENCY_MS`. This side watches Pods and hands the server the address-to-pod map.
 */
export async function startBackend(options: BackendOptions): Promise<Backend> {
  const group = await ProcessGroup.create('fledge-backend');
  const podsFile = join(group.workdir, 'pods.json');
  const metricsTarget = `${options.network.address}:9797`;
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(options.kubeconfigPath);
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const informer = makeInformer(kubeConfig, '/api/v1/pods', () => core.listPodForAllNamespaces());
  let stopped = false;
  let writing = Promise.resolve();
  const publish = () => {
    const map = Object.fromEntries(
      informer
        .list()
        .filter((pod) => pod.status?.podIP && pod.status.phase === 'Running')
        .map((pod) => [pod.status!.podIP!, behaviour(pod)]),
    );
    // Renamed into place, so the server never reads half a file.
    writing = writing
      .then(async () => {
        await writeFile(`${podsFile}.tmp`, JSON.stringify(map));
        await rename(`${podsFile}.tmp`, podsFile);
      })
      .catch(() => undefined);
  };
  for (const verb of ['add', 'update', 'delete'] as const) informer.on(verb, publish);
  informer.on('error', () => {
    if (!stopped) setTimeout(() => void informer.start().catch(() => undefined), 1_000);
  });
  const stop = async () => {
    stopped = true;
    await informer.stop();
    await writing;
    await group.stop();
  };
  try {
    await informer.start();
    publish();
    await writing;
    await group.start('backend', 'ip', [
      'netns',
      'exec',
      options.network.netns,
      process.execPath,
      join(repoRoot, 'test/harness/backend-server.ts'),
      `--pods-file=${podsFile}`,
      `--ports=${(options.ports ?? [9898]).join(',')}`,
      `--metrics-address=${metricsTarget}`,
    ]);
    await waitFor('the backend to serve its counters', async () => {
      group.assertRunning('backend');
      return (await fetch(`http://${metricsTarget}/counts`)).ok;
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    metricsTarget,
    counts: async () => (await (await fetch(`http://${metricsTarget}/counts`)).json()) as PodCount[],
    stop,
  };
}

function behaviour(pod: V1Pod): PodBehaviour {
  const container = pod.spec?.containers[0];
  const env = Object.fromEntries((container?.env ?? []).map((e) => [e.name, e.value ?? '']));
  const tag = container?.image?.split(':').at(-1) ?? '';
  return {
    namespace: pod.metadata?.namespace ?? '',
    name: pod.metadata?.name ?? '',
    app: pod.metadata?.labels?.app ?? '',
    version: env.VERSION || tag,
    errorRate: Number(env.ERROR_RATE ?? 0) || 0,
    latencyMs: Number(env.LATENCY_MS ?? 0) || 0,
  };
}
