import { describe, expect, it } from '@jest/globals';
import { CONFIG_DIGEST_ANNOTATION, SCALE_TO_ZERO_NODE_SELECTOR } from '../../../src/workloads/options.ts';
import {
  assertSameSelector,
  configDigest,
  fieldOwners,
  primaryReplicas,
  renderPrimaryDaemonSet,
  renderPrimaryDeployment,
} from '../../../src/workloads/primary.ts';
import { daemonSet, deployment, owner, renderInput } from './fixtures.ts';

describe('renderPrimaryDeployment', () => {
  const primary = renderPrimaryDeployment(deployment(), renderInput(), 3);

  it('is named <name>-primary, owned by the Canary, with the selector label rewritten', () => {
    expect(primary.metadata).toEqual({
      name: 'web-primary',
      namespace: 'shop',
      labels: { app: 'web-primary' },
      // Only the stamp: the target's own annotations are filtered out by default.
      annotations: { 'fledge.dev/primary-stamp': 'stamp-0' },
      ownerReferences: [
        {
          apiVersion: 'fledge.dev/v1beta1',
          kind: 'Canary',
          name: 'web',
          uid: owner.uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    });
    expect(primary.spec.selector).toEqual({ matchLabels: { app: 'web-primary' } });
    expect(primary.spec.template.metadata?.labels).toEqual({ app: 'web-primary', tier: 'front' });
  });

  it('copies the rollout settings of the target', () => {
    expect(primary.spec).toMatchObject({
      replicas: 3,
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: 0 } },
      minReadySeconds: 5,
      revisionHistoryLimit: 4,
      progressDeadlineSeconds: 300,
    });
  });

  it('rewrites affinity, topology spread and tracked config references', () => {
    const spec = primary.spec.template.spec!;
    expect(
      spec.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.[0]?.labelSelector,
    ).toEqual({
      matchLabels: { app: 'web-primary' },
    });
    expect(spec.topologySpreadConstraints?.[0]?.labelSelector).toEqual({
      matchLabels: { app: 'web-primary' },
    });
    expect(spec.volumes?.[0]?.configMap?.name).toBe('web-config-primary');
    expect(spec.containers[0]?.env?.[0]?.valueFrom?.configMapKeyRef?.name).toBe('web-env-primary');
  });

  it('stamps the config digest on the pod template, and only when configs are tracked', () => {
    const input = renderInput();
    expect(primary.spec.template.metadata?.annotations).toEqual({
      'prometheus.io/scrape': 'true',
      [CONFIG_DIGEST_ANNOTATION]: configDigest(input.configs),
    });
    const untracked = renderPrimaryDeployment(deployment(), renderInput({ configs: {} }), 3);
    expect(untracked.spec.template.metadata?.annotations).toEqual({ 'prometheus.io/scrape': 'true' });
    expect(untracked.spec.template.spec?.volumes?.[0]?.configMap?.name).toBe('web-config');
  });

  it('gives the same primary for the same input (no per-promotion id restarting pods)', () => {
    expect(renderPrimaryDeployment(deployment(), renderInput(), 3)).toEqual(primary);
  });

  it('copies labels and annotations by prefix, never Flux or controller bookkeeping', () => {
    const all = renderPrimaryDeployment(deployment(), renderInput({ includeLabelPrefixes: ['*'] }), 3);
    expect(all.metadata.labels).toEqual({ app: 'web-primary', team: 'checkout' });
    const stamp = { 'fledge.dev/primary-stamp': 'stamp-0' };
    expect(all.metadata.annotations).toEqual({ 'team.example.com/owner': 'checkout', ...stamp });
    const some = renderPrimaryDeployment(deployment(), renderInput({ includeLabelPrefixes: ['team.'] }), 3);
    expect(some.metadata.annotations).toEqual({ 'team.example.com/owner': 'checkout', ...stamp });
    expect(some.metadata.labels).toEqual({ app: 'web-primary' });
  });

  it('leaves replicas out when told to', () => {
    expect(renderPrimaryDeployment(deployment(), renderInput(), undefined).spec.replicas).toBeUndefined();
  });

  it('never carries the scale-to-zero nodeSelector into the primary', () => {
    const target = deployment();
    target.spec.template.spec!.nodeSelector = { [SCALE_TO_ZERO_NODE_SELECTOR]: 'true', disk: 'ssd' };
    expect(renderPrimaryDeployment(target, renderInput(), 3).spec.template.spec?.nodeSelector).toEqual({
      disk: 'ssd',
    });
  });
});

