import { afterAll, describe, expect, it } from '@jest/globals';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { integrationEnv } from '../../harness/env.ts';
import { pushSamples, queryValue, startPrometheus } from '../../harness/prometheus.ts';
import { waitFor } from '../../harness/processes.ts';

describe('Prometheus', () => {
  it('returns a pushed sample from a PromQL query', async () => {
    const { prometheusUrl } = integrationEnv();
    const series = `fledge_smoke_${Date.now()}`;
    await pushSamples(prometheusUrl, [
      { labels: { __name__: series, app: 'podinfo' }, samples: [{ value: 97.5, timestamp: Date.now() }] },
    ]);
    expect(await queryValue(prometheusUrl, `${series}{app="podinfo"}`)).toBe(97.5);
  });

  const exporter = createServer((_req, res) => {
    res.setHeader('content-type', 'text/plain; version=0.0.4');
    res.end('# TYPE smoke_requests_total counter\nsmoke_requests_total{code="200"} 42\n');
  });
  afterAll(() => new Promise<void>((done) => exporter.close(() => done())));

  it('scrapes a target and answers for it', async () => {
    await new Promise<void>((done) => exporter.listen(0, '127.0.0.1', done));
    const { port } = exporter.address() as AddressInfo;
    const prometheus = await startPrometheus({
      scrapeConfigs: [{ job_name: 'smoke', static_configs: [{ targets: [`127.0.0.1:${port}`] }] }],
    });
    try {
      await waitFor('the scraped sample', async () => {
        return (await queryValue(prometheus.url, 'smoke_requests_total{job="smoke",code="200"}')) === 42;
      });
      expect(await queryValue(prometheus.url, 'up{job="smoke"}')).toBe(1);
    } finally {
      await prometheus.stop();
    }
  }, 60_000);
});
