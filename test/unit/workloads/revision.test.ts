import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { canonicalJson } from '../../../src/workloads/canonical.ts';
import { templateRevision, userPodTemplate } from '../../../src/workloads/revision.ts';
import { SCALE_TO_ZERO_NODE_SELECTOR } from '../../../src/workloads/options.ts';
import { podTemplate } from './fixtures.ts';

describe('canonicalJson', () => {
  it('ignores key order at every level and drops undefined members', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: undefined } })).toBe(
      '{"a":{"d":[1,{"x":1,"y":2}]},"b":1}',
    );
  });

  it('is the same for any permutation of keys', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (object) => {
        const reversed = Object.fromEntries(Object.entries(object).reverse());
        expect(canonicalJson(reversed)).toBe(canonicalJson(object));
      }),
    );
  });
});

describe('templateRevision', () => {
  it('is a hex SHA-256', () => {
    expect(templateRevision(podTemplate())).toMatch(/^[0-9a-f]{64}$/);
  });

  it('changes when the template changes', () => {
    const changed = podTemplate();
    changed.spec!.containers[0]!.image = 'ghcr.io/example/web:1.0.1';
    expect(templateRevision(changed)).not.toBe(templateRevision(podTemplate()));
  });

  it('changes when a pod annotation changes (how users retry a release)', () => {
    const changed = podTemplate();
    changed.metadata!.annotations!['example.com/restartedAt'] = 'now';
    expect(templateRevision(changed)).not.toBe(templateRevision(podTemplate()));
  });

  it('ignores the scale-to-zero nodeSelector and fledge.dev keys', () => {
    const scaled = podTemplate();
    scaled.spec!.nodeSelector = { [SCALE_TO_ZERO_NODE_SELECTOR]: 'true' };
    scaled.metadata!.annotations!['fledge.dev/anything'] = 'x';
    scaled.metadata!.labels!['fledge.dev/marker'] = 'y';
    expect(templateRevision(scaled)).toBe(templateRevision(podTemplate()));
  });

  it('keeps other nodeSelector keys', () => {
    const pinned = podTemplate();
    pinned.spec!.nodeSelector = { [SCALE_TO_ZERO_NODE_SELECTOR]: 'true', 'kubernetes.io/os': 'linux' };
    expect(templateRevision(pinned)).not.toBe(templateRevision(podTemplate()));
    expect(userPodTemplate(pinned).spec?.nodeSelector).toEqual({ 'kubernetes.io/os': 'linux' });
  });

  it('ignores key order and the null creationTimestamp the apiserver returns', () => {
    const fromServer = JSON.parse(JSON.stringify(podTemplate())) as ReturnType<typeof podTemplate>;
    (fromServer.metadata as Record<string, unknown>).creationTimestamp = null;
    const reordered = { spec: fromServer.spec, metadata: fromServer.metadata };
    expect(templateRevision(reordered)).toBe(templateRevision(podTemplate()));
  });

  it('does not modify its input', () => {
    const template = podTemplate();
    template.spec!.nodeSelector = { [SCALE_TO_ZERO_NODE_SELECTOR]: 'true' };
    const before = structuredClone(template);
    templateRevision(template);
    expect(template).toEqual(before);
  });
});
