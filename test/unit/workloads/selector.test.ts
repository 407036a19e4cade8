import { describe, expect, it } from '@jest/globals';
import { DEFAULT_SELECTOR_LABELS } from '../../../src/workloads/options.ts';
import {
  findPodSelector,
  rewriteLabelSelector,
  rewritePodSpecSelectors,
} from '../../../src/workloads/selector.ts';
import { podTemplate } from './fixtures.ts';

const pods = { label: 'app', value: 'web', primaryValue: 'web-primary' };

describe('findPodSelector', () => {
  it('takes the first configured label present in matchLabels', () => {
    expect(findPodSelector('Deployment shop/web', { name: 'n', app: 'a' }, DEFAULT_SELECTOR_LABELS)).toEqual({
      label: 'app',
      value: 'a',
      primaryValue: 'a-primary',
    });
    expect(
      findPodSelector(
        'Deployment shop/web',
        { 'app.kubernetes.io/name': 'x', name: 'n' },
        DEFAULT_SELECTOR_LABELS,
      ),
    ).toEqual({ label: 'name', value: 'n', primaryValue: 'n-primary' });
  });

  it('names the labels it looked for when none is present', () => {
    expect(() => findPodSelector('Deployment shop/web', { tier: 'front' }, DEFAULT_SELECTOR_LABELS)).toThrow(
      'Deployment shop/web: spec.selector.matchLabels has none of the labels app, name, app.kubernetes.io/name',
    );
  });

  it('rejects a value too long for the -primary suffix', () => {
    expect(() => findPodSelector('Deployment shop/web', { app: 'a'.repeat(56) }, ['app'])).toThrow(
      /too long.*55 or fewer/,
    );
    expect(
      findPodSelector('Deployment shop/web', { app: 'a'.repeat(55) }, ['app']).primaryValue,
    ).toHaveLength(63);
  });
});

describe('rewriteLabelSelector', () => {
  it('rewrites references to the target pods in matchLabels and In/NotIn expressions only', () => {
    const rewritten = rewriteLabelSelector(
      {
        matchLabels: { app: 'web', tier: 'web' },
        matchExpressions: [
          { key: 'app', operator: 'In', values: ['web', 'db'] },
          { key: 'tier', operator: 'In', values: ['web'] },
          { key: 'app', operator: 'Exists' },
        ],
      },
      pods,
    );
    expect(rewritten).toEqual({
      matchLabels: { app: 'web-primary', tier: 'web' },
      matchExpressions: [
        { key: 'app', operator: 'In', values: ['web-primary', 'db'] },
        { key: 'tier', operator: 'In', values: ['web'] },
        { key: 'app', operator: 'Exists' },
      ],
    });
  });

  it('leaves selectors of other apps alone', () => {
    expect(rewriteLabelSelector({ matchLabels: { app: 'cache' } }, pods)).toEqual({
      matchLabels: { app: 'cache' },
    });
  });
});

describe('rewritePodSpecSelectors', () => {
  it('rewrites pod affinity, anti-affinity (required and preferred) and topology spread', () => {
    const spec = podTemplate().spec!;
    spec.affinity!.podAffinity = {
      preferredDuringSchedulingIgnoredDuringExecution: [
        {
          weight: 10,
          podAffinityTerm: { topologyKey: 'zone', labelSelector: { matchLabels: { app: 'web' } } },
        },
      ],
    };
    spec.affinity!.nodeAffinity = {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [{ matchExpressions: [{ key: 'app', operator: 'In', values: ['web'] }] }],
      },
    };
    const rewritten = rewritePodSpecSelectors(spec, pods);
    expect(
      rewritten.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.[0]?.labelSelector,
    ).toEqual({ matchLabels: { app: 'web-primary' } });
    expect(
      rewritten.affinity?.podAffinity?.preferredDuringSchedulingIgnoredDuringExecution?.[0]?.podAffinityTerm
        .labelSelector,
    ).toEqual({ matchLabels: { app: 'web-primary' } });
    expect(rewritten.topologySpreadConstraints?.[0]?.labelSelector).toEqual({
      matchLabels: { app: 'web-primary' },
    });
    // Node labels are not pod labels.
    expect(rewritten.affinity?.nodeAffinity).toEqual(spec.affinity!.nodeAffinity);
  });

  it('does not modify its input', () => {
    const spec = podTemplate().spec!;
    const before = structuredClone(spec);
    rewritePodSpecSelectors(spec, pods);
    expect(spec).toEqual(before);
  });
});
