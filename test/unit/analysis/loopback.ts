import http, { type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { ProviderError } from '../../../src/analysis/provider.ts';

// Small loopback HTTP servers for the analysis tests: a scripted fake
// endpoint, and a forwarding proxy that can delay or demand credentials in
// front of a real Prometheus.

export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export interface Loopback {
  readonly url: string;
  readonly requests: RecordedRequest[];
  close(): Promise<void>;
}

export type Handler = (req: RecordedRequest, res: ServerResponse) => void | Promise<void>;

export async function startServer(handler: Handler, tls?: { key: string; cert: string }): Promise<Loopback> {
  const requests: RecordedRequest[] = [];
  const listener = (req: http.IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const recorded = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(recorded);
      Promise.resolve(handler(recorded, res)).catch((err: unknown) => {
        res.statusCode = 599;
        res.end(String(err));
      });
    });
  };
  const server = tls ? https.createServer(tls, listener) : http.createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The ProviderError a query rejected with; fails the test when it resolved. */
export async function providerFailure(promise: Promise<unknown>): Promise<ProviderError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof ProviderError) return err;
    throw err;
  }
  throw new Error('expected a ProviderError');
}

/** Answers with a JSON body. */
export function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/** A Prometheus-style successful instant-query answer. */
export function vector(...samples: { labels?: Record<string, string>; value: string }[]) {
  return {
    status: 'success',
    data: {
      resultType: 'vector',
      result: samples.map((s) => ({ metric: s.labels ?? {}, value: [1700000000.123, s.value] })),
    },
  };
}

/**
 * Forwards every request to `target`, after `delayMs`, and only when
 * `authorized` accepts its headers (otherwise 401).
 */
export function startProxy(
  target: string,
  options: { delayMs?: number; authorized?: (headers: IncomingHttpHeaders) => boolean } = {},
): Promise<Loopback> {
  return startServer(async (req, res) => {
    if (options.authorized && !options.authorized(req.headers)) {
      res.writeHead(401, { 'www-authenticate': 'Bearer' });
      res.end('unauthorized\n');
      return;
    }
    if (options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs));
    const upstream = await fetch(`${target}${req.url}`, {
      method: req.method,
      headers: { 'content-type': String(req.headers['content-type'] ?? 'text/plain') },
      ...(req.method === 'GET' || req.method === 'HEAD' ? {} : { body: req.body }),
    });
    res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'text/plain' });
    res.end(await upstream.text());
  });
}
