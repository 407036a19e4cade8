import { startControlPlane, type ControlPlane } from './control-plane.ts';
import { installCrds } from './install.ts';
import { startPrometheus, type Prometheus } from './prometheus.ts';

export interface Sandbox {
  controlPlane: ControlPlane;
  prometheus: Prometheus;
  /** KEY=value lines a shell can source to use the sandbox. */
  env: string[];
  stop(): Promise<void>;
}

/** A control plane and a Prometheus side by side, with Fledge's CRDs installed. */
export async function startSandbox(progress: (message: string) => void): Promise<Sandbox> {
  const [controlPlane, prometheus] = await Promise.all([
    startControlPlane({ onProgress: progress }),
    startPrometheus(),
  ]);
  const stop = async () => {
    await Promise.all([controlPlane.stop(), prometheus.stop()]);
  };
  try {
    await installCrds(controlPlane.kubeconfigPath);
  } catch (err) {
    await stop();
    throw err;
  }
  const env = [
    `KUBECONFIG=${controlPlane.kubeconfigPath}`,
    `FLEDGE_KUBECONFIG=${controlPlane.kubeconfigPath}`,
    `FLEDGE_PROMETHEUS_URL=${prometheus.url}`,
    `FLEDGE_KUBE_VERSION=${controlPlane.binaries.kubeVersion}`,
    `FLEDGE_ETCD_VERSION=${controlPlane.binaries.etcdVersion}`,
  ];
  return { controlPlane, prometheus, env, stop };
}
