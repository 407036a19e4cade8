import { startBackend, type Backend } from './backend.ts';
import { startPodNetwork, type PodNetwork } from './pod-network.ts';
import { startProxy, type Proxy, type ProxyOptions } from './proxy.ts';

export interface DataPlane {
  network: PodNetwork;
  backend: Backend;
  proxy: Proxy;
  /** Prometheus scrape jobs for Traefik and the backend's per-pod counters. */
  scrapeConfigs: object[];
  stop(): Promise<void>;
}

/** Pods that answer and Traefik in front of them: everything a request needs, started in order. */
export async function startDataPlane(options: ProxyOptions): Promise<DataPlane> {
  const started: { stop(): Promise<void> }[] = [];
  const stop = async () => {
    for (const part of started.reverse()) await part.stop();
  };
  try {
    const network = await startPodNetwork();
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
