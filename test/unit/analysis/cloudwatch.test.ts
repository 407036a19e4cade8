import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createCloudWatchProvider } from '../../../src/analysis/stores/cloudwatch.ts';
import { startFakeCloudWatch, type FakeCloudWatch } from '../../harness/cloudwatch.ts';
import { providerFailure } from './loopback.ts';

// The cloudwatch store against a loopback HTTPS server speaking GetMetricData
// (AWS JSON 1.0) that checks each request's SigV4 signature.

const keys = {
  accessKeyId: 'AKIAFLEDGETEST00001',
  secretAccessKey: 'cw-Secret-Qn5vZr8tXm2kLp7w',
  region: 'eu-west-1',
};

const errorRate = (name = 'ErrorRate') =>
  JSON.stringify([
    {
      id: 'm1',
      metricStat: {
        metric: { namespace: 'App', metricName: name, dimensions: [{ name: 'service', value: 'podinfo' }] },
        period: 60,
        stat: 'Average',
      },
    },
  ]);

describe('cloudwatch store', () => {
  let cloudwatch: FakeCloudWatch;
  beforeAll(async () => {
    cloudwatch = await startFakeCloudWatch(keys);
  });
  afterAll(async () => cloudwatch.close());

  const provider = (secret = keys.secretAccessKey) =>
    createCloudWatchProvider({
      type: 'cloudwatch',
      address: cloudwatch.url,
      region: keys.region,
      timeoutMs: 2000,
      tls: { ca: cloudwatch.ca },
      secretValues: { aws_access_key_id: keys.accessKeyId, aws_secret_access_key: secret },
    });

  it('signs GetMetricData, asks over ten intervals and reads the newest point', async () => {
    cloudwatch.answer('ErrorRate', [0.5, 2]);
    const p = provider();
    await expect(p.query(errorRate(), undefined, 60_000)).resolves.toBe(0.5);
    p.close();
    const body = cloudwatch.accepted.at(-1) as {
      StartTime: number;
      EndTime: number;
      MetricDataQueries: object[];
    };
    expect(body.EndTime - body.StartTime).toBe(600);
    // Keys in any case are sent as the API spells them.
    expect(body.MetricDataQueries[0]).toMatchObject({
      Id: 'm1',
      MetricStat: { Metric: { MetricName: 'ErrorRate' } },
    });
  });

  it('has no data for a result without points, and refuses several returned results', async () => {
    const p = provider();
    await expect(p.query(errorRate('Nothing'))).resolves.toEqual({
      noData: true,
      reason: 'the result has no points in the window',
    });
    const two = JSON.stringify([JSON.parse(errorRate())[0], { ...JSON.parse(errorRate())[0], id: 'm2' }]);
    const several = await providerFailure(p.query(two));
    p.close();
    expect(several.message).toBe(
      '2 queries returned data (m1, m2); set "ReturnData": false on all but the one to measure',
    );
  });

  it("reports AWS's own error for a wrong signature and an invalid query", async () => {
    const wrong = provider('cw-Wrong-000000000000000');
    const auth = await providerFailure(wrong.query(errorRate()));
    wrong.close();
    expect(auth.kind).toBe('auth');
    expect(auth.message).toContain(
      'answered 403 Forbidden (SignatureDoesNotMatch: The request signature we calculated',
    );
    const p = provider();
    const bad = await providerFailure(p.query(JSON.stringify([{ Id: 'Bad Id', Expression: 'm1' }])));
    expect(bad.kind).toBe('bad-query');
    expect(bad.message).toBe(
      'CloudWatch rejected the query (HTTP 400): InvalidParameterValue: The value for parameter MetricDataQueries.member.1.Id is invalid.',
    );
    expect((await providerFailure(p.query('not json'))).kind).toBe('bad-query');
    p.close();
  });
});
