import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { KubeObjectClient } from '../../../src/kube/client.ts';
import { apiserverPool } from '../../../src/kube/agent.ts';
import {
  createExternalMetricsProvider,
  parseExternalQuery,
  quantityValue,
} from '../../../src/analysis/stores/externalmetrics.ts';
import { startFakeExternalMetrics, type FakeExternalMetrics } from '../../harness/external-metrics.ts';
import { providerFailure } from './loopback.ts';

// The externalmetrics store through the operator's own Kubernetes client,
// against a loopback server speaking the external metrics API. Through the
// apiserver's aggregation layer: test/integration/analysis/externalmetrics.test.ts.

const token = 'em-Rt6wKp3xNq8v';

describe('externalmetrics store', () => {
  let api: FakeExternalMetrics;
  beforeAll(async () => {
    api = await startFakeExternalMetrics(token);
  });
  afterAll(async () => {
    apiserverPool(api.kubeConfig).close();
    await api.close();
  });

  const provider = () =>
    createExternalMetricsProvider(
      { type: 'externalmetrics', address: '', namespace: 'test', timeoutMs: 2000 },
      { cluster: new KubeObjectClient(api.kubeConfig) },
    );

  it('reads the first value of the metric for the label selector, as a quantity', async () => {
    api.answer('test', 'success-rate', 'app=podinfo', ['99500m', '12']);
    await expect(provider().query('test/success-rate?labelSelector=app%3Dpodinfo')).resolves.toBe(99.5);
    expect(api.selectors.at(-1)).toBe('app=podinfo');
    api.answer('default', 'queue-depth', '', ['3k']);
    await expect(provider().query('queue-depth')).resolves.toBe(3000);
    expect(api.selectors.at(-1)).toBeNull();
  });

  it('has no data for an empty list, and names the adapter for an unknown metric or an adapter that is down', async () => {
    api.answer('test', 'empty', '', []);
    await expect(provider().query('test/empty')).resolves.toEqual({
      noData: true,
      reason: 'external metric test/empty has no values',
    });
    const unknown = await providerFailure(provider().query('test/absent'));
    expect(unknown.kind).toBe('http-status');
    expect(unknown.message).toMatch(
      /^reading external metric test\/absent: NotFound \(404\): unable to get external metric test\/absent\/.*; is an external metrics adapter registered/,
    );
    api.answer('test', 'down', '', 'unavailable');
    expect((await providerFailure(provider().query('test/down'))).message).toMatch(
      /ServiceUnavailable \(503\)/,
    );
  });

  it('reads quantities and queries in their documented forms', () => {
    expect([
      quantityValue('1500m'),
      quantityValue('2Ki'),
      quantityValue('1e3'),
      quantityValue('-0.5'),
      quantityValue('5 apples'),
    ]).toEqual([1.5, 2048, 1000, -0.5, undefined]);
    expect(parseExternalQuery('/rps?labelSelector=a%3Db')).toEqual({
      namespace: 'default',
      metric: 'rps',
      labelSelector: 'a=b',
    });
    expect(() => parseExternalQuery('a/b/c')).toThrow(/is not \[<namespace>\/\]<metric name>/);
  });
});
