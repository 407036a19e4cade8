import { Agent, ProxyAgent, type Dispatcher } from 'undici';
import type { Cluster, KubeConfig, TlsMaterial } from './config.ts';
import { TokenBucket, type RateLimit } from './rate-limit.ts';

/**
 * Pooled, keep-alive connections to the apiserver, one set per kubeconfig identity.
 *
 * client-node 2.x's `KubeConfig.applySecurityAuthentication` builds a new undici
 * Agent on every call, so every request (and every watch) opened its own TCP and
 * TLS connection, and the abandoned agents kept their sockets until undici's idle
 * timer closed them. Here each KubeConfig gets one set of agents per cluster/user,
 * reused by every request; it is rebuilt only when the TLS material changes (a
 * rotated client certificate or CA). Headers (bearer tokens, token files, exec
 * credentials, impersonation) are computed on every request (KubeConfig.credentials),
 * so a refreshed token is used at once on the same pooled connections.
 *
 * Requests and watches share the agent. undici negotiates HTTP/2 with the
 * apiserver (ALPN), so they multiplex as streams over one connection, as
 * client-go's do. Should a proxy in between only speak HTTP/1.1, each open watch
 * holds a socket for its lifetime: the bound leaves room for every watch Fledge
 * opens plus the reconcile workers' requests.
 */

/** What a request through the pool is: an ordinary request or a long-running watch. */
export type RequestKind = 'request' | 'watch';
export const requestKinds: readonly RequestKind[] = ['request', 'watch'];

export interface PoolTuning {
  /**
   * Sockets per apiserver origin. Default 64: HTTP/2 needs one; over HTTP/1.1 each
   * watch takes one (Fledge opens one per watched kind and namespace) plus the workers'.
   */
  connections: number;
  /**
   * Idle keep-alive time of a socket. Default 45 s: below the apiserver's 90 s idle timeout
   * and common load-balancer idle timeouts, so the client, not the server, closes idle sockets.
   */
  keepAliveTimeoutMs: number;
  /** After a credential change, old sockets may finish in-flight requests for this long, then are destroyed. Default 30 s. */
  drainMs: number;
  /** Concurrent first requests wait this long at most for the first connection to share it. Default 3 s. */
  firstConnectWaitMs: number;
}

export const defaultPoolTuning: PoolTuning = {
  connections: 64,
  keepAliveTimeoutMs: 45_000,
  drainMs: 30_000,
  firstConnectWaitMs: 3_000,
};

export interface PoolCounts {
  /** Sockets open now. */
  connections: number;
  /** Requests and watches under way now. */
  inFlight: number;
  /** Sockets ever connected (each one a TCP connect and TLS handshake). */
  opened: number;
  /** Requests and watches sent through the pool. */
  requests: Record<RequestKind, number>;
  /** Agents rebuilt because the TLS material (CA, client certificate, key) changed. */
  rebuilds: number;
  /** Connections dropped because a request timed out or a watch stalled. */
  resets: number;
}

/** Process-wide counts (apiserverPoolCounts): the pools' plus the time requests waited for the rate limit. */
export interface ProcessPoolCounts extends PoolCounts {
  rateLimitWaitSeconds: number;
}

/** The TLS side of an identity: what a connection is bound to. Headers are not part of it. */
interface TlsIdentity extends TlsMaterial {
  server: string;
  proxyUrl: string | undefined;
}

interface AgentSet {
  identity: TlsIdentity;
  agent: Dispatcher;
  /**
   * Until the agent's first connection is up, later requests wait for it (at most
   * `firstConnectWaitMs`) instead of each opening one: with HTTP/2 they then all share it.
   * Undefined once it connected (or gave up).
   */
  firstConnect: { started: boolean; ready: Promise<void> } | undefined;
}

const zero = (): Record<RequestKind, number> => ({ request: 0, watch: 0 });

/** Totals over every pool of the process, for /metrics. */
const totals = { opened: 0, requests: zero(), rebuilds: 0, resets: 0, rateLimitWaitSeconds: 0 };
const livePools = new Set<ApiserverPool>();

/**
 * The agents of one KubeConfig. Implements client-node's SecurityAuthentication,
 * so it can stand in for the KubeConfig as a Configuration's `authMethods.default`.
 */
export class ApiserverPool {
  readonly #kubeConfig: KubeConfig;
  readonly #tuning: PoolTuning;
  /** By cluster and user name. */
  readonly #sets = new Map<string, AgentSet>();
  readonly #building = new Map<string, Promise<AgentSet>>();
  /** Agents replaced after a credential change, still finishing their requests. */
  readonly #draining = new Set<Dispatcher>();
  #opened = 0;
  readonly #requests = zero();
  #rebuilds = 0;
  #resets = 0;
  #closed = false;
  /** Client-side limit on requests (watches are not limited: each is one long request). */
  #limiter: TokenBucket | undefined;

