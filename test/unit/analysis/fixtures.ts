import type { NormalizedMetric } from '../../../src/api/index.ts';

/** A metric as normalisation leaves it: interval defaulted to 1m, templateRef namespaced. */
export function metricSpec(
  metric: Omit<NormalizedMetric, 'interval' | 'templateRef'> & {
    interval?: string;
    templateRef?: { name: string; namespace?: string };
  },
  namespace: string,
): NormalizedMetric {
  const { templateRef, ...rest } = metric;
  return {
    interval: '1m',
    ...rest,
    ...(templateRef && { templateRef: { namespace, ...templateRef } }),
  };
}
