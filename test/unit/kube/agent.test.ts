import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import type { Dispatcher } from 'undici';
import { ApiserverPool, apiserverPool } from '../../../src/kube/agent.ts';
import { KubeConfig, type User } from '../../../src/kube/config.ts';
import { createMetrics } from '../../../src/telemetry/metrics.ts';

const dir = mkdtempSync(join(tmpdir(), 'fledge-agent-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const pem = (label: string, body: string) =>
  `-----BEGIN ${label}-----\n${Buffer.from(body).toString('base64')}\n-----END ${label}-----\n`;

/** A kubeconfig whose CA, client certificate and key are files, as a rotating setup has them. */
function fileKubeConfig(
  name: string,
  user: Partial<User> = {},
): { kc: KubeConfig; ca: string; cert: string } {
  const ca = join(dir, `${name}-ca.crt`);
  const cert = join(dir, `${name}-client.crt`);
  const key = join(dir, `${name}-client.key`);
  writeFileSync(ca, pem('CERTIFICATE', 'ca-1'));
  writeFileSync(cert, pem('CERTIFICATE', 'client-1'));
  writeFileSync(key, pem('PRIVATE KEY', 'key-1'));
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: 'https://10.0.0.1:6443', caFile: ca, skipTLSVerify: false }],
    users: [{ name: 'u', certFile: cert, keyFile: key, ...user }],
    contexts: [{ name: 'ctx', cluster: 'c', user: 'u' }],
    currentContext: 'ctx',
  });
  return { kc, ca, cert };
}

const apply = (pool: ApiserverPool) => pool.authenticate('request');

const isDestroyed = (agent: Dispatcher) => (agent as unknown as { destroyed: boolean }).destroyed;
const isClosed = (agent: Dispatcher) => (agent as unknown as { closed: boolean }).closed;

