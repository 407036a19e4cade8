import { afterEach, describe, expect, it } from '@jest/globals';
import { createMetrics } from '../../../src/telemetry/metrics.ts';
import {
  informerLiveness,
  informerReadiness,
  leaderElectionReadiness,
  parseListenAddress,
  startTelemetryServer,
  type TelemetryServer,
} from '../../../src/telemetry/server.ts';

describe('parseListenAddress', () => {
  it('accepts host:port, :port and bracketed IPv6', () => {
    expect(parseListenAddress(':8080')).toEqual({ host: '0.0.0.0', port: 8080 });
    expect(parseListenAddress('127.0.0.1:0')).toEqual({ host: '127.0.0.1', port: 0 });
    expect(parseListenAddress('[::1]:9090')).toEqual({ host: '::1', port: 9090 });
  });

  it('names what is wrong with a bad address', () => {
    expect(() => parseListenAddress('8080')).toThrow(/needs a port/);
    expect(() => parseListenAddress('host:http')).toThrow(/port "http" is not a number/);
    expect(() => parseListenAddress(':70000')).toThrow(/0 to 65535/);
  });
});

describe('startTelemetryServer', () => {
  let server: TelemetryServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  function fakeInformer(state: { started: boolean; synced: boolean; stalled: boolean }) {
    return { resource: 'canaries', health: () => state };
  }

  it('serves /metrics from its registry', async () => {
    const metrics = createMetrics({ version: '9.9.9', meshProvider: 'kubernetes', processMetrics: false });
    server = await startTelemetryServer({
      listenAddress: '127.0.0.1:0',
      registry: metrics.registry,
      liveness: [],
      readiness: [],
    });
    const response = await fetch(`${server.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain');
    expect(await response.text()).toContain('fledge_info{version="9.9.9",mesh_provider="kubernetes"} 1');
  });

  it('reports liveness from informer stalls and readiness from sync and leader election', async () => {
    const metrics = createMetrics({ version: '1', meshProvider: 'kubernetes', processMetrics: false });
    const informer = { started: true, synced: false, stalled: false };
    const elector = { state: 'candidate', healthy: false };
    server = await startTelemetryServer({
      listenAddress: '127.0.0.1:0',
      registry: metrics.registry,
      liveness: [informerLiveness(fakeInformer(informer))],
      readiness: [
        informerReadiness(fakeInformer(informer)),
        leaderElectionReadiness({
          get state() {
            return elector.state;
          },
          isHealthy: () => elector.healthy,
        }),
      ],
    });
    let live = await fetch(`${server.url}/healthz`);
    expect(live.status).toBe(200);
    expect(await live.text()).toBe('[+]informer-canaries ok\nok\n');
    let ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.text()).toBe(
      '[-]informer-canaries-synced failed: cache not synced yet\n[-]leader-election failed: candidate: cannot hold or read the lease\nfailed\n',
    );

    informer.synced = true;
    elector.healthy = true;
    ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(200);

    informer.stalled = true;
    live = await fetch(`${server.url}/healthz`);
    expect(live.status).toBe(503);
    expect(await live.text()).toContain('[-]informer-canaries failed: stalled');
  });

  it('answers unknown paths with 404 and other methods with 405', async () => {
    const metrics = createMetrics({ version: '1', meshProvider: 'kubernetes', processMetrics: false });
    server = await startTelemetryServer({
      listenAddress: '127.0.0.1:0',
      registry: metrics.registry,
      liveness: [],
      readiness: [],
    });
    expect((await fetch(`${server.url}/nope`)).status).toBe(404);
    expect((await fetch(`${server.url}/metrics`, { method: 'POST' })).status).toBe(405);
  });

  it('closes even with a keep-alive connection open', async () => {
    const metrics = createMetrics({ version: '1', meshProvider: 'kubernetes', processMetrics: false });
    const started = await startTelemetryServer({
      listenAddress: '127.0.0.1:0',
      registry: metrics.registry,
      liveness: [],
      readiness: [],
    });
    await (await fetch(`${started.url}/healthz`, { headers: { connection: 'keep-alive' } })).text();
    await started.close();
    await expect(fetch(`${started.url}/healthz`)).rejects.toThrow();
  });
});
