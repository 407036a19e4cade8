import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HookCall {
  /** Path and query as requested. */
  url: string;
  body: { name?: string; namespace?: string; phase?: string; checksum?: string; [key: string]: unknown };
  /** The Idempotency-Key header: Fledge's request id of the call. */
  key?: string;
  at: number;
}

export interface HookAnswer {
  status: number;
  body?: string;
  /** Answer only after this long. */
  delayMs?: number;
  headers?: Record<string, string>;
}

export interface HookServer {
  /** http://127.0.0.1:<port> */
  readonly base: string;
  readonly calls: HookCall[];
  /** Decides the answer of every later call. */
  answerWith(answer: (call: HookCall) => HookAnswer): void;
  close(): Promise<void>;
}

/** A loopback webhook receiver the operator process can reach; answers 200 until told otherwise. */
export async function startHookServer(): Promise<HookServer> {
  const calls: HookCall[] = [];
  let answer: (call: HookCall) => HookAnswer = () => ({ status: 200, body: 'ok' });
  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const key = request.headers['idempotency-key'];
    const call: HookCall = {
      url: request.url ?? '',
      body: text ? JSON.parse(text) : {},
      ...(typeof key === 'string' ? { key } : {}),
      at: Date.now(),
    };
    calls.push(call);
    const { status, body, delayMs, headers } = answer(call);
    if (delayMs !== undefined) await new Promise((resume) => setTimeout(resume, delayMs));
    // A caller that gave up has closed the connection; there is no one to answer.
    if (response.destroyed) return;
    response.writeHead(status, { 'content-type': 'text/plain', ...headers }).end(body ?? '');
  };
  const server = createServer((request, response) => {
    handle(request, response).catch(() => response.writeHead(500).end('hook server error'));
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    calls,
    answerWith(next) {
      answer = next;
    },
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

/**
 * Request ids (Idempotency-Keys) called more than once that no restart explains: a repeat is
 * allowed only for a tick whose result a kill kept from being recorded, so its calls straddle
 * one of `kills` (the times the operator was killed). Returns `<key> xN` for each.
 */
export function unexplainedRepeats(calls: readonly HookCall[], kills: readonly number[] = []): string[] {
  const byKey = new Map<string, HookCall[]>();
  for (const call of calls) {
    const key = call.key ?? `missing key: ${call.url}`;
    byKey.set(key, [...(byKey.get(key) ?? []), call]);
  }
  return [...byKey]
    .filter(([, same]) => {
      if (same.length < 2) return false;
      const first = same[0]!.at;
      const last = same.at(-1)!.at;
      return same.length - 1 > kills.filter((at) => first < at && at < last).length;
    })
    .map(([key, same]) => `${key} x${same.length}`);
}
