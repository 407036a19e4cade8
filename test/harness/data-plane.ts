import { startBackend, type Backend } from './backend.ts';
import { startPodNetwork, type PodNetwork, type PodNetworkWait } from './pod-network.ts';
import { startProxy, type Proxy, type ProxyOptions } from './proxy.ts';

export interface DataPlane {
  network: PodNetwork;
  backend: Backend;
  proxy: Proxy;
  /** Prometheus scrape jobs for Traefik and the backend's per-pod counters. */
  scrapeConfigs: object[];
  stop(): Promise<void>;
}

/** How long a data plane waits for the pod network another test file or demo holds. */
export const POD_NETWORK_WAIT_MS = 600_000;

/**
 * Pods that answer and Traefik in front of them: everything a request needs, started in order.
 * Waits up to POD_NETWORK_WAIT_MS for the pod network (one per machine) by default.
 */
export async function startDataPlane(options: ProxyOptions & PodNetworkWait): Promise<DataPlane> {
  const started: { stop(): Promise<void> }[] = [];
  const stop = async () => {
    for (const part of started.reverse()) await part.stop();
  };
  try {
    const network = await startPodNetwork({ waitMs: POD_NETWORK_WAIT_MS, ...options });
    started.push(network);
    const backend = await startBackend({ network, kubeconfigPath: options.kubeconfigPath });
    started.push(backend);
    const proxy = await startProxy(options);
    started.push(proxy);
    const scrapeConfigs = [
      { job_name: 'traefik', static_configs: [{ targets: [proxy.metricsTarget] }] },
      { job_name: 'backend', static_configs: [{ targets: [backend.metricsTarget] }] },
    ];
    return { network, backend, proxy, scrapeConfigs, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
