import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { KubeConfig } from '../../../src/kube/config.ts';
import { KubeObjectClient, createKubeClients, loadKubeConfig } from '../../../src/kube/client.ts';
import { normalizeKubeError } from '../../../src/kube/errors.ts';

const tempDirs: string[] = [];
function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}
afterAll(() => tempDirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

function kubeconfigFile(server: string): string {
  const dir = tempDir('fledge-kc-');
  const path = join(dir, 'config');
  writeFileSync(
    path,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'one', cluster: { server, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'me', user: { token: 't' } }],
      contexts: [
        { name: 'first', context: { cluster: 'one', user: 'me' } },
        { name: 'second', context: { cluster: 'one', user: 'me' } },
      ],
      'current-context': 'first',
    }),
  );
  return path;
}

describe('loadKubeConfig', () => {
  it('loads an explicit file and switches context on request', () => {
    const path = kubeconfigFile('https://10.0.0.1:6443');
    expect(loadKubeConfig({ kubeconfigPath: path }).getCurrentContext()).toBe('first');
    const kc = loadKubeConfig({ kubeconfigPath: path, context: 'second' });
    expect(kc.getCurrentContext()).toBe('second');
    expect(kc.getCurrentCluster()?.server).toBe('https://10.0.0.1:6443');
  });

  it('names the missing file or context', () => {
    expect(() => loadKubeConfig({ kubeconfigPath: '/nonexistent/kubeconfig' })).toThrow(
      'kubeconfig file "/nonexistent/kubeconfig" does not exist; check --kubeconfig',
    );
    const path = kubeconfigFile('https://10.0.0.1:6443');
    expect(() => loadKubeConfig({ kubeconfigPath: path, context: 'third' })).toThrow(
      'kubeconfig has no context "third"; it has: first, second',
    );
  });

  it('refuses to fall back to localhost when no credentials exist', () => {
    const saved = { home: process.env.HOME, kubeconfig: process.env.KUBECONFIG };
    process.env.HOME = tempDir('fledge-home-');
    delete process.env.KUBECONFIG;
    try {
      expect(() => loadKubeConfig()).toThrow(/no Kubernetes credentials found/);
    } finally {
      process.env.HOME = saved.home;
      if (saved.kubeconfig !== undefined) process.env.KUBECONFIG = saved.kubeconfig;
    }
  });
});

describe('request timeouts', () => {
  let server: Server;
  let kubeConfig: KubeConfig;

  beforeAll(async () => {
    // Accepts requests and never answers: a hung apiserver connection.
    server = createServer(() => {});
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    kubeConfig = new KubeConfig();
    kubeConfig.loadFromOptions({
      clusters: [{ name: 'hung', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
      users: [{ name: 'me', token: 't' }],
      contexts: [{ name: 'hung', cluster: 'hung', user: 'me' }],
      currentContext: 'hung',
    });
  });

  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });

  it('bounds dynamic client calls and honours the caller’s signal', async () => {
    const objects = new KubeObjectClient(kubeConfig, { requestTimeoutMs: 200 });
    const timedOut = await objects
      .request('GET', '/api/v1/namespaces/x', undefined, undefined, {})
      .catch((caught: unknown) => caught);
    expect(normalizeKubeError(timedOut).reason).toBe('Timeout');

    const slowObjects = new KubeObjectClient(kubeConfig, { requestTimeoutMs: 60_000 });
    const abort = new AbortController();
    const pending = slowObjects.request('GET', '/api/v1/namespaces/x', undefined, undefined, {
      signal: abort.signal,
    });
    abort.abort();
    expect(normalizeKubeError(await pending.catch((caught: unknown) => caught)).reason).toBe('Aborted');
  });

  it('rejects a non-positive timeout', () => {
    expect(() => createKubeClients(kubeConfig, { requestTimeoutMs: 0 })).toThrow(
      'requestTimeoutMs must be > 0, got 0',
    );
  });
});

describe('KubeObjectClient on the wire', () => {
  let server: Server;
  let url: string;
  const seen: { method?: string; url?: string; headers: Record<string, unknown>; body: string }[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, headers: req.headers, body });
        if (req.url?.includes('missing')) {
          res.writeHead(404, {
            'content-type': 'application/json',
            'retry-after': '3',
            'x-secret': 's3cret',
          });
          res.end(
            JSON.stringify({ kind: 'Status', reason: 'NotFound', message: 'configmaps "missing" not found' }),
          );
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ kind: 'ConfigMap', metadata: { name: 'seen' } }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });

  const clientAt = (serverUrl: string) => {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromOptions({
      clusters: [{ name: 'c', server: serverUrl, skipTLSVerify: true }],
      users: [{ name: 'me', token: 'tok' }],
      contexts: [{ name: 'c', cluster: 'c', user: 'me' }],
      currentContext: 'c',
    });
    return new KubeObjectClient(kubeConfig);
  };

  it('keeps the server’s path prefix and sends query, credentials, content type and body', async () => {
    const objects = clientAt(`${url}/k8s/clusters/one/`);
    const answer = await objects.request(
      'PATCH',
      '/api/v1/namespaces/a/configmaps/b',
      { data: { x: '1' } },
      'application/merge-patch+json',
      { query: { fieldManager: 'fledge', dryRun: undefined, force: true } },
    );
    expect(answer).toEqual({ kind: 'ConfigMap', metadata: { name: 'seen' } });
    const request = seen.at(-1)!;
    expect(request.method).toBe('PATCH');
    expect(request.url).toBe(
      '/k8s/clusters/one/api/v1/namespaces/a/configmaps/b?fieldManager=fledge&force=true',
    );
    expect(request.headers).toMatchObject({
      authorization: 'Bearer tok',
      'content-type': 'application/merge-patch+json',
      accept: 'application/json',
    });
    expect(String(request.headers['user-agent'])).toMatch(/^fledge\//);
    expect(JSON.parse(request.body)).toEqual({ data: { x: '1' } });
  });

  it('turns an error status into the apiserver’s Status, keeping only Retry-After of the headers', async () => {
    const error = await clientAt(url)
      .request('GET', '/api/v1/namespaces/a/configmaps/missing', undefined, undefined, {})
      .catch((caught: unknown) => caught);
    expect(normalizeKubeError(error)).toMatchObject({ code: 404, reason: 'NotFound' });
    expect(JSON.stringify(error)).not.toContain('s3cret');
    expect((error as { headers: Record<string, string> }).headers).toEqual({ 'retry-after': '3' });
  });
});
