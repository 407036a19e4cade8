import { beforeAll, describe, expect, it } from '@jest/globals';
import type { Canary } from '../../../src/api/index.ts';
import {
  SCALE_TO_ZERO_NODE_SELECTOR,
  type Workload,
  type WorkloadObservation,
} from '../../../src/workloads/index.ts';
import type { DaemonSetObject } from '../../../src/workloads/objects.ts';
import { blueGreenSpec, eventually, workloadTestEnv, type WorkloadTestEnv } from './setup.ts';

// A DaemonSet on the fake nodes: primary, scale to zero through the
// nodeSelector (ignored by the revision), promotion, and back up.

type ExistingTarget = Extract<WorkloadObservation['target'], { exists: true }>;

describe('DaemonSet target', () => {
  let env: WorkloadTestEnv;
  let canary: Canary;
  let agent: Workload;

  const observeTarget = async (): Promise<ExistingTarget> => {
    const { target } = await agent.observe(canary);
    if (!target.exists) throw new Error('target missing');
    return target;
  };
  const getDaemonSet = (name: string) => env.get<DaemonSetObject>('apps/v1', 'DaemonSet', name);

  beforeAll(async () => {
    env = await workloadTestEnv('wl-ds');
    await env.apply({
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: 'agent' },
      spec: {
        selector: { matchLabels: { name: 'agent' } },
        template: {
          metadata: { labels: { name: 'agent' } },
          spec: {
            nodeSelector: { 'kubernetes.io/os': 'linux' },
            containers: [{ name: 'agent', image: 'example.com/agent:1' }],
          },
        },
      },
    });
    canary = await env.createCanary('agent', blueGreenSpec('DaemonSet', 'agent'));
    agent = env.workload(canary);
    await eventually('the target DaemonSet to be ready', async () => (await observeTarget()).ready.ready);
  }, 90_000);

  it('creates a primary DaemonSet that becomes ready on every node', async () => {
    expect(await agent.initialise(canary)).toEqual({ primaryCreated: true });
    const primary = await getDaemonSet('agent-primary');
    expect(primary.spec.selector).toEqual({ matchLabels: { name: 'agent-primary' } });
    expect(primary.spec.template.metadata?.labels).toEqual({ name: 'agent-primary' });
    expect(primary.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'Canary', uid: canary.metadata.uid });
    await eventually('the primary DaemonSet to run on both nodes', async () => {
      const { primary: observed } = await agent.observe(canary);
      const status = (await getDaemonSet('agent-primary')).status;
      return observed.exists && observed.ready.ready && status?.numberAvailable === 2;
    });
  }, 90_000);

  it('scales to zero with a nodeSelector the revision ignores', async () => {
    const before = (await observeTarget()).revision;
    await agent.scaleCanary(canary, 'zero');
    await agent.scaleCanary(canary, 'zero');
    const target = await getDaemonSet('agent');
    expect(target.spec.template.spec?.nodeSelector).toEqual({
      'kubernetes.io/os': 'linux',
      [SCALE_TO_ZERO_NODE_SELECTOR]: 'true',
    });
    expect(await observeTarget()).toMatchObject({ revision: before, scaledToZero: true });
    await eventually('no target pods scheduled', async () => {
      const status = (await getDaemonSet('agent')).status;
      return status?.desiredNumberScheduled === 0;
    });
    // Rolled out at zero pods serves nothing: never ready, so a run scales it up first.
    expect((await observeTarget()).ready).toMatchObject({
      ready: false,
      message: expect.stringMatching(/scaled to zero/),
    });
  }, 90_000);

  it('promotes a new template to the primary while the target stays at zero', async () => {
    await env.kubectl(['set', 'image', 'daemonset/agent', 'agent=example.com/agent:2']);
    const current = await observeTarget();
    await agent.promote(canary, { revision: current.revision, configs: current.configs });
    const primary = await getDaemonSet('agent-primary');
    expect(primary.spec.template.spec?.containers[0]?.image).toBe('example.com/agent:2');
    expect(primary.spec.template.spec?.nodeSelector).toEqual({ 'kubernetes.io/os': 'linux' });
    await eventually('the promoted primary to be ready', async () => {
      const { primary: observed } = await agent.observe(canary);
      const status = (await getDaemonSet('agent-primary')).status;
      return observed.exists && observed.ready.ready && status?.updatedNumberScheduled === 2;
    });
  }, 90_000);

  it('scales back up by removing only its own nodeSelector key', async () => {
    await agent.scaleCanary(canary, 'up');
    const target = await getDaemonSet('agent');
    expect(target.spec.template.spec?.nodeSelector).toEqual({ 'kubernetes.io/os': 'linux' });
    expect((await observeTarget()).scaledToZero).toBe(false);
    await eventually('the target to run on both nodes again', async () => {
      const status = (await getDaemonSet('agent')).status;
      return status?.numberAvailable === 2 && (await observeTarget()).ready.ready;
    });
  }, 90_000);

  it('reverts by removing the scale-to-zero key and reports readiness', async () => {
    await agent.scaleCanary(canary, 'zero');
    expect((await observeTarget()).scaledToZero).toBe(true);
    await agent.revert(canary);
    expect((await getDaemonSet('agent')).spec.template.spec?.nodeSelector).toEqual({
      'kubernetes.io/os': 'linux',
    });
    await eventually('the reverted target to be ready on both nodes', async () => {
      const readiness = await agent.revert(canary);
      return readiness.ready && (await getDaemonSet('agent')).status?.numberAvailable === 2;
    });
  }, 90_000);
});
