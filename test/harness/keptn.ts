import { fileURLToPath } from 'node:url';
import { kubectl, waitEstablished } from './control-plane.ts';
import { waitFor } from './processes.ts';

// Keptn's metrics kinds on the real apiserver, and what Keptn's metrics
// operator would write into them: a KeptnMetric's fetched value, and the
// verdict of an Analysis (there is no Keptn in the sandbox).

const crds = fileURLToPath(new URL('../fixtures/keptn/crds.yaml', import.meta.url));

/** Applies the kinds server-side (idempotent, safe from parallel files) and waits until they are served. */
export async function installKeptnCrds(kubeconfigPath: string): Promise<void> {
  await kubectl(kubeconfigPath, ['apply', '--server-side', '--force-conflicts', '-f', crds]);
  await waitEstablished(kubeconfigPath, ['-f', crds]);
  await waitFor('Keptn kinds to be served', async () => {
    await kubectl(kubeconfigPath, ['get', 'keptnmetrics.metrics.keptn.sh,analyses.metrics.keptn.sh', '-A']);
    return true;
  });
}

/** A KeptnMetric whose status holds `value`, as Keptn writes it after a fetch. */
export async function setKeptnMetric(
  kubeconfigPath: string,
  namespace: string,
  name: string,
  value: number,
): Promise<void> {
  const metric = {
    apiVersion: 'metrics.keptn.sh/v1beta1',
    kind: 'KeptnMetric',
    metadata: { name, namespace },
    spec: {
      provider: { name: 'prometheus' },
      query: `sum(success_rate{app="${name}"})`,
      fetchIntervalSeconds: 10,
    },
  };
  await kubectl(kubeconfigPath, ['apply', '-f', '-'], JSON.stringify(metric));
  const status = {
    status: { value: String(value), lastUpdated: new Date().toISOString().replace(/\.\d+Z$/, 'Z') },
  };
  await patchStatus(kubeconfigPath, 'keptnmetrics.metrics.keptn.sh', namespace, name, status);
}

interface Analysis {
  metadata: { name: string };
  spec: {
    analysisDefinition: { name: string };
    args?: Record<string, string>;
    timeframe?: { from?: string; to?: string; recent?: string };
  };
  status?: { state?: string };
}

/**
 * Completes every Analysis in `namespace` as Keptn would, passing it when
 * `passes` says so, until stopped.
 */
export function startFakeKeptnAnalyses(
  kubeconfigPath: string,
  namespace: string,
  passes: (analysis: Analysis) => boolean,
): { stop(): void } {
  let stopped = false;
  const loop = async () => {
    while (!stopped) {
      try {
        const { items } = JSON.parse(
          await kubectl(kubeconfigPath, ['get', 'analyses.metrics.keptn.sh', '-n', namespace, '-o', 'json']),
        ) as { items: Analysis[] };
        for (const analysis of items.filter((a) => a.status?.state !== 'Completed')) {
          // Keptn's schema requires the timeframe it evaluated in status; a recent one ends now.
          const seconds = (at: Date) => at.toISOString().replace(/\.\d+Z$/, 'Z');
          const { from, to } = analysis.spec.timeframe ?? {};
          const timeframe = {
            from: from ?? seconds(new Date(Date.now() - 60_000)),
            to: to ?? seconds(new Date()),
          };
          const status = {
            status: { state: 'Completed', pass: passes(analysis), warning: false, raw: '{}', timeframe },
          };
          await patchStatus(
            kubeconfigPath,
            'analyses.metrics.keptn.sh',
            namespace,
            analysis.metadata.name,
            status,
          ).catch(() => undefined);
        }
      } catch {
        // The namespace may be going away at the end of the file; the next round retries.
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  };
  void loop();
  return {
    stop: () => {
      stopped = true;
    },
  };
}

/** Writes an object's status, as its controller would. */
function patchStatus(
  kubeconfigPath: string,
  resource: string,
  namespace: string,
  name: string,
  status: object,
): Promise<string> {
  return kubectl(kubeconfigPath, [
    'patch',
    resource,
    name,
    '-n',
    namespace,
    '--subresource=status',
    '--type=merge',
    '-p',
    JSON.stringify(status),
  ]);
}
