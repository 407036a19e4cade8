import { PatchStrategy } from '@kubernetes/client-node';
import { KubeObjectClient, loadKubeConfig } from '../../src/kube/client.ts';
import {
  KNATIVE_API_VERSION,
  knativeRouter,
  type KnativeService,
  type TrafficTarget,
  type UpstreamCrds,
} from '../../src/routers/index.ts';
import { kubectl, waitEstablished } from './control-plane.ts';
import { waitFor } from './processes.ts';
import { upstreamCrdFiles } from './third-party.ts';

// Knative Serving's CRDs, from its Go module, and a stand-in for its controller: no
// Knative controller runs on the test control plane, so this plays the part of it
// Fledge reads, and no more. For each Knative Service in one namespace it creates a
// Revision `<service>-0000N` (Ready=True) whenever spec.template changes, keeps
// status.latestCreatedRevisionName / latestReadyRevisionName on the newest, and reports
// spec.traffic as routed in status.traffic (entries resolved to revision names, in
// order) with status.observedGeneration. No pods, no autoscaling, no ingress.

/** Applies Knative Serving's upstream CRDs (server-side, idempotent) and waits until they are served. */
export async function installKnativeCrds(kubeconfigPath: string): Promise<void> {
  const files = await upstreamCrdFiles(knativeRouter.crds as UpstreamCrds);
  const fileArgs = files.flatMap((file) => ['-f', file]);
  await kubectl(kubeconfigPath, ['apply', '--server-side', '--force-conflicts', ...fileArgs]);
  await waitEstablished(kubeconfigPath, fileArgs);
  await waitFor('Knative kinds to be served', async () => {
    await kubectl(kubeconfigPath, [
      'get',
      'services.serving.knative.dev,revisions.serving.knative.dev',
      '--all-namespaces',
    ]);
    return true;
  });
}

/** The annotation on a fake Revision holding the template it was made from. */
const TEMPLATE_ANNOTATION = 'test.fledge.dev/template';

interface Revision {
  apiVersion: string;
  kind: 'Revision';
  metadata: { name: string; namespace: string; annotations?: Record<string, string> };
  status?: Record<string, unknown>;
}

export interface FakeKnativeController {
  stop(): Promise<void>;
}

export function startFakeKnativeController(
  kubeconfigPath: string,
  namespace: string,
  intervalMs = 250,
): FakeKnativeController {
  const client = new KubeObjectClient(loadKubeConfig({ kubeconfigPath }));
  const ref = (kind: string, name?: string) => ({
    apiVersion: KNATIVE_API_VERSION,
    kind,
    namespace,
    ...(name === undefined ? {} : { name }),
  });
  const ready = { conditions: [{ type: 'Ready', status: 'True', reason: 'FakeKnativeController' }] };

  async function reconcile(service: KnativeService, revisions: Revision[]): Promise<void> {
    const name = service.metadata.name ?? '';
    const template = JSON.stringify(service.spec?.template ?? {});
    const own = revisions
      .filter((r) => r.metadata.name.startsWith(`${name}-`))
      .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
    let latest = own.at(-1);
    if (latest?.metadata.annotations?.[TEMPLATE_ANNOTATION] !== template) {
      const revisionName = `${name}-${String(own.length + 1).padStart(5, '0')}`;
      latest = await client.create<Revision>({
        ...ref('Revision', revisionName),
        kind: 'Revision',
        metadata: { name: revisionName, namespace, annotations: { [TEMPLATE_ANNOTATION]: template } },
      } as Revision);
      await client.patch(ref('Revision', revisionName), { status: ready }, PatchStrategy.MergePatch, {
        subresource: 'status',
      });
    }
    const latestName = latest.metadata.name;
    const spec: TrafficTarget[] = service.spec?.traffic ?? [{ latestRevision: true, percent: 100 }];
    const traffic = spec.map((t) => ({
      revisionName: t.revisionName ?? latestName,
      latestRevision: t.latestRevision === true,
      percent: t.percent ?? 0,
    }));
    const status = {
      observedGeneration: service.metadata.generation,
      latestCreatedRevisionName: latestName,
      latestReadyRevisionName: latestName,
      traffic,
      ...ready,
    };
    const current = service.status ?? {};
    if (
      current.observedGeneration === status.observedGeneration &&
      current.latestCreatedRevisionName === latestName &&
      JSON.stringify(current.traffic) === JSON.stringify(traffic)
    )
      return;
    await client.patch(ref('Service', name), { status }, PatchStrategy.MergePatch, { subresource: 'status' });
  }

  let stopped = false;
  let lastError: string | undefined;
  const loop = (async () => {
    while (!stopped) {
      try {
        const [services, revisions] = await Promise.all([
          client.list<KnativeService>(ref('Service')),
          client.list<Revision>(ref('Revision')),
        ]);
        for (const service of services.items) await reconcile(service, revisions.items);
      } catch (err) {
        // A conflict or a Service deleted mid-round: the next round sees the new state.
        const message = (err as Error).message;
        if (message !== lastError) console.warn(`fake Knative controller: ${message}`);
        lastError = message;
      }
      await new Promise((done) => setTimeout(done, intervalMs));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
    },
  };
}
