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
    const selector = `${testRunLabel}=${runId}`;
    // Every Canary carries Fledge's finalizer and no operator runs any more: drop it, or the
    // namespaces would stay Terminating on the sandbox for good.
    const namespaces = await kubectl(kubeconfig, [
      'get',
      'namespace',
      '-l',
      selector,
      '-o',
      'jsonpath={.items[*].metadata.name}',
    ]);
    for (const namespace of namespaces.split(' ').filter(Boolean)) {
      const canaries = await kubectl(kubeconfig, [
        'get',
        'canaries.fledge.dev',
        '-n',
        namespace,
        '-o',
        'name',
      ]);
      for (const canary of canaries.split('\n').filter(Boolean)) {
        await kubectl(kubeconfig, [
          'patch',
          canary,
          '-n',
          namespace,
          '--type=merge',
          '-p',
          '{"metadata":{"finalizers":null}}',
        ]);
      }
    }
    await kubectl(kubeconfig, ['delete', 'namespace', '-l', selector, '--wait=false']);
  }
}
