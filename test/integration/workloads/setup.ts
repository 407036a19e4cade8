import type { KubernetesObject } from '@kubernetes/client-node';
import type { Canary, CanarySpec } from '../../../src/api/index.ts';
import { KubeObjectClient, loadKubeConfig } from '../../../src/kube/client.ts';
import { createWorkloadRegistry } from '../../../src/workloads/index.ts';
import type { Workload, WorkloadOptions } from '../../../src/workloads/index.ts';
import { kubectl } from '../../harness/control-plane.ts';
import { createTestNamespace, integrationEnv } from '../../harness/env.ts';
import { waitFor } from '../../harness/processes.ts';

// Shared set-up for the workload integration tests: a namespace, a real client
// and the objects a test needs, created with kubectl like a user would.

export interface WorkloadTestEnv {
  namespace: string;
  client: KubeObjectClient;
  /** kubectl in the test namespace. */
  kubectl(args: string[], stdin?: string): Promise<string>;
  apply(...objects: object[]): Promise<void>;
  get<T extends KubernetesObject>(apiVersion: string, kind: string, name: string): Promise<T>;
  exists(apiVersion: string, kind: string, name: string): Promise<boolean>;
  /** Creates the Canary and returns it as stored (with its uid). */
  createCanary(name: string, spec: CanarySpec): Promise<Canary>;
  workload(canary: Canary, options?: Partial<WorkloadOptions>): Workload;
}

export async function workloadTestEnv(prefix: string): Promise<WorkloadTestEnv> {
  const { kubeconfigPath } = integrationEnv();
  const namespace = await createTestNamespace(prefix);
  const client = new KubeObjectClient(loadKubeConfig({ kubeconfigPath }));
  const run = (args: string[], stdin?: string) => kubectl(kubeconfigPath, ['-n', namespace, ...args], stdin);
  const get = <T extends KubernetesObject>(apiVersion: string, kind: string, name: string) =>
    client.get<T>({ apiVersion, kind, namespace, name });
  return {
    namespace,
    client,
    kubectl: run,
    async apply(...objects) {
      await run(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }));
    },
    get,
    exists: (apiVersion, kind, name) =>
      get(apiVersion, kind, name).then(
        () => true,
        (error: unknown) => {
          if ((error as { code?: number }).code === 404) return false;
          throw error;
        },
      ),
    async createCanary(name, spec) {
      const manifest = {
        apiVersion: 'fledge.dev/v1beta1',
        kind: 'Canary',
        metadata: { name, namespace },
        spec,
      };
      // The stored Canary is JSON: its timestamps are strings, not client-node's Dates.
      return (await client.create<KubernetesObject>(manifest)) as unknown as Canary;
    },
    workload: (canary, options) => createWorkloadRegistry({ client, options }).forCanary(canary),
  };
}

/** Polls `check` until it returns true; a check that throws is retried until the timeout. */
export async function eventually(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 60_000,
): Promise<void> {
  await waitFor(what, check, timeoutMs);
}

export function blueGreenSpec(
  kind: 'Deployment' | 'DaemonSet',
  target: string,
  extra: Partial<CanarySpec> = {},
): CanarySpec {
  return {
    provider: 'kubernetes',
    targetRef: { apiVersion: 'apps/v1', kind, name: target },
    service: { port: 80, targetPort: 8080 },
    analysis: { interval: '10s', iterations: 3, threshold: 1 },
    ...extra,
  };
}

/** A small Deployment whose pods select `app: <name>`. */
export function deploymentManifest(name: string, replicas: number, podSpec: Record<string, unknown> = {}) {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, labels: { app: name, team: 'checkout' } },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          containers: [
            { name: 'app', image: `example.com/${name}:1`, ports: [{ name: 'http', containerPort: 8080 }] },
          ],
          ...podSpec,
        },
      },
    },
  };
}
