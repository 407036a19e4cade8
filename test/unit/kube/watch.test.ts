import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { KubeConfig } from '../../../src/kube/config.ts';
import { apiserverPool } from '../../../src/kube/agent.ts';
import { normalizeKubeError } from '../../../src/kube/errors.ts';
import { PooledWatch } from '../../../src/kube/watch.ts';

// The watch ListWatch runs on: events split across chunks arrive whole, a status error
// carries its code, a quiet watch times out, and `done` is called exactly once.

let server: Server;
let kubeConfig: KubeConfig;
let serve: (req: IncomingMessage, res: ServerResponse) => void;
const urls: string[] = [];
const auth: (string | undefined)[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    urls.push(req.url ?? '');
    auth.push(req.headers.authorization);
    serve(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [
      {
        name: 'c',
        server: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
        skipTLSVerify: true,
      },
    ],
    users: [{ name: 'me', token: 'tok' }],
    contexts: [{ name: 'c', cluster: 'c', user: 'me' }],
    currentContext: 'c',
  });
});
afterAll(async () => {
  await apiserverPool(kubeConfig).close();
  server.closeAllConnections();
  server.close();
});

interface Outcome {
  events: [string, unknown][];
  done: unknown[];
}

async function watchOnce(timeoutMs = 5_000): Promise<Outcome & { controller: AbortController }> {
  const outcome: Outcome = { events: [], done: [] };
  let finished!: () => void;
  const ended = new Promise<void>((resolve) => (finished = resolve));
  const controller = await new PooledWatch(kubeConfig, timeoutMs).watch(
    '/api/v1/namespaces/a/configmaps',
    { resourceVersion: '7', labelSelector: undefined, allowWatchBookmarks: 'true' },
    (type, object) => outcome.events.push([type, object]),
    (error) => {
      outcome.done.push(error);
      finished();
    },
  );
  await ended;
  // Anything after the first `done` would show up here.
  await new Promise((resolve) => setTimeout(resolve, 50));
  return { ...outcome, controller };
}

const line = (type: string, name: string) =>
  JSON.stringify({ type, object: { kind: 'ConfigMap', metadata: { name, resourceVersion: '8' } } }) + '\n';

describe('PooledWatch', () => {
  it('hands over whole events however the stream is cut, then ends cleanly', async () => {
    serve = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const both = line('ADDED', 'one') + line('MODIFIED', 'two');
      const third = line('DELETED', 'three');
      res.write(both.slice(0, 10));
      setTimeout(() => res.write(both.slice(10) + third.slice(0, 5)), 20);
      setTimeout(() => res.end(third.slice(5)), 40);
    };
    const outcome = await watchOnce();
    expect(
      outcome.events.map(([type, object]) => [
        type,
        (object as { metadata: { name: string } }).metadata.name,
      ]),
    ).toEqual([
      ['ADDED', 'one'],
      ['MODIFIED', 'two'],
      ['DELETED', 'three'],
    ]);
    expect(outcome.done).toEqual([null]);
    expect(urls.at(-1)).toBe(
      '/api/v1/namespaces/a/configmaps?watch=true&resourceVersion=7&allowWatchBookmarks=true',
    );
    expect(auth.at(-1)).toBe('Bearer tok');
  });

  it('ends with the code and Status of a refused watch, so 410 lists again and a 403 says why', async () => {
    serve = (_req, res) => {
      res.writeHead(410, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', code: 410, reason: 'Expired' }));
    };
    const outcome = await watchOnce();
    expect(outcome.done).toHaveLength(1);
    expect((outcome.done[0] as { code?: number }).code).toBe(410);
    expect(normalizeKubeError(outcome.done[0])).toMatchObject({ code: 410, reason: 'Expired' });

    const forbidden = 'configmaps is forbidden: User "fledge" cannot watch resource "configmaps"';
    serve = (_req, res) => {
      res.writeHead(403, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', code: 403, reason: 'Forbidden', message: forbidden }));
    };
    const refused = await watchOnce();
    expect(normalizeKubeError(refused.done[0])).toEqual({
      code: 403,
      reason: 'Forbidden',
      message: forbidden,
    });
  });

  it('ends a watch that goes quiet with a TimeoutError, which ListWatch resumes at once', async () => {
    serve = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(line('ADDED', 'one'));
    };
    const outcome = await watchOnce(300);
    expect(outcome.events).toHaveLength(1);
    expect(outcome.done).toHaveLength(1);
    expect((outcome.done[0] as Error).name).toBe('TimeoutError');
    expect(outcome.controller.signal.aborted).toBe(true);
  });

  it('ends on a line that is not JSON instead of skipping an event', async () => {
    serve = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(line('ADDED', 'one') + '{"type":"MODIF\n' + line('ADDED', 'two'));
    };
    const outcome = await watchOnce();
    expect(outcome.events.map(([type]) => type)).toEqual(['ADDED']);
    expect(outcome.done).toHaveLength(1);
    expect(String(outcome.done[0])).toContain('not JSON');
  });
});
