import { describe, expect, it } from '@jest/globals';
import type { KubernetesObject } from '@kubernetes/client-node';
import { KubeRequestError } from '../../../src/kube/errors.ts';
import { referenceResolver, type ReferencedKind } from '../../../src/controller/references.ts';

const template = (namespace: string, name: string): KubernetesObject => ({
  apiVersion: 'fledge.dev/v1beta1',
  kind: 'MetricTemplate',
  metadata: { namespace, name },
});

/** Sources that record which one answered; `read` fails with `readError` when given. */
function sources(readError?: KubeRequestError) {
  const calls: string[] = [];
  return {
    calls,
    cached: (namespace: string, name: string) => {
      calls.push(`cache ${namespace}/${name}`);
      return namespace === 'team-a' ? template(namespace, name) : undefined;
    },
    read: async (kind: ReferencedKind, namespace: string, name: string) => {
      calls.push(`get ${kind} ${namespace}/${name}`);
      if (readError) throw readError;
      return template(namespace, name);
    },
  };
}

describe('referenceResolver', () => {
  it('answers from the cache for the watched namespace, and for every namespace when cluster-wide', async () => {
    const namespaced = sources();
    await expect(
      referenceResolver('MetricTemplate', 'team-a', namespaced)('team-a', 'latency'),
    ).resolves.toEqual(template('team-a', 'latency'));
    const clusterWide = sources();
    await expect(
      referenceResolver('MetricTemplate', undefined, clusterWide)('shared', 'latency'),
    ).resolves.toBe(undefined);
    expect([...namespaced.calls, ...clusterWide.calls]).toEqual([
      'cache team-a/latency',
      'cache shared/latency',
    ]);
  });

  it('reads other namespaces from the apiserver when watching one namespace', async () => {
    const reads = sources();
    const resolve = referenceResolver('AlertProvider', 'team-a', reads);
    await expect(resolve('shared', 'slack')).resolves.toEqual(template('shared', 'slack'));
    expect(reads.calls).toEqual(['get AlertProvider shared/slack']);
  });

  it('treats NotFound as missing', async () => {
    const resolve = referenceResolver(
      'MetricTemplate',
      'team-a',
      sources(new KubeRequestError({ code: 404, reason: 'NotFound', message: 'not found' })),
    );
    await expect(resolve('shared', 'latency')).resolves.toBe(undefined);
  });

  it('names the object and the fix when RBAC refuses the read', async () => {
    const resolve = referenceResolver(
      'MetricTemplate',
      'team-a',
      sources(new KubeRequestError({ code: 403, reason: 'Forbidden', message: 'forbidden' })),
    );
    await expect(resolve('shared', 'latency')).rejects.toThrow(
      'MetricTemplate shared/latency is outside the watched namespace team-a and Fledge may not read it: ' +
        'move it into team-a, or run Fledge cluster-wide',
    );
  });

  it('passes other failures on unchanged', async () => {
    const outage = new KubeRequestError({ code: 503, reason: 'ServiceUnavailable', message: 'try later' });
    const resolve = referenceResolver('MetricTemplate', 'team-a', sources(outage));
    await expect(resolve('shared', 'latency')).rejects.toBe(outage);
  });
});
