import { describe, expect, it } from '@jest/globals';
import { KubeConfig } from '../../../src/kube/config.ts';
import { KubeObjectClient } from '../../../src/kube/client.ts';
import { adoptPatch, controlOf, filterMetadata } from '../../../src/workloads/metadata.ts';
import { resolveWorkloadOptions } from '../../../src/workloads/options.ts';
import { createWorkloadRegistry } from '../../../src/workloads/registry.ts';

// A client that is never called: these tests fail before any request.
function unusedClient(): KubeObjectClient {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'none', server: 'https://127.0.0.1:1', skipTLSVerify: false }],
    users: [{ name: 'none' }],
    contexts: [{ name: 'none', cluster: 'none', user: 'none' }],
    currentContext: 'none',
  });
  return new KubeObjectClient(kc);
}

describe('createWorkloadRegistry', () => {
  const registry = createWorkloadRegistry({ client: unusedClient() });

  it('has one handler per supported kind', () => {
    expect(registry.forKind('Deployment').kind).toBe('Deployment');
    expect(registry.forKind('DaemonSet').kind).toBe('DaemonSet');
    expect(registry.forKind('Deployment')).toBe(registry.forKind('Deployment'));
    expect(registry.forKind('Service', 'v1')).toMatchObject({ kind: 'Service', backends: 'own' });
    expect(registry.forKind('Service', 'serving.knative.dev/v1')).toMatchObject({
      kind: 'KnativeService',
      backends: 'own',
    });
  });

  it('rejects any other kind, naming the supported ones', () => {
    expect(() => registry.forKind('StatefulSet', 'apps/v1')).toThrow(
      expect.objectContaining({
        name: 'WorkloadConfigError',
        reason: 'UnsupportedTarget',
        message:
          'spec.targetRef apps/v1 StatefulSet is not a target Fledge can run; it runs Deployment, DaemonSet, ' +
          'Service and Knative Service targets: point targetRef at the Deployment or DaemonSet behind it',
      }),
    );
  });

  it('validates the options when created', () => {
    expect(() => createWorkloadRegistry({ client: unusedClient(), options: { selectorLabels: [] } })).toThrow(
      /selectorLabels must name at least one label/,
    );
  });
});

describe('resolveWorkloadOptions', () => {
  it('defaults to Flagger selector labels, no copied metadata and config tracking on', () => {
    expect(resolveWorkloadOptions()).toEqual({
      selectorLabels: ['app', 'name', 'app.kubernetes.io/name'],
      includeLabelPrefixes: [],
      configTracking: true,
    });
  });

  it('rejects invalid label keys and empty prefixes', () => {
    expect(() => resolveWorkloadOptions({ selectorLabels: ['app', 'bad key'] })).toThrow(
      'selectorLabels has invalid label keys: "bad key"',
    );
    expect(() => resolveWorkloadOptions({ includeLabelPrefixes: [''] })).toThrow(
      /use "\*" to copy every label/,
    );
  });
});

describe('filterMetadata', () => {
  const source = {
    'app.kubernetes.io/part-of': 'shop',
    'kustomize.toolkit.fluxcd.io/namespace': 'flux-system',
    'kubectl.kubernetes.io/last-applied-configuration': '{}',
    'autoscaling.keda.sh/paused-replicas': '0',
    'fledge.dev/config-tracking': 'disabled',
    team: 'checkout',
  };

  it('copies nothing by default, by prefix when asked, everything allowed with *', () => {
    expect(filterMetadata(source, [])).toEqual({});
    expect(filterMetadata(source, ['app.kubernetes.io/'])).toEqual({ 'app.kubernetes.io/part-of': 'shop' });
    expect(filterMetadata(source, ['*'])).toEqual({ 'app.kubernetes.io/part-of': 'shop', team: 'checkout' });
  });

  it('never copies Flux, kubectl, KEDA pause or Fledge keys', () => {
    expect(filterMetadata(source, ['kustomize', 'kubectl', 'autoscaling', 'fledge'])).toEqual({});
  });
});

describe('controlOf and adoptPatch', () => {
  const canary = { name: 'web', namespace: 'shop', uid: 'uid-web' };
  const ref = (uid: string, controller: boolean) => ({
    apiVersion: 'v1',
    kind: 'Thing',
    name: uid,
    uid,
    controller,
  });

  it('tells our objects from unowned ones and refuses another controller', () => {
    expect(
      controlOf({ ownerReferences: [ref('uid-web', true)] }, canary, 'Deployment shop/web-primary'),
    ).toBe('ours');
    expect(controlOf({ ownerReferences: [ref('uid-x', false)] }, canary, 'Deployment shop/web-primary')).toBe(
      'unowned',
    );
    expect(controlOf({}, canary, 'Deployment shop/web-primary')).toBe('unowned');
    expect(() =>
      controlOf({ ownerReferences: [ref('uid-x', true)] }, canary, 'Deployment shop/web-primary'),
    ).toThrow(
      'Deployment shop/web-primary is controlled by Thing uid-x (v1), not by Canary web: Fledge will not take it over',
    );
  });

  it('adds the controller reference guarded by the list it read', () => {
    expect(adoptPatch(undefined, canary)).toEqual([
      { op: 'test', path: '/metadata/ownerReferences', value: null },
      {
        op: 'add',
        path: '/metadata/ownerReferences',
        value: [expect.objectContaining({ uid: 'uid-web', controller: true })],
      },
    ]);
    const existing = [ref('uid-x', false)];
    expect(adoptPatch(existing, canary)).toEqual([
      { op: 'test', path: '/metadata/ownerReferences', value: existing },
      {
        op: 'add',
        path: '/metadata/ownerReferences/-',
        value: expect.objectContaining({ uid: 'uid-web', kind: 'Canary' }),
      },
    ]);
  });
});
