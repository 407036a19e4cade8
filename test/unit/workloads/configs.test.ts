import { describe, expect, it } from '@jest/globals';
import type { V1PodSpec } from '@kubernetes/client-node';
import {
  collectConfigRefs,
  configChecksum,
  renderConfigCopy,
  rewriteConfigRefs,
  trackingDisabled,
} from '../../../src/workloads/configs.ts';
import { owner } from './fixtures.ts';

function spec(): V1PodSpec {
  return {
    initContainers: [{ name: 'init', image: 'i', envFrom: [{ secretRef: { name: 'init-secret' } }] }],
    containers: [
      {
        name: 'web',
        image: 'w',
        env: [
          { name: 'A', valueFrom: { configMapKeyRef: { name: 'env-cm', key: 'a' } } },
          { name: 'B', valueFrom: { secretKeyRef: { name: 'env-secret', key: 'b', optional: true } } },
          { name: 'C', value: 'literal' },
        ],
        envFrom: [{ configMapRef: { name: 'bulk-cm' } }],
      },
    ],
    volumes: [
      { name: 'cfg', configMap: { name: 'vol-cm' } },
      { name: 'tls', secret: { secretName: 'vol-secret', optional: true } },
      {
        name: 'all',
        projected: { sources: [{ configMap: { name: 'proj-cm' } }, { secret: { name: 'proj-secret' } }] },
      },
      { name: 'scratch', emptyDir: {} },
    ],
  };
}

describe('collectConfigRefs', () => {
  it('finds ConfigMaps and Secrets in volumes, projected volumes, env and envFrom of all containers', () => {
    const refs = collectConfigRefs(spec());
    expect(refs.map((r) => `${r.kind}/${r.name}`).sort()).toEqual(
      [
        'configmap/bulk-cm',
        'configmap/env-cm',
        'configmap/proj-cm',
        'configmap/vol-cm',
        'secret/env-secret',
        'secret/init-secret',
        'secret/proj-secret',
        'secret/vol-secret',
      ].sort(),
    );
    expect(refs.find((r) => r.name === 'init-secret')?.usedBy).toBe('init container "init" envFrom');
    expect(refs.find((r) => r.name === 'env-cm')?.usedBy).toBe('container "web" env A');
  });

  it('reports a config as optional only when every use is optional', () => {
    const twice = spec();
    twice.volumes!.push({ name: 'again', secret: { secretName: 'env-secret' } });
    expect(collectConfigRefs(spec()).find((r) => r.name === 'env-secret')?.optional).toBe(true);
    expect(collectConfigRefs(twice).find((r) => r.name === 'env-secret')?.optional).toBe(false);
  });
});

describe('rewriteConfigRefs', () => {
  it('points tracked references at the -primary copies and leaves the rest', () => {
    const original = spec();
    const rewritten = rewriteConfigRefs(
      original,
      new Set(['configmap/vol-cm', 'secret/vol-secret', 'secret/proj-secret']),
    );
    expect(rewritten.volumes?.[0]?.configMap?.name).toBe('vol-cm-primary');
    expect(rewritten.volumes?.[1]?.secret?.secretName).toBe('vol-secret-primary');
    expect(rewritten.volumes?.[2]?.projected?.sources?.[1]?.secret?.name).toBe('proj-secret-primary');
    expect(rewritten.volumes?.[2]?.projected?.sources?.[0]?.configMap?.name).toBe('proj-cm');
    expect(rewritten.containers[0]?.envFrom?.[0]?.configMapRef?.name).toBe('bulk-cm');
    expect(original).toEqual(spec());
  });

  it('does not confuse a ConfigMap and a Secret of the same name', () => {
    const both: V1PodSpec = {
      containers: [
        { name: 'c', envFrom: [{ configMapRef: { name: 'same' } }, { secretRef: { name: 'same' } }] },
      ],
    };
    const rewritten = rewriteConfigRefs(both, new Set(['secret/same']));
    expect(rewritten.containers[0]?.envFrom).toEqual([
      { configMapRef: { name: 'same' } },
      { secretRef: { name: 'same-primary' } },
    ]);
  });
});

describe('configChecksum', () => {
  const configMap = (data: Record<string, string>) => ({ metadata: { name: 'c' }, data });

  it('is 16 hex digits that change with the data and not with key order', () => {
    const sum = configChecksum('configmap', configMap({ a: '1', b: '2' }));
    expect(sum).toMatch(/^[0-9a-f]{16}$/);
    expect(configChecksum('configmap', configMap({ b: '2', a: '1' }))).toBe(sum);
    expect(configChecksum('configmap', configMap({ a: '1', b: '3' }))).not.toBe(sum);
  });

  it('covers binaryData of a ConfigMap and ignores metadata', () => {
    const plain = { metadata: { name: 'c' }, data: { a: '1' } };
    const binary = { ...plain, binaryData: { blob: 'AAE=' } };
    expect(configChecksum('configmap', binary)).not.toBe(configChecksum('configmap', plain));
    expect(configChecksum('configmap', { ...plain, metadata: { name: 'c', labels: { x: 'y' } } })).toBe(
      configChecksum('configmap', plain),
    );
  });
});

describe('trackingDisabled', () => {
  const annotated = (annotations: Record<string, string>) => ({ metadata: { name: 'c', annotations } });

  it('honours the Fledge and the Flagger opt-out annotations', () => {
    expect(trackingDisabled('configmap', annotated({ 'fledge.dev/config-tracking': 'disabled' }))).toBe(true);
    expect(trackingDisabled('secret', annotated({ 'flagger.app/config-tracking': 'disabled' }))).toBe(true);
    expect(trackingDisabled('secret', annotated({ 'fledge.dev/config-tracking': 'enabled' }))).toBe(false);
    expect(trackingDisabled('secret', annotated({}))).toBe(false);
  });

  it('rejects any other value instead of guessing', () => {
    expect(() => trackingDisabled('configmap', annotated({ 'fledge.dev/config-tracking': 'off' }))).toThrow(
      'ConfigMap c: annotation fledge.dev/config-tracking is "off"; use "disabled"',
    );
  });
});

describe('renderConfigCopy', () => {
  it('copies data under <name>-primary, owned by the Canary, with filtered metadata', () => {
    const copy = renderConfigCopy(
      'secret',
      {
        metadata: {
          name: 'creds',
          namespace: 'shop',
          labels: { 'team.example.com/owner': 'x', 'kustomize.toolkit.fluxcd.io/name': 'apps' },
          annotations: { 'fledge.dev/config-tracking': 'enabled' },
          resourceVersion: '12',
        },
        type: 'kubernetes.io/basic-auth',
        data: { username: 'dQ==' },
      },
      owner,
      ['team.example.com/'],
    );
    expect(copy).toEqual({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: 'creds-primary',
        namespace: 'shop',
        labels: { 'team.example.com/owner': 'x' },
        annotations: undefined,
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
      },
      type: 'kubernetes.io/basic-auth',
      data: { username: 'dQ==' },
    });
  });
});
