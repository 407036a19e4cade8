import { randomBytes } from 'node:crypto';
import { startControlPlane, type ControlPlane } from '../harness/control-plane.ts';
import { installCrds } from '../harness/install.ts';
import { startPrometheus, type Prometheus } from '../harness/prometheus.ts';

declare global {
  var fledgeIntegration: { controlPlane?: ControlPlane; prometheus?: Prometheus } | undefined;
}

/**
 * Starts one control plane and one Prometheus for the whole run, or reuses a
 * running sandbox (`make sandbox-up`) when FLEDGE_KUBECONFIG and
 * FLEDGE_PROMETHEUS_URL are set. Workers inherit the environment set here.
 */
export default async function globalSetup(): Promise<void> {
  const owned: NonNullable<typeof globalThis.fledgeIntegration> = {};
  globalThis.fledgeIntegration = owned;
  if (!process.env.FLEDGE_KUBECONFIG || !process.env.FLEDGE_PROMETHEUS_URL) {
    const log = (message: string) => process.stderr.write(`[integration] ${message}\n`);
    [owned.controlPlane, owned.prometheus] = await Promise.all([
      startControlPlane({ onProgress: log }),
      startPrometheus(),
    ]);
    process.env.FLEDGE_KUBECONFIG = owned.controlPlane.kubeconfigPath;
    process.env.FLEDGE_PROMETHEUS_URL = owned.prometheus.url;
  }
  process.env.FLEDGE_TEST_RUN = `run-${randomBytes(4).toString('hex')}`;
  await installCrds(process.env.FLEDGE_KUBECONFIG);
}
