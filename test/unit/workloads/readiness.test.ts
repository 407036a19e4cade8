import { describe, expect, it } from '@jest/globals';
import {
  daemonSetReadiness,
  deploymentReadiness,
  requiredAvailable,
} from '../../../src/workloads/readiness.ts';
import type { DeploymentObject, WorkloadCondition } from '../../../src/workloads/objects.ts';
import { daemonSet, deployment } from './fixtures.ts';

const now = Date.parse('2026-11-23T12:00:00Z');
const settings = { thresholdPercent: 100, progressDeadlineSeconds: 600, now };

function withStatus(status: NonNullable<DeploymentObject['status']>, replicas = 3): DeploymentObject {
  const d = deployment({ replicas });
  d.status = { observedGeneration: 4, ...status };
  return d;
}

describe('requiredAvailable', () => {
  it('rounds up, so the threshold is a floor', () => {
    expect(requiredAvailable(3, 50)).toBe(2);
    expect(requiredAvailable(4, 50)).toBe(2);
    expect(requiredAvailable(3, 100)).toBe(3);
    expect(requiredAvailable(3, 0)).toBe(0);
    expect(requiredAvailable(0, 100)).toBe(0);
  });
});

describe('deploymentReadiness', () => {
  it('is ready when every desired replica is updated and available', () => {
    expect(deploymentReadiness(deployment(), settings)).toEqual({
      ready: true,
      retriable: true,
      message: 'Deployment web: 3 of 3 updated replicas available',
    });
  });

  it('waits for the controller to observe the current generation', () => {
    const d = deployment();
    d.metadata.generation = 5;
    expect(deploymentReadiness(d, settings)).toMatchObject({ ready: false, retriable: true });
    expect(deploymentReadiness(d, settings).message).toMatch(/observe generation 5 \(seen 4\)/);
  });

  it('waits for updated replicas, then for old ones to go', () => {
    expect(
      deploymentReadiness(withStatus({ replicas: 4, updatedReplicas: 2, availableReplicas: 3 }), settings)
        .message,
    ).toMatch(/2 of 3 replicas run the current template/);
    expect(
      deploymentReadiness(withStatus({ replicas: 4, updatedReplicas: 3, availableReplicas: 3 }), settings)
        .message,
    ).toMatch(/1 old replicas are still terminating/);
  });

  it('applies the threshold to the updated replicas', () => {
    const twoOfThree = withStatus({ replicas: 3, updatedReplicas: 3, availableReplicas: 2 });
    expect(deploymentReadiness(twoOfThree, settings).ready).toBe(false);
    expect(deploymentReadiness(twoOfThree, { ...settings, thresholdPercent: 60 }).ready).toBe(true);
    expect(deploymentReadiness(twoOfThree, { ...settings, thresholdPercent: 70 }).message).toMatch(
      /2 of 3 required replicas available \(70% of 3\)/,
    );
  });

  it('treats ProgressDeadlineExceeded as final', () => {
    const conditions: WorkloadCondition[] = [
      {
        type: 'Progressing',
        status: 'False',
        reason: 'ProgressDeadlineExceeded',
        message: 'ReplicaSet "web-1" has timed out',
      },
    ];
    const stuck = withStatus({ replicas: 3, updatedReplicas: 3, availableReplicas: 1, conditions });
    expect(deploymentReadiness(stuck, settings)).toEqual({
      ready: false,
      retriable: false,
      message: 'Deployment web exceeded its progress deadline: ReplicaSet "web-1" has timed out',
    });
  });

  it('treats minimum availability missing for longer than the Canary deadline as final', () => {
    const since = (seconds: number): WorkloadCondition[] => [
      {
        type: 'Available',
        status: 'False',
        reason: 'MinimumReplicasUnavailable',
        lastUpdateTime: new Date(now - seconds * 1000).toISOString(),
      },
    ];
    const recent = withStatus({
      replicas: 3,
      updatedReplicas: 3,
      availableReplicas: 1,
      conditions: since(60),
    });
    const old = withStatus({ replicas: 3, updatedReplicas: 3, availableReplicas: 1, conditions: since(601) });
    expect(deploymentReadiness(recent, settings)).toMatchObject({ ready: false, retriable: true });
    expect(deploymentReadiness(old, settings)).toMatchObject({ ready: false, retriable: false });
    expect(deploymentReadiness(old, settings).message).toMatch(
      /below minimum availability for more than 600s/,
    );
  });

  it('is ready when scaled to zero', () => {
    expect(deploymentReadiness(withStatus({}, 0), settings).ready).toBe(true);
  });
});

describe('daemonSetReadiness', () => {
  it('is ready when every scheduled pod is updated and available', () => {
    expect(daemonSetReadiness(daemonSet(), { thresholdPercent: 100 })).toEqual({
      ready: true,
      retriable: true,
      message: 'DaemonSet agent: 2 of 2 scheduled pods available',
    });
  });

  it('waits for generation, updates and availability, never final', () => {
    const unobserved = daemonSet();
    unobserved.metadata.generation = 3;
    const updating = daemonSet();
    updating.status = { ...updating.status, updatedNumberScheduled: 1 };
    const unavailable = daemonSet();
    unavailable.status = { ...unavailable.status, numberAvailable: 1 };
    for (const d of [unobserved, updating, unavailable]) {
      expect(daemonSetReadiness(d, { thresholdPercent: 100 })).toMatchObject({
        ready: false,
        retriable: true,
      });
    }
    expect(daemonSetReadiness(updating, { thresholdPercent: 100 }).message).toMatch(
      /1 of 2 scheduled pods run the current template/,
    );
    expect(daemonSetReadiness(unavailable, { thresholdPercent: 50 }).ready).toBe(true);
  });
});