describe('renderPrimaryDaemonSet', () => {
  it('renders selector, template and update settings without a replica count', () => {
    const target = daemonSet();
    target.spec.template.spec!.nodeSelector = { [SCALE_TO_ZERO_NODE_SELECTOR]: 'true' };
    const primary = renderPrimaryDaemonSet(
      target,
      renderInput({ pods: { label: 'name', value: 'agent', primaryValue: 'agent-primary' }, configs: {} }),
    );
    expect(primary.metadata.name).toBe('agent-primary');
    expect(primary.spec).toEqual({
      selector: { matchLabels: { name: 'agent-primary' } },
      template: {
        metadata: { labels: { name: 'agent-primary' }, annotations: undefined },
        spec: { containers: [{ name: 'agent', image: 'agent:1' }] },
      },
      updateStrategy: { type: 'RollingUpdate' },
      minReadySeconds: 2,
      revisionHistoryLimit: undefined,
    });
  });
});

describe('assertSameSelector', () => {
  const pods = renderInput().pods;
  it('accepts the selector Fledge renders and rejects another one, naming the fix', () => {
    expect(() =>
      assertSameSelector(renderPrimaryDeployment(deployment(), renderInput(), 1), pods, 'Deployment'),
    ).not.toThrow();
    const handMade = {
      metadata: { name: 'web-primary' },
      spec: { selector: { matchLabels: { 'app.kubernetes.io/name': 'web-primary' } } },
    };
    expect(() => assertSameSelector(handMade, pods, 'Deployment')).toThrow(
      /cannot change in place: delete web-primary/,
    );
  });
});

describe('fieldOwners', () => {
  const managedFields = [
    { manager: 'fledge', operation: 'Apply', fieldsV1: { 'f:spec': { 'f:replicas': {}, 'f:template': {} } } },
    {
      manager: 'kube-controller-manager',
      operation: 'Update',
      subresource: 'scale',
      fieldsV1: { 'f:spec': { 'f:replicas': {} } },
    },
    { manager: 'kubectl', operation: 'Update', fieldsV1: { 'f:metadata': { 'f:labels': {} } } },
  ];
  it('lists the managers owning a path', () => {
    expect(fieldOwners(managedFields, ['spec', 'replicas'])).toEqual([
      'fledge/Apply',
      'kube-controller-manager/Update',
    ]);
    expect(fieldOwners(managedFields, ['spec', 'paused'])).toEqual([]);
    expect(fieldOwners(undefined, ['spec'])).toEqual([]);
  });
});

describe('primaryReplicas', () => {
  const live = (replicas: number, owners: string[]) => {
    const d = deployment({ replicas });
    d.metadata.managedFields = owners.map((owner) => {
      const [manager, operation] = owner.split('/');
      return { manager, operation, fieldsV1: { 'f:spec': { 'f:replicas': {} } } };
    });
    return d;
  };

  it('creates with the target replicas, or 1 when the target is at zero', () => {
    expect(primaryReplicas(deployment({ replicas: 4 }), undefined, true)).toBe(4);
    expect(primaryReplicas(deployment({ replicas: 0 }), undefined, false)).toBe(1);
  });

  it('without an autoscaler follows the target, or keeps its own while the target is at zero', () => {
    expect(primaryReplicas(deployment({ replicas: 5 }), live(2, ['fledge/Apply']), false)).toBe(5);
    expect(primaryReplicas(deployment({ replicas: 0 }), live(2, ['fledge/Apply']), false)).toBe(2);
  });

  it('with an autoscaler leaves the field to it once it owns the field', () => {
    expect(
      primaryReplicas(deployment(), live(7, ['fledge/Apply', 'kube-controller-manager/Update']), true),
    ).toBeUndefined();
    expect(primaryReplicas(deployment(), live(7, ['kube-controller-manager/Update']), true)).toBeUndefined();
  });

  it('with an autoscaler sends the current value back while Fledge is the only owner', () => {
    expect(primaryReplicas(deployment({ replicas: 3 }), live(7, ['fledge/Apply']), true)).toBe(7);
  });
});
