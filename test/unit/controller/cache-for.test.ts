import { describe, expect, it } from '@jest/globals';
import type { KubernetesObject } from '@kubernetes/client-node';
import { cacheFor } from '../../../src/controller/operator.ts';
import type { SupervisedInformer } from '../../../src/runtime/informer.ts';

// Which informer's cache answers a read: the always-watched kinds at once, the optional ones
// (HTTPRoutes, HorizontalPodAutoscalers, KEDA ScaledObjects) once synced and only if their API
// was served at start; anything else goes to the apiserver.

function informer(synced: boolean) {
  return { hasSynced: () => synced } as unknown as SupervisedInformer<KubernetesObject>;
}

const always = {
  deployments: informer(true),
  daemonSets: informer(true),
  configMaps: informer(true),
  secrets: informer(true),
  services: informer(true),
};
const hpa = { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', namespace: 'team', name: 'api' };
const scaledObject = { apiVersion: 'keda.sh/v1alpha1', kind: 'ScaledObject', namespace: 'team', name: 'api' };

describe('cacheFor', () => {
  it('reads autoscalers from their informers once synced', () => {
    const hpas = informer(true);
    const scaledObjects = informer(false);
    const cache = cacheFor(
      always,
      {
        'autoscaling/v2/HorizontalPodAutoscaler': hpas,
        'keda.sh/v1alpha1/ScaledObject': scaledObjects,
      },
      undefined,
    );
    expect(cache(hpa)).toBe(hpas);
    expect(cache(scaledObject)).toBeUndefined();
    expect(cache({ ...hpa, apiVersion: 'autoscaling/v1' })).toBeUndefined();
    expect(cache({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'team', name: 'api' })).toBe(
      always.deployments,
    );
  });

  it('reads from the apiserver a kind whose API was not served, or outside the watched namespace', () => {
    const cache = cacheFor(always, { 'keda.sh/v1alpha1/ScaledObject': undefined }, 'team');
    expect(cache(scaledObject)).toBeUndefined();
    expect(cache({ apiVersion: 'v1', kind: 'Service', namespace: 'other', name: 'api' })).toBeUndefined();
    expect(cache({ apiVersion: 'v1', kind: 'Service', namespace: 'team', name: 'api' })).toBe(
      always.services,
    );
  });
});
