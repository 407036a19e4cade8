// `make bench-flagger`: Flagger, built from the Go module proxy, as the second contender of the
// control-plane benchmark, so both operators are measured by the same code on the same sandbox.
import { join } from 'node:path';
import { builtTools, kubectl } from '../test/harness/control-plane.ts';
import { ProcessGroup, freePort, waitFor } from '../test/harness/processes.ts';
import type { Contender, RunResult } from './control-plane.ts';

/** Flagger with its default flags, except what running outside a cluster needs. */
export const flaggerContender: Contender = {
  name: 'flagger',
  group: 'flagger.app',
  serviceAccount: 'flagger',
  heapMetric: 'go_memstats_heap_alloc_bytes',
  async prepare(kubeconfigPath) {
    const { FLAGGER_CRDS } = await builtTools('flagger', ['FLAGGER_CRDS'] as const);
    // Server-side: the Canary CRD is too large for client-side apply's annotation.
    await kubectl(kubeconfigPath, ['apply', '--server-side', '-f', join(FLAGGER_CRDS, 'flagger.yaml')]);
  },
  async start({ kubeconfigPath, namespace, name }) {
    const { FLAGGER_BIN } = await builtTools('flagger', ['FLAGGER_BIN'] as const);
    const group = await ProcessGroup.create('fledge-flagger');
    const port = await freePort();
    const child = await group.start(name, join(FLAGGER_BIN, 'flagger'), [
      `-kubeconfig=${kubeconfigPath}`,
      `-namespace=${namespace}`,
      // The benchmark's Canaries name their provider; blue/green ones use the kubernetes router.
      '-mesh-provider=kubernetes',
      // No analysis queries in either scenario: an unreachable address only logs a warning.
      '-metrics-server=http://127.0.0.1:9',
      `-port=${port}`,
      '-log-level=info',
    ]);
    const url = `http://127.0.0.1:${port}`;
    try {
      await waitFor(`${name} to serve /metrics`, async () => {
        group.assertRunning(name);
        return (await fetch(`${url}/metrics`)).ok;
      });
    } catch (err) {
      await group.stop({ keepWorkdir: true });
      throw err;
    }
    return { pid: child.pid as number, url, stop: () => group.stop() };
  },
};

/** Fledge's numbers over Flagger's, per size and scenario: above 1 Fledge pays more. */
export function printRatios(results: readonly RunResult[]): void {
  const lines = ['', 'Fledge / Flagger'];
  const measures: [string, (r: RunResult) => number | undefined][] = [
    ['CPU s per 1000 steps', (r) => r.cpuSecondsPer1000Steps],
    ['peak RSS', (r) => r.peakRssMiB],
    ['writes per step', (r) => r.writesPerStep],
    ['reads per step', (r) => r.readsPerStep],
    ['apiserver connections, max', (r) => r.connectionsMax],
    ['reaction p50', (r) => r.reaction.p50],
    ['time to Succeeded p50', (r) => r.timeToSucceeded.p50],
  ];
  for (const fledge of results.filter((r) => r.contender === 'fledge')) {
    const flagger = results.find(
      (r) => r.contender === 'flagger' && r.scenario === fledge.scenario && r.n === fledge.n,
    );
    if (flagger === undefined) continue;
    lines.push(`  ${fledge.scenario}, N = ${fledge.n}`);
    for (const [name, of] of measures) {
      const [a, b] = [of(fledge), of(flagger)];
      const ratio = a === undefined || b === undefined || !b ? '-' : `${(a / b).toFixed(2)}x`;
      lines.push(
        `    ${name.padEnd(28)} ${String(a ?? '-').padStart(8)} / ${String(b ?? '-').padStart(8)}  ${ratio}`,
      );
    }
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}
