// Reconcile-shaped apiserver traffic (GET + merge patch of one object) against a real
// apiserver, once the way client-node sends it by default and once through Fledge's
// pooled agent. Runs only with FLEDGE_KUBECONFIG (e.g. `. .sandbox/env`).
import dc from 'node:diagnostics_channel';
import { readdirSync, readlinkSync } from 'node:fs';
import {
  HttpMethod,
  KubeConfig as ClientNodeKubeConfig,
  ServerConfiguration,
  createConfiguration,
} from '@kubernetes/client-node';
import { apiserverPool } from '../src/kube/agent.ts';
import { KubeObjectClient, loadKubeConfig } from '../src/kube/client.ts';
import type { KubeConfig } from '../src/kube/config.ts';
import { PatchStrategy } from '../src/kube/patch.ts';

interface Sample {
  name: string;
  requests: number;
  elapsedMs: number;
  cpuMs: number;
  connections: number;
  socketsAfter: number;
}

type Send = (method: 'GET' | 'PATCH', path: string, body?: unknown) => Promise<void>;

let connected = 0;
dc.subscribe('undici:client:connected', () => void connected++);

/** Sockets this process holds open now (Linux only; -1 elsewhere). */
function openSockets(): number {
  try {
    return readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`).startsWith('socket:');
      } catch {
        return false;
      }
    }).length;
  } catch {
    return -1;
  }
}

/** What KubeObjectClient.request did before the pool: client-node's applySecurityAuthentication per request. */
function perRequestAgent(kubeConfig: ClientNodeKubeConfig): Send {
  const configuration = createConfiguration({
    baseServer: new ServerConfiguration(kubeConfig.getCurrentCluster()!.server, {}),
  });
  return async (method, path, body) => {
    const context = configuration.baseServer.makeRequestContext(path, HttpMethod[method]);
    context.setHeaderParam('Accept', 'application/json');
    if (body !== undefined) {
      context.setHeaderParam('Content-Type', PatchStrategy.MergePatch);
      context.setBody(JSON.stringify(body));
    }
    await kubeConfig.applySecurityAuthentication(context);
    const response = await configuration.httpApi.send(context).toPromise();
    await response.body.text();
    if (response.httpStatusCode >= 300) throw new Error(`${method} ${path}: ${response.httpStatusCode}`);
  };
}

function pooled(kubeConfig: KubeConfig): Send {
  const client = new KubeObjectClient(kubeConfig);
  return async (method, path, body) => {
    await client.request(method, path, body, body === undefined ? undefined : PatchStrategy.MergePatch, {});
  };
}

async function run(name: string, send: Send, path: string, rounds: number, workers: number): Promise<Sample> {
  const connectedBefore = connected; // the warm-up's connection counts too
  await send('GET', path); // warm up: discovery, module code, first connection
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (next < rounds) {
        const round = next++;
        await send('GET', path);
        await send('PATCH', path, { data: { round: String(round) } });
      }
    }),
  );
  const elapsedMs = performance.now() - start;
  const cpu = process.cpuUsage(cpuBefore);
  return {
    name,
    requests: rounds * 2,
    elapsedMs,
    cpuMs: (cpu.user + cpu.system) / 1000,
    connections: connected - connectedBefore,
    socketsAfter: openSockets(),
  };
}

function print(sample: Sample): void {
  const perSecond = Math.round((sample.requests / sample.elapsedMs) * 1000);
  const cpuPerRequest = ((sample.cpuMs * 1000) / sample.requests).toFixed(0);
  process.stdout.write(
    `${sample.name.padEnd(62)} ${perSecond.toLocaleString('en').padStart(12)} req/s, ` +
      `${String(sample.connections).padStart(4)} connections opened, ` +
      `CPU ${sample.cpuMs.toFixed(0)} ms (${cpuPerRequest} µs/request), ` +
      `${sample.socketsAfter} sockets open after\n`,
  );
}

export async function benchApiserver(rounds: number): Promise<void> {
  const kubeconfigPath = process.env.FLEDGE_KUBECONFIG;
  if (!kubeconfigPath) {
    process.stdout.write('apiserver: skipped (set FLEDGE_KUBECONFIG, e.g. `. .sandbox/env`)\n');
    return;
  }
  const setup = loadKubeConfig({ kubeconfigPath });
  const objects = new KubeObjectClient(setup);
  const name = `fledge-bench-${process.pid}`;
  const ref = { apiVersion: 'v1', kind: 'ConfigMap', namespace: 'default', name };
  await objects.create({ ...ref, metadata: { namespace: 'default', name }, data: { round: '' } });
  const path = await objects.objectPath(ref);
  try {
    for (const workers of [1, 4]) {
      const label = `${rounds} x GET+patch, ${workers} worker${workers > 1 ? 's' : ''}`;
      // A fresh kubeconfig each, so neither inherits the other's connections.
      const before = new ClientNodeKubeConfig();
      before.loadFromFile(kubeconfigPath);
      print(
        await run(`apiserver: ${label}, per-request agent`, perRequestAgent(before), path, rounds, workers),
      );
      // Let the abandoned agents' idle sockets close (undici: 4 s) before the next case.
      await new Promise((resolve) => setTimeout(resolve, 5_000));
      const after = loadKubeConfig({ kubeconfigPath });
      print(await run(`apiserver: ${label}, pooled agent`, pooled(after), path, rounds, workers));
      await apiserverPool(after).close();
    }
  } finally {
    await objects.delete(ref);
    await apiserverPool(setup).close();
  }
}
