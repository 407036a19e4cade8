import { describe, expect, it } from '@jest/globals';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Canary } from '../../../src/api/index.ts';
import type { KubeObjectClient, ObjectRef } from '../../../src/kube/client.ts';
import { KubeRequestError } from '../../../src/kube/errors.ts';
import type { DeploymentObject } from '../../../src/workloads/objects.ts';
import { createWorkloadRegistry } from '../../../src/workloads/registry.ts';

// Observation of a target that is rolled out at zero replicas: the Deployment
// controller calls that complete, but nothing serves. Only `get` is used.
function clientWith(objects: KubernetesObject[]): KubeObjectClient {
  const get = async (ref: ObjectRef) => {
    const found = objects.find((o) => o.kind === ref.kind && o.metadata?.name === ref.name);
    if (!found)
      throw new KubeRequestError({ code: 404, reason: 'NotFound', message: `${ref.name} not found` });
    return structuredClone(found);
  };
  return { get } as unknown as KubeObjectClient;
}

const canary: Canary = {
  apiVersion: 'fledge.dev/v1beta1',
  kind: 'Canary',
  metadata: { name: 'web', namespace: 'shop', uid: '0b7c7c1e-2f43-4a52-9d0e-5c1a7b0e9f11' },
  spec: {
    targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
    service: { port: 9898 },
    analysis: { interval: '10s', threshold: 1, iterations: 1 },
  },
} as Canary;

/** A Deployment the controller has fully rolled out at `replicas`. */
function rolledOut(replicas: number): DeploymentObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'shop', generation: 3 },
    spec: {
      replicas,
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: { containers: [{ name: 'app', image: 'example/web:2' }] },
      },
    },
    status: {
      observedGeneration: 3,
      replicas,
      updatedReplicas: replicas,
      readyReplicas: replicas,
      availableReplicas: replicas,
    },
  } as DeploymentObject;
}

const observe = (target: DeploymentObject) =>
  createWorkloadRegistry({ client: clientWith([target]) })
    .forKind('Deployment')
    .observe(canary);

describe('target observation', () => {
  it('never calls a target scaled to zero ready, though its rollout is complete', async () => {
    const { target } = await observe(rolledOut(0));
    expect(target).toMatchObject({
      exists: true,
      scaledToZero: true,
      ready: { ready: false, retriable: true, message: 'Deployment shop/web is scaled to zero' },
    });
  });

  it('calls the same target ready once it runs replicas', async () => {
    const { target } = await observe(rolledOut(2));
    expect(target).toMatchObject({ exists: true, scaledToZero: false, ready: { ready: true } });
  });
});
