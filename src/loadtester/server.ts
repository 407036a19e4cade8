import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Counter } from 'prom-client';
import type { Logger } from '../telemetry/logger.ts';
import { parseListenAddress } from '../telemetry/server.ts';
import type { CanaryRef, GateKind, GateStore } from './gates.ts';
import type { TaskRequest, TaskRunner } from './tasks.ts';

export interface LoadTesterServerOptions {
  listenAddress: string;
  runner: TaskRunner;
  gates: GateStore;
  log: Logger;
  /** Gate answers by gate, action and HTTP status. */
  gateRequests: Counter<'gate' | 'action' | 'code'>;
}

export interface LoadTesterServer {
  url: string;
  close(): Promise<void>;
}

const maxBody = 1024 * 1024;

/**
 * Flagger's load tester webhook API: `POST /` runs `metadata.cmd`; `/gate/*` and `/rollback/*`
 * answer confirm and rollback hooks. A check answers 200 when the gate is open and 403 when
 * it is closed; open and close answer 202. A gate that cannot be read answers 500, which a
 * hook counts as a failure: nothing is approved by accident.
 */
export async function startLoadTesterServer(options: LoadTesterServerOptions): Promise<LoadTesterServer> {
  const { host, port } = parseListenAddress(options.listenAddress);
  const server: Server = createServer((req, res) => {
    handle(options, req, res).catch((err: unknown) => {
      options.log.error({ err, path: req.url }, 'load tester request failed');
      reply(res, 500, `${err instanceof Error ? err.message : String(err)}\n`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const bound = server.address() as AddressInfo;
  return {
    url: `http://${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

function reply(res: ServerResponse, status: number, body: string): void {
  if (res.headersSent) return void res.end();
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(body);
}

async function handle(options: LoadTesterServerOptions, req: IncomingMessage, res: ServerResponse) {
  const path = new URL(req.url ?? '/', 'http://loadtester').pathname;
  if (req.method !== 'POST') return reply(res, 405, 'the load tester answers POST with a webhook payload\n');
  const route = /^\/(gate|rollback)\/(approve|halt|check|open|close)$/.exec(path);
  if (path !== '/' && !route) return reply(res, 404, `no endpoint ${path}\n`);
  let payload: TaskRequest;
  try {
    payload = parsePayload(await readBody(req));
  } catch (err) {
    return reply(res, 400, `${(err as Error).message}\n`);
  }
  if (path === '/') {
    const answer = await options.runner.run(payload);
    return reply(res, answer.status, answer.body);
  }
  const [, gate, action] = route as unknown as [string, GateKind, string];
  const answer = await gateAnswer(options.gates, gate, action, payload);
  options.gateRequests.inc({ gate, action, code: String(answer.status) });
  options.log.info(
    { canary: `${payload.namespace}/${payload.name}`, gate, action, code: answer.status },
    'gate',
  );
  return reply(res, answer.status, answer.body);
}

async function gateAnswer(
  gates: GateStore,
  gate: GateKind,
  action: string,
  canary: CanaryRef,
): Promise<{ status: number; body: string }> {
  // Flagger has approve and halt for the promotion gate only; the same answers suit both.
  switch (action) {
    case 'approve':
      return { status: 200, body: 'approved\n' };
    case 'halt':
      return { status: 403, body: 'halted\n' };
    case 'check':
      return (await gates.isOpen(gate, canary))
        ? { status: 200, body: `${gate} open\n` }
        : { status: 403, body: `${gate} closed\n` };
    default: {
      const open = action === 'open';
      await gates.set(gate, canary, open);
      return { status: 202, body: `${gate} ${open ? 'opened' : 'closed'}\n` };
    }
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBody) throw new Error(`payload larger than ${maxBody} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The fields the load tester reads: the Canary's name and namespace and the hook's metadata. */
export function parsePayload(text: string): TaskRequest {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error('payload is not JSON: expected a webhook payload with name, namespace and metadata');
  }
  const { name, namespace, metadata } = (body ?? {}) as Record<string, unknown>;
  if (typeof name !== 'string' || !name || typeof namespace !== 'string' || !namespace) {
    throw new Error('payload needs the Canary "name" and "namespace"');
  }
  if (metadata !== undefined && (typeof metadata !== 'object' || metadata === null)) {
    throw new Error('payload "metadata" must be an object of strings');
  }
  const strings = Object.entries((metadata ?? {}) as Record<string, unknown>).filter(
    (entry): entry is [string, string] => typeof entry[1] === 'string',
  );
  return { name, namespace, metadata: Object.fromEntries(strings) };
}
