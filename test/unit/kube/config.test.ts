import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { KubeConfig } from '../../../src/kube/config.ts';

// Fledge reads kubeconfigs itself (client-node only for the plugins it alone runs): every field
// it reads, file names relative to the file, merging as kubectl merges, the pod's service account.

const dir = mkdtempSync(join(tmpdir(), 'fledge-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
  return path;
}

const b64 = (text: string) => Buffer.from(text).toString('base64');

describe('KubeConfig from a file', () => {
  it('reads clusters, users and contexts, with file names relative to the file', async () => {
    file('certs/ca.crt', 'CA FROM FILE');
    file('certs/token', 'file-token\n');
    const path = file(
      'config',
      `apiVersion: v1
kind: Config
current-context: dev
clusters:
  - name: dev
    cluster:
      server: https://dev.example:6443/
      certificate-authority: certs/ca.crt
      tls-server-name: api.internal
  - name: lab
    cluster:
      server: https://lab.example
      certificate-authority-data: ${b64('CA INLINE')}
      insecure-skip-tls-verify: true
      proxy-url: http://proxy.example:3128
users:
  - name: robot
    user:
      tokenFile: certs/token
      as: auditor
  - name: admin
    user:
      client-certificate-data: ${b64('CERT')}
      client-key-data: ${b64('KEY')}
  - name: basic
    user:
      username: ann
      password: s3cret
contexts:
  - name: dev
    context: { cluster: dev, user: robot, namespace: team }
  - name: lab
    context: { cluster: lab, user: admin }
  - name: basic
    context: { cluster: lab, user: basic }
`,
    );
    const kc = KubeConfig.fromFile(path);
    expect(kc.getCurrentCluster()).toEqual({
      name: 'dev',
      server: 'https://dev.example:6443',
      caFile: join(dir, 'certs/ca.crt'),
      skipTLSVerify: false,
      tlsServerName: 'api.internal',
    });
    expect(kc.getContextObject('dev')?.namespace).toBe('team');
    const dev = await kc.credentials();
    expect(dev.headers).toEqual({ Authorization: 'Bearer file-token', 'Impersonate-User': 'auditor' });
    expect(dev.tls).toEqual({ ca: Buffer.from('CA FROM FILE'), servername: 'api.internal' });

    kc.setCurrentContext('lab');
    expect(kc.getCurrentCluster()?.proxyUrl).toBe('http://proxy.example:3128');
    const lab = await kc.credentials();
    expect(lab.headers).toEqual({});
    expect(lab.tls).toEqual({
      ca: Buffer.from('CA INLINE'),
      cert: Buffer.from('CERT'),
      key: Buffer.from('KEY'),
      rejectUnauthorized: false,
    });

    kc.setCurrentContext('basic');
    expect((await kc.credentials()).headers.Authorization).toBe(`Basic ${b64('ann:s3cret')}`);
    expect(kc.needsClientNode()).toBe(false);
  });

  it('names what is wrong with a file that is not a kubeconfig', () => {
    expect(() => KubeConfig.fromYaml('- a list', dir, 'bad.yaml')).toThrow('bad.yaml is not a kubeconfig');
    expect(() => KubeConfig.fromYaml('clusters: [{ name: x, cluster: {} }]', dir, 'k')).toThrow(
      'k: clusters[0].cluster.server is missing',
    );
    expect(() => KubeConfig.fromYaml('users: [{ user: {} }]', dir, 'k')).toThrow('k: users[0] has no name');
  });

  it('merges a KUBECONFIG list as kubectl does: the first to name an entry or the context wins', () => {
    const first = file(
      'first',
      `clusters: [{ name: shared, cluster: { server: https://first } }]
users: [{ name: me, user: { token: one } }]
contexts: [{ name: a, context: { cluster: shared, user: me } }]
`,
    );
    const second = file(
      'second',
      `current-context: b
clusters: [{ name: shared, cluster: { server: https://second } }, { name: other, cluster: { server: https://other } }]
users: [{ name: me, user: { token: two } }]
contexts: [{ name: b, context: { cluster: other, user: me } }]
`,
    );
    const kc = KubeConfig.fromFiles([first, second].join(delimiter));
    expect(kc.getCurrentContext()).toBe('b');
    expect(kc.clusters.map((cluster) => cluster.server)).toEqual(['https://first', 'https://other']);
    expect(kc.getCurrentUser()?.token).toBe('one');
  });

  it('hands exec and auth-provider users, and SOCKS proxies, to client-node', () => {
    const kc = KubeConfig.fromYaml(`current-context: c
clusters: [{ name: c, cluster: { server: https://c } }, { name: s, cluster: { server: https://s, proxy-url: 'socks5://p:1080' } }]
users: [{ name: e, user: { exec: { command: aws, apiVersion: client.authentication.k8s.io/v1 } } }, { name: t, user: { token: x } }]
contexts: [{ name: c, context: { cluster: c, user: e } }, { name: s, context: { cluster: s, user: t } }, { name: plain, context: { cluster: c, user: t } }]
`);
    expect(kc.needsClientNode()).toBe(true);
    kc.setCurrentContext('s');
    expect(kc.needsClientNode()).toBe(true);
    kc.setCurrentContext('plain');
    expect(kc.needsClientNode()).toBe(false);
  });
});

describe('KubeConfig in a cluster', () => {
  it('uses the service account: the apiserver from the environment, its CA, its rotating token', async () => {
    const account = join(dir, 'serviceaccount');
    file('serviceaccount/ca.crt', 'CLUSTER CA');
    file('serviceaccount/token', 'token-1');
    file('serviceaccount/namespace', 'fledge-system\n');
    const saved = { ...process.env };
    process.env.KUBERNETES_SERVICE_HOST = 'fd00::1';
    process.env.KUBERNETES_SERVICE_PORT = '443';
    try {
      const kc = KubeConfig.inCluster(account);
      expect(kc.getCurrentCluster()?.server).toBe('https://[fd00::1]:443');
      expect(kc.getContextObject(kc.getCurrentContext())?.namespace).toBe('fledge-system');
      expect((await kc.credentials()).headers.Authorization).toBe('Bearer token-1');
      // The kubelet replaces the projected token before it expires.
      file('serviceaccount/token', 'token-2-rotated');
      const { headers, tls } = await kc.credentials();
      expect(headers.Authorization).toBe('Bearer token-2-rotated');
      expect(tls.ca).toEqual(Buffer.from('CLUSTER CA'));
    } finally {
      process.env = saved;
    }
  });
});

describe('what the operator loads', () => {
  it('never loads @kubernetes/client-node unless a kubeconfig needs one of its plugins', async () => {
    // client-node's index loads its whole generated API: about 70 MiB of resident memory.
    const { execFileSync } = await import('node:child_process');
    const { pathToFileURL } = await import('node:url');
    const entry = (path: string) => JSON.stringify(pathToFileURL(join(process.cwd(), path)).href);
    const script = `
      import { registerHooks } from 'node:module';
      const loaded = new Set();
      registerHooks({
        resolve(specifier, context, next) {
          const resolved = next(specifier, context);
          const match = /node_modules\\/(@kubernetes\\/client-node)\\//.exec(resolved.url);
          if (match) loaded.add(match[1]);
          return resolved;
        },
      });
      await import(${entry('src/cli/run.ts')});
      await import(${entry('src/cli/status.ts')});
      await import(${entry('src/cli/controls.ts')});
      console.log(JSON.stringify([...loaded]));
    `;
    const output = execFileSync(process.execPath, ['--input-type=module', '--no-warnings', '-e', script], {
      encoding: 'utf8',
    });
    expect(JSON.parse(output.trim().split('\n').at(-1) ?? 'null')).toEqual([]);
  });
});
