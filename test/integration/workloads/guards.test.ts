import { beforeAll, describe, expect, it } from '@jest/globals';
import type { DeploymentObject } from '../../../src/workloads/objects.ts';
import { blueGreenSpec, deploymentManifest, workloadTestEnv, type WorkloadTestEnv } from './setup.ts';

// What Fledge refuses to do: take over another controller's primary, or build
// a primary on ConfigMaps that do not exist.

/** What a previous owner would have left behind: a primary-shaped Deployment. */
function leftoverPrimary(name: string, ownerReferences?: object[]) {
  const manifest = deploymentManifest(`${name}-primary`, 1);
  return {
    ...manifest,
    metadata: { name: `${name}-primary`, ...(ownerReferences && { ownerReferences }) },
  };
}

describe('an existing primary', () => {
  let env: WorkloadTestEnv;

  beforeAll(async () => {
    env = await workloadTestEnv('wl-own');
  }, 60_000);

  // The engine asks for initialise only while Initializing, before any analysis: a
  // left-over primary is then made a copy of the target, like a new one.
  it('is adopted when unowned and rendered from the target', async () => {
    await env.apply(deploymentManifest('solo', 1), leftoverPrimary('solo'));
    const canary = await env.createCanary('solo', blueGreenSpec('Deployment', 'solo'));
    expect(await env.workload(canary).initialise(canary)).toEqual({ primaryCreated: false });
    const primary = await env.get<DeploymentObject>('apps/v1', 'Deployment', 'solo-primary');
    expect(primary.metadata.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'Canary', name: 'solo', uid: canary.metadata.uid, controller: true }),
    ]);
    expect(primary.spec.template.spec?.containers[0]?.image).toBe('example.com/solo:1');
    expect(primary.spec.selector).toEqual({ matchLabels: { app: 'solo-primary' } });
  });

  it('is refused when another controller owns it', async () => {
    await env.apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'other-owner' } });
    const owner = await env.get('v1', 'ConfigMap', 'other-owner');
    await env.apply(
      deploymentManifest('taken', 1),
      leftoverPrimary('taken', [
        {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          name: 'other-owner',
          uid: owner.metadata?.uid,
          controller: true,
        },
      ]),
    );
    const canary = await env.createCanary('taken', blueGreenSpec('Deployment', 'taken'));
    const workload = env.workload(canary);
    await expect(workload.initialise(canary)).rejects.toThrow(
      /taken-primary is controlled by ConfigMap other-owner \(v1\), not by Canary taken/,
    );
    const { target } = await workload.observe(canary);
    if (!target.exists) throw new Error('target missing');
    await expect(
      workload.promote(canary, { revision: target.revision, configs: target.configs }),
    ).rejects.toThrow(/Fledge will not take it over/);
  });
});

describe('a target using a ConfigMap that does not exist', () => {
  it('is reported not ready and gets no primary; an optional one is skipped', async () => {
    const env = await workloadTestEnv('wl-missing');
    await env.apply(
      deploymentManifest('lost', 1, {
        containers: [{ name: 'app', image: 'example.com/lost:1' }],
        volumes: [
          { name: 'cfg', configMap: { name: 'lost-config' } },
          { name: 'extra', configMap: { name: 'lost-extra', optional: true } },
        ],
      }),
    );
    const canary = await env.createCanary('lost', blueGreenSpec('Deployment', 'lost'));
    const workload = env.workload(canary);
    const { target } = await workload.observe(canary);
    expect(target).toMatchObject({ exists: true, configs: {}, ready: { ready: false, retriable: true } });
    if (!target.exists) throw new Error('target missing');
    expect(target.ready.message).toMatch(
      /uses configs that do not exist: ConfigMap "lost-config" \(used by volume "cfg"\): its pods cannot start$/,
    );
    await expect(workload.initialise(canary)).rejects.toThrow(/create them or mark the references optional/);
    expect(await env.exists('apps/v1', 'Deployment', 'lost-primary')).toBe(false);
  }, 60_000);
});
