import { readFileSync, statSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import { load } from 'js-yaml';
import { isRecord } from './errors.ts';

/** A YAML mapping (not a list, not a scalar). */
const isMapping = (value: unknown): value is Record<string, unknown> =>
  isRecord(value) && !Array.isArray(value);

// Fledge's own kubeconfig: the clusters, users and contexts of a file (or the pod's service
// account) and the credentials of the current context, computed per request.
//
// client-node's KubeConfig does the same, but importing it loads the package's whole generated
// API (some 70 MiB of resident memory, more than Fledge's caches of 100 Canaries). So Fledge
// reads tokens, token files, client certificates and basic auth itself, and hands only what it
// does not run itself (exec credential plugins, auth-provider plugins, SOCKS proxies) to
// client-node, loaded on first use. The field names are client-node's, so such a config goes
// to it as it is.

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface Cluster {
  readonly name: string;
  readonly server: string;
  readonly caData?: string;
  readonly caFile?: string;
  readonly skipTLSVerify?: boolean;
  readonly tlsServerName?: string;
  readonly proxyUrl?: string;
}

export interface User {
  readonly name: string;
  readonly token?: string;
  /** Read again whenever the file changes (a projected service-account token is rotated in place). */
  readonly tokenFile?: string;
  readonly certData?: string;
  readonly certFile?: string;
  readonly keyData?: string;
  readonly keyFile?: string;
  readonly username?: string;
  readonly password?: string;
  readonly impersonateUser?: string;
  /** Run by client-node. */
  readonly exec?: unknown;
  /** Run by client-node. */
  readonly authProvider?: unknown;
}

export interface Context {
  readonly name: string;
  readonly cluster: string;
  readonly user: string;
  readonly namespace?: string;
}

export interface ConfigOptions {
  clusters: Cluster[];
  users: User[];
  contexts: Context[];
  currentContext: string;
}

/** What one request is sent with. */
export interface Credentials {
  headers: Record<string, string>;
  tls: TlsMaterial;
}

/** Connection-level identity: a change means new connections. */
export interface TlsMaterial {
  ca?: Buffer | string;
  cert?: Buffer | string;
  key?: Buffer | string;
  rejectUnauthorized?: boolean;
  servername?: string;
}

/** The part of client-node's KubeConfig used for what only it runs. */
export interface ClientNodeKubeConfig {
  loadFromOptions(options: unknown): void;
  setCurrentContext(name: string): void;
  /** Sets headers and a dispatcher (for a SOCKS proxy, one only client-node can build). */
  applySecurityAuthentication(context: unknown): Promise<void>;
  applyToHTTPSOptions(options: {
    headers?: Record<string, unknown>;
    ca?: unknown;
    cert?: unknown;
    key?: unknown;
    auth?: string;
  }): Promise<void>;
}

export class KubeConfig {
  clusters: Cluster[] = [];
  users: User[] = [];
  contexts: Context[] = [];
  currentContext = '';
  /** client-node's KubeConfig over the same options, for plugins; built on first need. */
  #plugins: Promise<ClientNodeKubeConfig> | undefined;

  /** Clusters, users and contexts as given (client-node's shape). */
  static fromOptions(options: ConfigOptions): KubeConfig {
    const config = new KubeConfig();
    config.loadFromOptions(options);
    return config;
  }

  /** Replaces what this config holds (client-node's method of the same name). */
  loadFromOptions(options: ConfigOptions): void {
    this.clusters = options.clusters.map((cluster) => ({
      ...cluster,
      server: cluster.server.replace(/\/+$/, ''),
    }));
    this.users = options.users;
    this.contexts = options.contexts;
    this.currentContext = options.currentContext;
    this.#plugins = undefined;
  }

  /** A kubeconfig file; relative file names in it are relative to its directory, as kubectl reads them. */
  static fromFile(path: string): KubeConfig {
    return KubeConfig.fromYaml(readFileSync(path, 'utf8'), dirname(path), path);
  }

  static fromYaml(text: string, directory = process.cwd(), source = 'kubeconfig'): KubeConfig {
    const document = load(text);
    if (!isMapping(document)) throw new Error(`${source} is not a kubeconfig (no mapping at the top)`);
    const absolute = (file: unknown) =>
      typeof file === 'string' && file !== '' ? (isAbsolute(file) ? file : join(directory, file)) : undefined;
    const entries = (field: string): Record<string, unknown>[] => {
      const list = document[field] ?? [];
      if (!Array.isArray(list)) throw new Error(`${source}: ${field} is not a list`);
      return list.map((entry, index) => {
        if (!isMapping(entry) || typeof entry.name !== 'string' || entry.name === '') {
          throw new Error(`${source}: ${field}[${index}] has no name`);
        }
        return entry;
      });
    };
    const section = (entry: Record<string, unknown>, field: string) =>
      isMapping(entry[field]) ? (entry[field] as Record<string, unknown>) : {};
    const clusters = entries('clusters').map((entry, index): Cluster => {
      const cluster = section(entry, 'cluster');
      if (typeof cluster.server !== 'string' || cluster.server === '') {
        throw new Error(`${source}: clusters[${index}].cluster.server is missing`);
      }
      return compact({
        name: entry.name as string,
        server: cluster.server,
        caData: nonEmpty(cluster['certificate-authority-data']),
        caFile: absolute(cluster['certificate-authority']),
        skipTLSVerify: cluster['insecure-skip-tls-verify'] === true,
        tlsServerName: nonEmpty(cluster['tls-server-name']),
        proxyUrl: nonEmpty(cluster['proxy-url']),
      });
    });
    const users = entries('users').map((entry): User => {
      const user = section(entry, 'user');
      return compact({
        name: entry.name as string,
        token: nonEmpty(user.token),
        tokenFile: absolute(user.tokenFile ?? user['token-file']),
        certData: nonEmpty(user['client-certificate-data']),
        certFile: absolute(user['client-certificate']),
        keyData: nonEmpty(user['client-key-data']),
        keyFile: absolute(user['client-key']),
        username: nonEmpty(user.username),
        password: nonEmpty(user.password),
        impersonateUser: nonEmpty(user.as),
        exec: user.exec ?? undefined,
        authProvider: user['auth-provider'] ?? undefined,
      });
    });
    const contexts = entries('contexts').map((entry, index): Context => {
      const context = section(entry, 'context');
      if (typeof context.cluster !== 'string' || context.cluster === '') {
        throw new Error(`${source}: contexts[${index}].context.cluster is missing`);
      }
      return compact({
        name: entry.name as string,
        cluster: context.cluster,
        user: nonEmpty(context.user) ?? '',
        namespace: nonEmpty(context.namespace),
      });
    });
    return KubeConfig.fromOptions({
      clusters,
      users,
      contexts,
      currentContext: nonEmpty(document['current-context']) ?? '',
    });
  }

  /**
   * The files of a KUBECONFIG-style list, merged as kubectl merges them: the first file to name a
   * cluster, user or context (or to set current-context) wins.
   */
  static fromFiles(paths: string): KubeConfig {
    const merged = new KubeConfig();
    for (const path of paths.split(delimiter).filter((file) => file !== '')) {
      const config = KubeConfig.fromFile(path);
      const add = <T extends { name: string }>(into: T[], from: T[]) => {
        for (const entry of from) if (!into.some((known) => known.name === entry.name)) into.push(entry);
      };
      add(merged.clusters, config.clusters);
      add(merged.users, config.users);
      add(merged.contexts, config.contexts);
      merged.currentContext ||= config.currentContext;
    }
    return merged;
  }

  /** The pod's service account: the apiserver from the environment, its CA and rotating token. */
  static inCluster(directory = SERVICE_ACCOUNT_DIR): KubeConfig {
    const host = process.env.KUBERNETES_SERVICE_HOST ?? '';
    const port = process.env.KUBERNETES_SERVICE_PORT ?? '443';
    let namespace: string | undefined;
    try {
      namespace = readFileSync(join(directory, 'namespace'), 'utf8').trim() || undefined;
    } catch {
      namespace = undefined;
    }
    return KubeConfig.fromOptions({
      clusters: [
        {
          name: 'in-cluster',
          server: `https://${isIPv6(host) ? `[${host}]` : host}:${port}`,
          caFile: join(directory, 'ca.crt'),
          skipTLSVerify: false,
        },
      ],
      users: [{ name: 'service-account', tokenFile: join(directory, 'token') }],
      contexts: [compact({ name: 'in-cluster', cluster: 'in-cluster', user: 'service-account', namespace })],
      currentContext: 'in-cluster',
    });
  }

  getContexts(): readonly Context[] {
    return this.contexts;
  }

  getCurrentContext(): string {
    return this.currentContext;
  }

  setCurrentContext(name: string): void {
    this.currentContext = name;
  }

  getContextObject(name: string): Context | undefined {
    return this.contexts.find((context) => context.name === name);
  }

  getCurrentCluster(): Cluster | undefined {
    const context = this.getContextObject(this.currentContext);
    return context && this.clusters.find((cluster) => cluster.name === context.cluster);
  }

  getCurrentUser(): User | undefined {
    const context = this.getContextObject(this.currentContext);
    return context && this.users.find((user) => user.name === context.user);
  }

  /** Whether the current context needs client-node: a credential plugin, or a SOCKS proxy. */
  needsClientNode(): boolean {
    return (
      runsPlugin(this.getCurrentUser()) || (this.getCurrentCluster()?.proxyUrl?.startsWith('socks') ?? false)
    );
  }

  /** client-node's KubeConfig over these options, loaded on first call. */
  clientNode(): Promise<ClientNodeKubeConfig> {
    this.#plugins ??= import('@kubernetes/client-node').then(({ KubeConfig: ClientNode }) => {
      const config: ClientNodeKubeConfig = new ClientNode();
      config.loadFromOptions({
        clusters: this.clusters,
        users: this.users,
        contexts: this.contexts,
        currentContext: this.currentContext,
      });
      return config;
    });
    return this.#plugins.then((config) => {
      config.setCurrentContext(this.currentContext);
      return config;
    });
  }

  /**
   * Headers and TLS material for one request of the current context. Files are read again when
   * they change, so rotated certificates and tokens are used at once.
   */
  async credentials(): Promise<Credentials> {
    const cluster = this.getCurrentCluster();
    const user = this.getCurrentUser();
    const headers: Record<string, string> = {};
    const tls: TlsMaterial = {};
    if (cluster?.skipTLSVerify) tls.rejectUnauthorized = false;
    if (cluster?.tlsServerName) tls.servername = cluster.tlsServerName;
    const ca = material(cluster?.caFile, cluster?.caData);
    if (ca) tls.ca = ca;
    if (user === undefined) return { headers, tls };
    const cert = material(user.certFile, user.certData);
    if (cert) tls.cert = cert;
    const key = material(user.keyFile, user.keyData);
    if (key) tls.key = key;
    if (runsPlugin(user)) {
      const plugin: Parameters<ClientNodeKubeConfig['applyToHTTPSOptions']>[0] = {};
      await (await this.clientNode()).applyToHTTPSOptions(plugin);
      for (const [name, value] of Object.entries(plugin.headers ?? {})) {
        if (value !== undefined) headers[name] = String(value);
      }
      // An exec plugin may answer with a client certificate instead of a token.
      if (plugin.cert !== undefined) tls.cert = plugin.cert as Buffer | string;
      if (plugin.key !== undefined) tls.key = plugin.key as Buffer | string;
    }
    if (user.token) headers.Authorization = `Bearer ${user.token}`;
    else if (user.tokenFile) headers.Authorization = `Bearer ${fileText(user.tokenFile).trim()}`;
    if (user.username !== undefined) {
      headers.Authorization = `Basic ${Buffer.from(`${user.username}:${user.password ?? ''}`).toString('base64')}`;
    }
    if (user.impersonateUser) headers['Impersonate-User'] = user.impersonateUser;
    return { headers, tls };
  }
}

/** Whether the user's credentials come from a plugin only client-node runs (exec, auth-provider). */
function runsPlugin(user: User | undefined): boolean {
  return user?.exec !== undefined || user?.authProvider !== undefined;
}

/** A file's bytes, read again only when its size, time or inode changed. */
const files = new Map<string, { stamp: string; bytes: Buffer }>();

function fileBytes(path: string): Buffer {
  const stat = statSync(path);
  const stamp = `${stat.ino}:${stat.size}:${stat.mtimeMs}:${stat.ctimeMs}`;
  const known = files.get(path);
  if (known?.stamp === stamp) return known.bytes;
  const bytes = readFileSync(path);
  files.set(path, { stamp, bytes });
  return bytes;
}

function fileText(path: string): string {
  return fileBytes(path).toString('utf8');
}

/** A file's contents, or base64 data inline. */
function material(file: string | undefined, data: string | undefined): Buffer | undefined {
  if (file) return fileBytes(file);
  if (data) return Buffer.from(data, 'base64');
  return undefined;
}

function nonEmpty(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Leaves out undefined fields, so objects compare and print cleanly. */
function compact<T extends object>(object: T): T {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined)) as T;
}
