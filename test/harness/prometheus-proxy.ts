import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A loopback HTTP proxy in front of the real Prometheus: counts the queries it forwards, can demand a token. */
export interface PrometheusProxy {
  url: string;
  /** Every instant query forwarded, in arrival order. */
  readonly queries: { query: string; at: number }[];
  /** Requests refused for a missing or wrong bearer token. */
  unauthorized: number;
  close(): Promise<void>;
}

export async function startPrometheusProxy(
  target: string,
  options: { token?: string } = {},
): Promise<PrometheusProxy> {
  const server: Server = createServer((req, res) => {
    if (options.token !== undefined && req.headers.authorization !== `Bearer ${options.token}`) {
      proxy.unauthorized += 1;
      res.writeHead(401, { 'content-type': 'text/plain' });
      res.end('unauthorized\n');
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const url = new URL(req.url ?? '/', 'http://proxy');
      if (url.pathname.endsWith('/api/v1/query')) {
        const form = new URLSearchParams(req.method === 'POST' ? body.toString('utf8') : url.search);
        proxy.queries.push({ query: form.get('query') ?? '', at: Date.now() });
      }
      void fetch(`${target}${req.url ?? '/'}`, {
        method: req.method ?? 'GET',
        headers: { 'content-type': String(req.headers['content-type'] ?? 'text/plain') },
        ...(req.method === 'GET' || req.method === 'HEAD' ? {} : { body }),
      })
        .then(async (upstream) => {
          res.writeHead(upstream.status, {
            'content-type': upstream.headers.get('content-type') ?? 'text/plain',
          });
          res.end(await upstream.text());
        })
        .catch(() => req.socket.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const proxy: PrometheusProxy = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    queries: [],
    unauthorized: 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return proxy;
}
