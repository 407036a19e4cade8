import { kubectl } from '../harness/control-plane.ts';
import { testRunLabel } from '../harness/env.ts';

export default async function globalTeardown(): Promise<void> {
  const owned = globalThis.fledgeIntegration;
  if (owned?.controlPlane || owned?.prometheus) {
    await Promise.all([owned.controlPlane?.stop(), owned.prometheus?.stop()]);
    return;
  }
  // A shared sandbox outlives the run: remove only what this run created.
  const kubeconfig = process.env.FLEDGE_KUBECONFIG;
  const runId = process.env.FLEDGE_TEST_RUN;
  if (kubeconfig && runId) {
    await kubectl(kubeconfig, ['delete', 'namespace', '-l', `${testRunLabel}=${runId}`, '--wait=false']);
  }
}
