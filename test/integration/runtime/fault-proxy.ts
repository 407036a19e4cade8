import { readFileSync } from 'node:fs';
import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { dump, load } from 'js-yaml';
import { KubeConfig } from '../../../src/kube/config.ts';

/**
 * forward: pass bytes both ways.
 * refuse: drop every connection and reset new ones (API unreachable).
 * blackhole: keep connections open but pass nothing (API hangs).
 */
export type ProxyMode = 'forward' | 'refuse' | 'blackhole';

interface Pair {
  client: Socket;
  upstream: Socket | undefined;
}

/**
 * A TCP proxy in front of the real apiserver, so a test can cut or freeze one
 * client's connection while the cluster itself keeps running. TLS passes through
 * untouched, so the apiserver certificate for 127.0.0.1 still verifies.
 */
export class FaultProxy {
  #mode: ProxyMode = 'forward';
  #accepted = 0;
  readonly #pairs = new Set<Pair>();
  readonly #server: Server;
  readonly #target: { host: string; port: number };

  private constructor(target: { host: string; port: number }) {
    this.#target = target;
    this.#server = createServer((client) => this.#accept(client));
  }

  static async start(apiserverUrl: string): Promise<FaultProxy> {
    const url = new URL(apiserverUrl);
    const proxy = new FaultProxy({ host: url.hostname, port: Number(url.port || 443) });
    await new Promise<void>((resolve) => proxy.#server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  /** TCP connections accepted so far (each one a new connection from the client). */
  get accepted(): number {
    return this.#accepted;
  }

  /** Connections open through the proxy now. */
  get open(): number {
    return this.#pairs.size;
  }

  setMode(mode: ProxyMode): void {
    this.#mode = mode;
    if (mode === 'forward') return;
    for (const pair of [...this.#pairs]) {
      if (mode === 'refuse') this.#drop(pair);
      else this.#freeze(pair);
    }
  }

  /** A copy of `kubeConfig` whose current cluster is reached through this proxy. */
  kubeConfigThrough(kubeConfig: KubeConfig): KubeConfig {
    const current = kubeConfig.getCurrentCluster();
    if (!current) throw new Error('kubeconfig has no current cluster');
    const server = new URL(current.server);
    server.port = String(this.port);
    const proxied = new KubeConfig();
    proxied.loadFromOptions({
      clusters: kubeConfig.clusters.map((cluster) =>
        cluster.name === current.name
          ? { ...cluster, server: server.toString().replace(/\/$/, '') }
          : cluster,
      ),
      users: kubeConfig.users,
      contexts: kubeConfig.contexts,
      currentContext: kubeConfig.currentContext,
    });
    return proxied;
  }

  /** The text of a kubeconfig file whose servers point at this proxy, as a process reads it. */
  kubeconfigFileThrough(path: string): string {
    const document = load(readFileSync(path, 'utf8')) as { clusters?: { cluster: { server: string } }[] };
    for (const { cluster } of document.clusters ?? []) {
      const server = new URL(cluster.server);
      server.port = String(this.port);
      cluster.server = server.toString().replace(/\/$/, '');
    }
    return dump(document);
  }

  async close(): Promise<void> {
    for (const pair of [...this.#pairs]) this.#drop(pair);
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    this.#accepted++;
    const pair: Pair = { client, upstream: undefined };
    this.#pairs.add(pair);
    client.on('error', () => this.#drop(pair));
    client.on('close', () => this.#drop(pair));
    if (this.#mode === 'refuse') {
      this.#drop(pair);
      return;
    }
    if (this.#mode === 'blackhole') {
      client.pause();
      return;
    }
    const upstream = createConnection(this.#target);
    pair.upstream = upstream;
    upstream.on('error', () => this.#drop(pair));
    upstream.on('close', () => this.#drop(pair));
    client.pipe(upstream);
    upstream.pipe(client);
  }

  #freeze(pair: Pair): void {
    pair.client.unpipe();
    pair.upstream?.unpipe();
    pair.client.pause();
    pair.upstream?.pause();
  }

  #drop(pair: Pair): void {
    this.#pairs.delete(pair);
    pair.client.destroy();
    pair.upstream?.destroy();
  }
}
