import type { Canary, CanaryAnalysis, CanaryService, CanaryStatus } from '../../../src/api/index.ts';
import { routableCanary, type RoutableCanary } from '../../../src/routers/index.ts';

/** A Canary as read from the apiserver, with spec.service and spec.analysis overridable. */
export function canary(
  options: {
    provider?: Canary['spec']['provider'];
    service?: Partial<CanaryService>;
    analysis?: CanaryAnalysis;
    status?: CanaryStatus;
  } = {},
): RoutableCanary {
  const object: Canary = {
    apiVersion: 'fledge.dev/v1beta1',
    kind: 'Canary',
    metadata: { name: 'podinfo', namespace: 'test', uid: 'canary-uid' },
    spec: {
      provider: options.provider ?? 'gatewayapi:v1',
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
      service: { port: 9898, gatewayRefs: [{ name: 'public', namespace: 'gateways' }], ...options.service },
      analysis: options.analysis ?? { interval: '1m', stepWeight: 10, maxWeight: 50 },
    },
  };
  if (options.status !== undefined) object.status = options.status;
  return routableCanary(object);
}

/** A token source that counts, so minted cookies are predictable. */
export function counterTokens(): () => string {
  let next = 0;
  return () => `token${++next}`;
}
