import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from './logger.ts';

export interface CheckResult {
  ok: boolean;
  detail: string;
}

/** One line of /healthz or /readyz. */
export interface HealthCheck {
  name: string;
  check(): CheckResult;
}

export interface TelemetryServerOptions {
  /** "host:port", ":port" (all interfaces) or "[::1]:port"; port 0 picks a free one. */
  listenAddress: string;
  registry: Registry;
  /** /healthz: is the process working at all (informers not stalled)? */
  liveness: readonly HealthCheck[];
  /** /readyz: synced and, with leader election, leading or standing by healthily. */
  readiness: readonly HealthCheck[];
  log?: Logger;
}

export interface TelemetryServer {
  /** e.g. http://127.0.0.1:8080 */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export function parseListenAddress(address: string): { host: string; port: number } {
  const separator = address.lastIndexOf(':');
  if (separator < 0) {
    throw new Error(`listen address "${address}" needs a port: use "host:port" or ":port"`);
  }
  let host = address.slice(0, separator);
  const portText = address.slice(separator + 1);
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) {
    throw new Error(`listen address "${address}": port "${portText}" is not a number from 0 to 65535`);
  }
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  return { host: host || '0.0.0.0', port };
}

/** Serves /metrics, /healthz and /readyz; plain HTTP, meant for the pod network and the kubelet. */
export async function startTelemetryServer(options: TelemetryServerOptions): Promise<TelemetryServer> {
  const { host, port } = parseListenAddress(options.listenAddress);
  const server = createServer((request, response) => {
    handle(options, request, response).catch((error: unknown) => {
      options.log?.error({ err: error, path: request.url }, 'telemetry request failed');
      if (!response.headersSent) response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      response.end('internal error\n');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  const urlHost = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
  return {
    url: `http://${urlHost}:${bound.port}`,
    port: bound.port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Scrapers keep connections alive; without this close() would wait for them.
        server.closeAllConnections();
      }),
  };
}

async function handle(
  options: TelemetryServerOptions,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' });
    response.end('method not allowed\n');
    return;
  }
  const path = new URL(request.url ?? '/', 'http://localhost').pathname;
  switch (path) {
    case '/metrics': {
      const body = await options.registry.metrics();
      response.writeHead(200, { 'content-type': options.registry.contentType });
      response.end(request.method === 'HEAD' ? undefined : body);
      return;
    }
    case '/healthz':
      return respondWithChecks(request, response, options.liveness);
    case '/readyz':
      return respondWithChecks(request, response, options.readiness);
    default:
      response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      response.end('not found\n');
  }
}

/** 200 when every check passes, else 503; the body lists each check, kube-apiserver style. */
function respondWithChecks(
  request: IncomingMessage,
  response: ServerResponse,
  checks: readonly HealthCheck[],
): void {
  const lines: string[] = [];
  let healthy = true;
  for (const check of checks) {
    let result: CheckResult;
    try {
      result = check.check();
    } catch (error) {
      result = {
        ok: false,
        detail: `check threw: ${error instanceof Error ? error.message : String(error)}`,
      };
    }
    healthy &&= result.ok;
    lines.push(`[${result.ok ? '+' : '-'}]${check.name} ${result.ok ? 'ok' : `failed: ${result.detail}`}`);
  }
  lines.push(healthy ? 'ok' : 'failed');
  response.writeHead(healthy ? 200 : 503, { 'content-type': 'text/plain; charset=utf-8' });
  response.end(request.method === 'HEAD' ? undefined : `${lines.join('\n')}\n`);
}

/** What the health checks need from an informer (SupervisedInformer fits). */
export interface InformerHealthSource {
  readonly resource: string;
  health(): { started: boolean; synced: boolean; stalled: boolean };
}

/** What the readiness check needs from leader election (LeaderElector fits). */
export interface ElectionHealthSource {
  readonly state: string;
  isHealthy(): boolean;
}

/** Liveness: an informer that stopped getting anything from the apiserver for two stall periods. */
export function informerLiveness(informer: InformerHealthSource): HealthCheck {
  return {
    name: `informer-${informer.resource}`,
    check: () => {
      const health = informer.health();
      if (!health.started) return { ok: false, detail: 'not running' };
      if (health.stalled) return { ok: false, detail: 'stalled: no list, watch or event from the apiserver' };
      return { ok: true, detail: '' };
    },
  };
}

export function informerReadiness(informer: InformerHealthSource): HealthCheck {
  return {
    name: `informer-${informer.resource}-synced`,
    check: () =>
      informer.health().synced ? { ok: true, detail: '' } : { ok: false, detail: 'cache not synced yet' },
  };
}

/** Readiness: the leader holds its lease, or a standby can read it. */
export function leaderElectionReadiness(elector: ElectionHealthSource): HealthCheck {
  return {
    name: 'leader-election',
    check: () =>
      elector.isHealthy()
        ? { ok: true, detail: '' }
        : { ok: false, detail: `${elector.state}: cannot hold or read the lease` },
  };
}
