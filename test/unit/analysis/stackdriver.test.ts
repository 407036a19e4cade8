import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { generateKeyPairSync } from 'node:crypto';
import { createStackdriverProvider } from '../../../src/analysis/stores/stackdriver.ts';
import { startFakeCloudMonitoring, type FakeCloudMonitoring } from '../../harness/stackdriver.ts';
import { providerFailure } from './loopback.ts';

// The stackdriver store against a loopback HTTPS server playing Google's token
// endpoint (checking the JWT signature) and Cloud Monitoring's PromQL API.

const project = 'fledge-test-1';

describe('stackdriver store', () => {
  let google: FakeCloudMonitoring;
  beforeAll(async () => {
    google = await startFakeCloudMonitoring(project);
  });
  afterAll(async () => google.close());

  const provider = (serviceAccountKey = google.serviceAccountKey) =>
    createStackdriverProvider({
      type: 'stackdriver',
      address: google.url,
      timeoutMs: 5000,
      tls: { ca: google.ca },
      secretValues: { project, serviceAccountKey },
    });

  it('trades a signed JWT for a token once, and runs PromQL in the project with it', async () => {
    google.answer('sum(rate(requests_total{service="podinfo"}[1m]))', 42);
    const p = provider();
    await expect(p.query('sum(rate(requests_total{service="podinfo"}[1m]))')).resolves.toBe(42);
    await expect(p.query('sum(absent_metric)')).resolves.toEqual({
      noData: true,
      reason: 'the query returned no series',
    });
    p.close();
    expect(google.issued).toHaveLength(1);
    expect(google.queries.map((q) => q.project)).toEqual([project, project]);
  });

  it("reports Google's refusal of a key it does not know as an auth error", async () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
      type: 'pkcs8',
      format: 'pem',
    });
    const forged = JSON.stringify({ ...JSON.parse(google.serviceAccountKey), private_key: other.toString() });
    const p = provider(forged);
    const err = await providerFailure(p.query('up'));
    p.close();
    expect(err.kind).toBe('auth');
    expect(err.message).toContain('invalid_grant: Invalid JWT Signature.');
  });

  it('refuses a key that is not a service account key before asking anything', () => {
    expect(() => provider('{"type": "authorized_user"}')).toThrow(
      'serviceAccountKey needs client_email, private_key and an https token_uri',
    );
  });
});
