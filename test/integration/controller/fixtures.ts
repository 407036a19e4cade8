import { kubectl } from '../../harness/control-plane.ts';
import { startOperatorProcess, type OperatorProcess } from '../../harness/operator.ts';

/** A Deployment named `name` with one container; `image` is what a new revision changes. */
export function deployment(namespace: string, name: string, image: string, replicas = 2): object {
  const labels = { app: name };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: { containers: [{ name: 'app', image, ports: [{ name: 'http', containerPort: 9898 }] }] },
      },
    },
  };
}

export function canary(namespace: string, name: string, spec: Record<string, unknown>): object {
  return {
    apiVersion: 'fledge.dev/v1beta1',
    kind: 'Canary',
    metadata: { name, namespace },
    spec: {
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name },
      service: { port: 9898 },
      ...spec,
    },
  };
}

export async function apply(kubeconfigPath: string, ...objects: object[]): Promise<void> {
  await kubectl(
    kubeconfigPath,
    ['apply', '-f', '-'],
    JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }),
  );
}

export async function setImage(
  kubeconfigPath: string,
  namespace: string,
  name: string,
  image: string,
): Promise<void> {
  await kubectl(kubeconfigPath, ['-n', namespace, 'set', 'image', `deployment/${name}`, `app=${image}`]);
}

/** One replica of a leader-elected operator on the Lease `lease` of `namespace`. */
export function startReplica(
  kubeconfigPath: string,
  namespace: string,
  lease: string,
  name: string,
  args: string[] = [],
): Promise<OperatorProcess> {
  return startOperatorProcess({
    kubeconfigPath,
    namespace,
    name,
    env: { POD_NAME: name },
    args: [
      '--leader-elect',
      `--leader-election-namespace=${namespace}`,
      `--leader-election-id=${lease}`,
      ...args,
    ],
  });
}
