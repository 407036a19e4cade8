import {
  createServer as createHttpServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import type { Clock, TimerHandle } from '../../../src/runtime/clock.ts';

export interface Received {
  method: string;
  /** Path and query as sent. */
  url: string;
  headers: IncomingHttpHeaders;
  body: unknown;
  /** Remote port of the client socket: equal ports mean a reused connection. */
  clientPort: number;
}

/** What the receiver does with a request: answer it, or never answer (to exercise timeouts). */
export type Reply = { status: number; body?: string; headers?: Record<string, string> } | 'hang';

export interface Receiver {
  /** Base URL, e.g. http://127.0.0.1:40123 */
  url: string;
  port: number;
  received: Received[];
  /** Resolves once `count` requests have arrived. */
  waitFor(count: number): Promise<void>;
  close(): Promise<void>;
}

export interface ReceiverOptions {
  /** Serve HTTPS with this certificate instead of HTTP. */
  tls?: { key: string; cert: string };
  /** Listen on this port (to bring up an endpoint that refused connections before). */
  port?: number;
}

/** A loopback webhook endpoint; `reply` decides each answer from the request and its index. */
export async function startReceiver(
  reply: (request: Received, index: number) => Reply,
  options: ReceiverOptions = {},
): Promise<Receiver> {
  const received: Received[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const request: Received = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: raw === '' ? undefined : JSON.parse(raw),
        clientPort: req.socket.remotePort ?? -1,
      };
      received.push(request);
      for (const waiter of waiters.filter((w) => received.length >= w.count)) waiter.resolve();
      const answer = reply(request, received.length - 1);
      if (answer === 'hang') return;
      res.writeHead(answer.status, answer.headers);
      res.end(answer.body ?? '');
    });
  };
  const server: Server = options.tls ? createHttpsServer(options.tls, handler) : createHttpServer(handler);
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    port,
    received,
    waitFor: (count) =>
      received.length >= count
        ? Promise.resolve()
        : new Promise((resolve) => waiters.push({ count, resolve })),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

/** A loopback port where nothing listens (connections are refused) until something is started on it. */
export async function freePort(): Promise<number> {
  const receiver = await startReceiver(() => ({ status: 200 }));
  await receiver.close();
  return receiver.port;
}

/** A pino logger writing into memory, without redaction of its own: what the code logs is what we see. */
export function capturedLogger(): { logger: Logger; output: () => string } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(chunk.toString('utf8'));
      callback();
    },
  });
  return { logger: pino({ level: 'trace' }, stream), output: () => lines.join('') };
}

/**
 * Real time for `now()`, but pauses end at once: retries run without waiting, and the pauses asked
 * for are recorded. `onPause` runs before a pause ends (e.g. to bring an endpoint up).
 */
export class InstantPauseClock implements Clock {
  readonly pauses: number[] = [];
  onPause: (() => Promise<void>) | undefined;

  now(): number {
    return Date.now();
  }

  setTimer(callback: () => void, delayMs: number): TimerHandle {
    this.pauses.push(delayMs);
    let cancelled = false;
    const hook = this.onPause;
    void (hook ? hook() : Promise.resolve()).then(() => {
      if (!cancelled) callback();
    });
    return { cancel: () => (cancelled = true) };
  }
}
