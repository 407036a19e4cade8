import { describe, expect, it } from '@jest/globals';
import {
  FLUX_OPT_OUT_ANNOTATIONS,
  dropFluxOptOutOps,
  originalToSave,
  restoreOwnerMetadataOps,
  type ObjectMeta,
  type OriginalMetadata,
} from '../../../src/routers/objects.ts';
import { ORIGINAL_CONFIGURATION_ANNOTATION } from '../../../src/routers/index.ts';

const RECONCILE = 'kustomize.toolkit.fluxcd.io/reconcile';
const DRIFT = 'helm.toolkit.fluxcd.io/driftDetection';
const desired: ObjectMeta = {
  labels: { team: 'payments' },
  annotations: { note: 'fledge', ...FLUX_OPT_OUT_ANNOTATIONS },
};
const fresh = (): OriginalMetadata & { spec: string } => ({ spec: 'original' });

describe('originalToSave', () => {
  it("records the owner's value of every key Fledge sets, null where the owner had none", () => {
    const live: ObjectMeta = { labels: { team: 'shop' }, annotations: { [RECONCILE]: 'enabled' } };
    expect(originalToSave(live, desired, fresh, 'x')).toEqual({
      spec: 'original',
      labels: { team: 'shop' },
      annotations: { note: null, [RECONCILE]: 'enabled', [DRIFT]: null },
    });
  });

  it('adds the keys an older save lacks, keeping what it recorded, and nothing once it covers them', () => {
    // Adopted by a Fledge that set no Flux marks; Fledge has since written its note.
    const saved = { spec: 'original', annotations: { note: 'owner' } };
    const live: ObjectMeta = {
      annotations: {
        [ORIGINAL_CONFIGURATION_ANNOTATION]: JSON.stringify(saved),
        note: 'fledge',
        [DRIFT]: 'x',
      },
    };
    const original = originalToSave(live, desired, fresh, 'x');
    expect(original).toEqual({
      spec: 'original',
      annotations: { note: 'owner', [RECONCILE]: null, [DRIFT]: 'x' },
      labels: { team: null },
    });
    const updated: ObjectMeta = {
      annotations: { [ORIGINAL_CONFIGURATION_ANNOTATION]: JSON.stringify(original) },
    };
    expect(originalToSave(updated, desired, fresh, 'x')).toBeUndefined();
  });

  it('saves a fresh original even when Fledge sets no labels or annotations', () => {
    expect(originalToSave({}, {}, fresh, 'x')).toEqual({ spec: 'original' });
  });
});

describe('restoreOwnerMetadataOps', () => {
  it("puts the owner's values back and removes what Fledge added", () => {
    const live: ObjectMeta = {
      labels: { team: 'payments' },
      annotations: { note: 'fledge', [RECONCILE]: 'disabled', [DRIFT]: 'disabled' },
    };
    const saved: OriginalMetadata = {
      labels: { team: 'shop' },
      annotations: { note: null, [RECONCILE]: 'disabled', [DRIFT]: null },
    };
    expect(restoreOwnerMetadataOps(live, saved)).toEqual([
      { op: 'add', path: '/metadata/labels/team', value: 'shop' },
      { op: 'remove', path: '/metadata/annotations/note' },
      { op: 'remove', path: '/metadata/annotations/helm.toolkit.fluxcd.io~1driftDetection' },
    ]);
  });

  it('recreates a map removed since adoption with only the keys the owner had', () => {
    expect(restoreOwnerMetadataOps({}, { labels: { team: 'shop', added: null } })).toEqual([
      { op: 'add', path: '/metadata/labels', value: { team: 'shop' } },
    ]);
  });
});

describe('dropFluxOptOutOps', () => {
  it("removes the marks, or sets the spec's own value for a key the spec names", () => {
    const live: ObjectMeta = { annotations: { ...FLUX_OPT_OUT_ANNOTATIONS, note: 'x' } };
    expect(dropFluxOptOutOps(live, { [DRIFT]: 'enabled', note: 'x' })).toEqual([
      { op: 'remove', path: '/metadata/annotations/kustomize.toolkit.fluxcd.io~1reconcile' },
      { op: 'add', path: '/metadata/annotations/helm.toolkit.fluxcd.io~1driftDetection', value: 'enabled' },
    ]);
  });

  it('does nothing when the marks are already gone', () => {
    expect(dropFluxOptOutOps({ annotations: { note: 'x' } }, undefined)).toEqual([]);
    expect(dropFluxOptOutOps({}, undefined)).toEqual([]);
  });
});