  constructor(kubeConfig: KubeConfig, tuning: Partial<PoolTuning> = {}) {
    this.#kubeConfig = kubeConfig;
    this.#tuning = { ...defaultPoolTuning, ...tuning };
    livePools.add(this);
  }

  /** Limits requests through this pool to `limit` from now on; undefined lifts the limit. */
  setRateLimit(limit: RateLimit | undefined): void {
    this.#limiter = limit === undefined ? undefined : new TokenBucket(limit);
  }

  /**
   * What one request of `kind` is sent with: fresh credential headers and the pooled
   * agent. Waits for the rate limit first (requests only).
   */
  async authenticate(
    kind: RequestKind,
    signal?: AbortSignal,
  ): Promise<{ headers: Record<string, string>; dispatcher: Dispatcher }> {
    if (this.#closed) throw new Error('the apiserver connection pool is closed');
    if (kind === 'request' && this.#limiter !== undefined) {
      totals.rateLimitWaitSeconds += (await this.#limiter.take(signal)) / 1000;
    }
    const cluster = this.#kubeConfig.getCurrentCluster();
    const { headers, tls } = await this.#kubeConfig.credentials();
    const identity: TlsIdentity = { ...tls, server: cluster?.server ?? '', proxyUrl: cluster?.proxyUrl };
    const set = await this.#agentsFor(cluster, identity);
    if (set.firstConnect) {
      if (set.firstConnect.started) await set.firstConnect.ready;
      else set.firstConnect.started = true;
    }
    this.#requests[kind]++;
    totals.requests[kind]++;
    return { headers, dispatcher: set.agent };
  }

  /** Connection counts of this pool (the agent in use and any still draining). */
  counts(): PoolCounts {
    const sockets = { connections: 0, inFlight: 0 };
    for (const set of this.#sets.values()) addSockets(sockets, set.agent);
    for (const agent of this.#draining) addSockets(sockets, agent);
    return {
      ...sockets,
      opened: this.#opened,
      requests: { ...this.#requests },
      rebuilds: this.#rebuilds,
      resets: this.#resets,
    };
  }

  /** The agent requests use now, if one was built. */
  currentAgent(): Dispatcher | undefined {
    return this.#sets.get(identityKey(this.#kubeConfig))?.agent;
  }

  /**
   * Drops every connection now: the next request connects anew. For a connection that
   * stopped answering without closing (a frozen NAT entry, a half-dead load balancer):
   * undici's HTTP/2 pings have no timeout, so nothing else would ever notice. Called when
   * a request times out and when an informer's watch stalls.
   */
  resetConnections(): void {
    const key = identityKey(this.#kubeConfig);
    const current = this.#sets.get(key);
    if (!current) return;
    this.#sets.delete(key);
    this.#resets++;
    totals.resets++;
    current.agent.destroy().catch(() => undefined);
  }

  /** Destroys every socket. Later requests fail. */
  async close(): Promise<void> {
    this.#closed = true;
    livePools.delete(this);
    const agents = [...this.#draining, ...[...this.#sets.values()].map((set) => set.agent)];
    this.#sets.clear();
    this.#draining.clear();
    await Promise.allSettled(agents.map((agent) => agent.destroy()));
  }

  async #agentsFor(cluster: Cluster | undefined, identity: TlsIdentity): Promise<AgentSet> {
    const key = identityKey(this.#kubeConfig);
    // One build at a time per identity: concurrent first requests must not each build an agent.
    const building = this.#building.get(key);
    if (building) await building.catch(() => undefined);
    const current = this.#sets.get(key);
    if (current && sameIdentity(current.identity, identity)) return current;
    const build = this.#replace(key, current, cluster, identity);
    this.#building.set(key, build);
    try {
      return await build;
    } finally {
      if (this.#building.get(key) === build) this.#building.delete(key);
    }
  }

  async #replace(
    key: string,
    current: AgentSet | undefined,
    cluster: Cluster | undefined,
    identity: TlsIdentity,
  ): Promise<AgentSet> {
    const agent = await this.#build(cluster, identity);
    const set: AgentSet = { identity, agent, firstConnect: undefined };
    const ready = new Promise<void>((resolve) => {
      const done = () => {
        set.firstConnect = undefined;
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(done, this.#tuning.firstConnectWaitMs);
      timer.unref();
      agent.once('connect', done);
      agent.once('connectionError', done);
      agent.once('disconnect', done);
    });
    set.firstConnect = { started: false, ready };
    this.#sets.set(key, set);
    if (current) {
      this.#rebuilds++;
      totals.rebuilds++;
      this.#retire(current.agent);
    }
    return set;
  }

  /** New requests go to the new agent; the old one finishes what it carries, then is destroyed. */
  #retire(agent: Dispatcher): void {
    this.#draining.add(agent);
    const destroy = () => {
      this.#draining.delete(agent);
      agent.destroy().catch(() => undefined);
    };
    if (this.#tuning.drainMs <= 0) {
      destroy();
      return;
    }
    agent.close().then(destroy, destroy);
    setTimeout(destroy, this.#tuning.drainMs).unref();
  }

  async #build(cluster: Cluster | undefined, identity: TlsIdentity): Promise<Dispatcher> {
    const tls: TlsMaterial = {};
    for (const field of ['ca', 'cert', 'key', 'rejectUnauthorized', 'servername'] as const) {
      if (identity[field] !== undefined) (tls as Record<string, unknown>)[field] = identity[field];
    }
    if (cluster?.server.startsWith('http:') && !cluster.skipTLSVerify && !cluster.proxyUrl) {
      throw new Error(
        `cluster "${cluster.name}" is plain http: set insecure-skip-tls-verify to accept an apiserver without TLS`,
      );
    }
    const poolOptions = {
      connections: this.#tuning.connections,
      keepAliveTimeout: this.#tuning.keepAliveTimeoutMs,
      keepAliveMaxTimeout: Math.max(this.#tuning.keepAliveTimeoutMs, 600_000),
    };
    // TCP keep-alive probes after 30 s, as client-go: under common load-balancer idle timeouts.
    const connect = { ...tls, keepAlive: true, keepAliveInitialDelay: 30_000 };
    let agent: Dispatcher;
    if (!identity.proxyUrl) {
      agent = new Agent({ ...poolOptions, connect });
    } else if (!identity.proxyUrl.startsWith('socks')) {
      agent = new ProxyAgent({ ...poolOptions, uri: identity.proxyUrl, requestTls: tls, connect });
    } else {
      // SOCKS: client-node's connector is private, so use its dispatcher as built, unbounded.
      const { HttpMethod, RequestContext } = await import('@kubernetes/client-node');
      const probe = new RequestContext(identity.server || 'https://localhost', HttpMethod.GET);
      await (await this.#kubeConfig.clientNode()).applySecurityAuthentication(probe);
      const built = probe.getDispatcher();
      if (!built) throw new Error(`cannot build a connection to ${identity.server}`);
      agent = built;
    }
    agent.on('connect', () => {
      this.#opened++;
      totals.opened++;
    });
    return agent;
  }
}

function addSockets(into: { connections: number; inFlight: number }, agent: Dispatcher): void {
  const stats = (agent as Partial<Pick<Agent, 'stats'>>).stats;
  if (!stats) return;
  for (const origin of Object.values(stats)) {
    const { connected, running } = origin as { connected: number; running: number };
    into.connections += connected;
    into.inFlight += running;
  }
}

function identityKey(kubeConfig: KubeConfig): string {
  return JSON.stringify([
    kubeConfig.getCurrentCluster()?.name ?? '',
    kubeConfig.getCurrentUser()?.name ?? '',
  ]);
}

function sameIdentity(a: TlsIdentity, b: TlsIdentity): boolean {
  return (
    a.server === b.server &&
    a.proxyUrl === b.proxyUrl &&
    a.rejectUnauthorized === b.rejectUnauthorized &&
    a.servername === b.servername &&
    sameMaterial(a.ca, b.ca) &&
    sameMaterial(a.cert, b.cert) &&
    sameMaterial(a.key, b.key)
  );
}

/** Buffers and strings (exec credentials give PEM strings) compared by content. */
function sameMaterial(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a === null || b === null) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((item, index) => sameMaterial(item, b[index]));
  }
  const bytes = (value: unknown) =>
    Buffer.isBuffer(value) ? value : typeof value === 'string' ? Buffer.from(value) : undefined;
  const left = bytes(a);
  const right = bytes(b);
  return left !== undefined && right !== undefined && left.equals(right);
}

const pools = new WeakMap<KubeConfig, ApiserverPool>();

/** The pool of `kubeConfig`: one per KubeConfig object, created on first use. */
export function apiserverPool(kubeConfig: KubeConfig): ApiserverPool {
  let pool = pools.get(kubeConfig);
  if (!pool) {
    pool = new ApiserverPool(kubeConfig);
    pools.set(kubeConfig, pool);
  }
  return pool;
}

/** Counts summed over every open pool of the process (counters over every pool ever opened). */
export function apiserverPoolCounts(): ProcessPoolCounts {
  let connections = 0;
  let inFlight = 0;
  for (const pool of livePools) {
    const counts = pool.counts();
    connections += counts.connections;
    inFlight += counts.inFlight;
  }
  return {
    connections,
    inFlight,
    opened: totals.opened,
    requests: { ...totals.requests },
    rebuilds: totals.rebuilds,
    resets: totals.resets,
    rateLimitWaitSeconds: totals.rateLimitWaitSeconds,
  };
}
