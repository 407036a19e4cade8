import { beforeAll, describe, expect, it } from '@jest/globals';
import type { Canary } from '../../../src/api/index.ts';
import type { Workload } from '../../../src/workloads/index.ts';
import type { DeploymentObject, HorizontalPodAutoscalerObject } from '../../../src/workloads/objects.ts';
import {
  blueGreenSpec,
  deploymentManifest,
  eventually,
  workloadTestEnv,
  type WorkloadTestEnv,
} from './setup.ts';

// The primary's HPA copy on a real apiserver with the real HPA controller,
// which enforces minReplicas even without a metrics server.

function hpaManifest(averageUtilization: number) {
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name: 'api' },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'api' },
      minReplicas: 1,
      maxReplicas: 3,
      metrics: [
        { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization } } },
      ],
    },
  };
}

describe('HorizontalPodAutoscaler copy', () => {
  let env: WorkloadTestEnv;
  let canary: Canary;
  let api: Workload;
  const getHpa = (name: string) =>
    env.get<HorizontalPodAutoscalerObject>('autoscaling/v2', 'HorizontalPodAutoscaler', name);
  const getDeployment = (name: string) => env.get<DeploymentObject>('apps/v1', 'Deployment', name);

  beforeAll(async () => {
    env = await workloadTestEnv('wl-hpa');
    await env.apply(deploymentManifest('api', 1), hpaManifest(70));
    canary = await env.createCanary(
      'api',
      blueGreenSpec('Deployment', 'api', {
        autoscalerRef: {
          apiVersion: 'autoscaling/v2',
          kind: 'HorizontalPodAutoscaler',
          name: 'api',
          primaryScalerReplicas: { minReplicas: 2, maxReplicas: 5 },
        },
      }),
    );
    api = env.workload(canary);
  }, 60_000);

  it('creates api-primary scaling the primary Deployment with the primary bounds', async () => {
    await api.initialise(canary);
    const copy = await getHpa('api-primary');
    expect(copy.metadata.ownerReferences?.[0]).toMatchObject({
      kind: 'Canary',
      uid: canary.metadata.uid,
      controller: true,
    });
    expect(copy.spec).toMatchObject({
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'api-primary' },
      minReplicas: 2,
      maxReplicas: 5,
      metrics: hpaManifest(70).spec.metrics,
    });
    // The user's HPA is left as it was.
    expect((await getHpa('api')).spec.scaleTargetRef.name).toBe('api');
    await eventually(
      'the HPA controller to raise the primary to its minimum',
      async () => (await getDeployment('api-primary')).spec.replicas === 2,
      90_000,
    );
  }, 120_000);

  const promoteCurrent = async () => {
    const { target } = await api.observe(canary);
    if (!target.exists) throw new Error('target missing');
    await api.promote(canary, { revision: target.revision, configs: target.configs });
  };

  it('leaves the primary replicas to the HPA at promotion', async () => {
    // The HPA copy stays the same here, so the HPA controller has no reason to
    // re-sync right away and would not hide a wrong replica count.
    await env.kubectl(['set', 'image', 'deployment/api', 'app=example.com/api:2']);
    await promoteCurrent();
    const primary = await getDeployment('api-primary');
    expect(primary.spec.template.spec?.containers[0]?.image).toBe('example.com/api:2');
    // The target runs 1 replica; sending that would have taken the primary below its HPA minimum.
    expect(primary.spec.replicas).toBe(2);
  }, 60_000);

  it('updates the HPA copy at promotion', async () => {
    await env.apply(hpaManifest(50));
    await promoteCurrent();
    const copy = await getHpa('api-primary');
    expect(copy.spec.metrics?.[0]?.resource?.target.averageUtilization).toBe(50);
    expect(copy.spec).toMatchObject({ minReplicas: 2, maxReplicas: 5 });
  }, 60_000);

  it('scales the target up to the primary size from zero', async () => {
    await api.scaleCanary(canary, 'zero');
    expect((await getDeployment('api')).spec.replicas).toBe(0);
    await api.scaleCanary(canary, 'up');
    expect((await getDeployment('api')).spec.replicas).toBe(2);
  });
});