describe('ApiserverPool', () => {
  it('gives every request of one identity the same agent', async () => {
    const { kc } = fileKubeConfig('same');
    const pool = new ApiserverPool(kc, { firstConnectWaitMs: 0 });
    const first = await apply(pool);
    const second = await apply(pool);
    expect(second.dispatcher).toBe(first.dispatcher);
    expect(pool.counts()).toMatchObject({ requests: { request: 2, watch: 0 }, rebuilds: 0, opened: 0 });
    await pool.close();
  });

  it('builds one agent for concurrent first requests', async () => {
    const { kc } = fileKubeConfig('concurrent');
    const pool = new ApiserverPool(kc, { firstConnectWaitMs: 0 });
    const results = await Promise.all(Array.from({ length: 5 }, () => apply(pool)));
    expect(new Set(results.map((result) => result.dispatcher)).size).toBe(1);
    expect(pool.counts().rebuilds).toBe(0);
    await pool.close();
  });

  it('one pool per KubeConfig, shared by watches', async () => {
    const { kc } = fileKubeConfig('shared');
    expect(apiserverPool(kc)).toBe(apiserverPool(kc));
    const watch = await apiserverPool(kc).authenticate('watch');
    expect(watch.dispatcher).toBe((await apply(apiserverPool(kc))).dispatcher);
    expect(apiserverPool(kc).counts().requests).toEqual({ request: 1, watch: 1 });
    await apiserverPool(kc).close();
  });

  it('builds a new agent when the CA changes and destroys the old one', async () => {
    const { kc, ca } = fileKubeConfig('ca', {});
    const pool = new ApiserverPool(kc, { drainMs: 0, firstConnectWaitMs: 0 });
    const old = (await apply(pool)).dispatcher;
    writeFileSync(ca, pem('CERTIFICATE', 'ca-2'));
    const rotated = (await apply(pool)).dispatcher;
    expect(rotated).not.toBe(old);
    expect(isDestroyed(old)).toBe(true);
    expect(isDestroyed(rotated)).toBe(false);
    expect((await apply(pool)).dispatcher).toBe(rotated);
    expect(pool.counts().rebuilds).toBe(1);
    await pool.close();
    expect(isDestroyed(rotated)).toBe(true);
  });

  it('lets the old agent drain after a client certificate rotation, then destroys it', async () => {
    const { kc, cert } = fileKubeConfig('cert');
    const pool = new ApiserverPool(kc, { drainMs: 50, firstConnectWaitMs: 0 });
    const old = (await apply(pool)).dispatcher;
    writeFileSync(cert, pem('CERTIFICATE', 'client-2'));
    const rotated = (await apply(pool)).dispatcher;
    expect(rotated).not.toBe(old);
    expect(isClosed(old)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(isDestroyed(old)).toBe(true);
    await pool.close();
  });

  it('reads bearer tokens per request on the same agent', async () => {
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, 'from-file-1\n');
    const { kc } = fileKubeConfig('token', { tokenFile });
    const pool = new ApiserverPool(kc, { firstConnectWaitMs: 0 });
    const first = await apply(pool);
    expect(first.headers.Authorization).toBe('Bearer from-file-1');
    // A projected service-account token is rewritten in place: the next request has the new one.
    writeFileSync(tokenFile, 'from-file-2-longer\n');
    const second = await apply(pool);
    expect(second.headers.Authorization).toBe('Bearer from-file-2-longer');
    expect(second.dispatcher).toBe(first.dispatcher);
    expect(pool.counts().rebuilds).toBe(0);
    await pool.close();
  });

  it('runs an exec credential plugin through client-node, loaded only then', async () => {
    const plugin = join(dir, 'credential-plugin.sh');
    const count = join(dir, 'plugin-runs');
    writeFileSync(
      plugin,
      `#!/bin/sh\necho run >> ${count}\n` +
        `echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"from-plugin"}}'\n`,
      { mode: 0o755 },
    );
    const { kc } = fileKubeConfig('exec', {
      exec: {
        apiVersion: 'client.authentication.k8s.io/v1',
        command: plugin,
        args: [],
        interactiveMode: 'Never',
      },
    });
    expect(kc.needsClientNode()).toBe(true);
    const pool = new ApiserverPool(kc, { firstConnectWaitMs: 0 });
    const first = await apply(pool);
    expect(first.headers.Authorization).toBe('Bearer from-plugin');
    // The TLS material is still Fledge's: the client certificate of the kubeconfig.
    expect((await apply(pool)).dispatcher).toBe(first.dispatcher);
    expect(readFileSync(count, 'utf8').trim().split('\n').length).toBeGreaterThanOrEqual(1);
    await pool.close();
  });

  it('drops its connections on demand and reconnects on the next request', async () => {
    const { kc } = fileKubeConfig('reset');
    const pool = new ApiserverPool(kc, { firstConnectWaitMs: 0 });
    const old = (await apply(pool)).dispatcher;
    pool.resetConnections();
    await new Promise((resolve) => setImmediate(resolve));
    expect(isDestroyed(old)).toBe(true);
    const fresh = (await apply(pool)).dispatcher;
    expect(fresh).not.toBe(old);
    expect(pool.counts()).toMatchObject({ resets: 1, rebuilds: 0 });
    await pool.close();
  });

  it('refuses requests once closed', async () => {
    const { kc } = fileKubeConfig('closed');
    const pool = new ApiserverPool(kc, { firstConnectWaitMs: 0 });
    await pool.close();
    await expect(apply(pool)).rejects.toThrow('closed');
  });
});

describe('apiserver metrics', () => {
  it('counts requests and watches of every pool at scrape time', async () => {
    const metrics = createMetrics({ version: 't', meshProvider: 'none', processMetrics: false });
    const sample = async (name: string, kind?: string) => {
      const { values } = await metrics.registry.getSingleMetric(name)!.get();
      return values.find((value) => kind === undefined || value.labels.kind === kind)?.value ?? 0;
    };
    const before = await sample('fledge_apiserver_requests_total', 'request');
    const { kc } = fileKubeConfig('metrics');
    const pool = new ApiserverPool(kc, { firstConnectWaitMs: 0 });
    await apply(pool);
    await apply(pool);
    expect(await sample('fledge_apiserver_requests_total', 'request')).toBe(before + 2);
    expect(await sample('fledge_apiserver_connections')).toBeGreaterThanOrEqual(0);
    expect(await sample('fledge_apiserver_connections_opened_total')).toBeGreaterThanOrEqual(0);
    await pool.close();
  });
});
