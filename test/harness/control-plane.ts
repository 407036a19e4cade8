import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ProcessGroup, freePort, repoRoot, waitFor } from './processes.ts';

const run = promisify(execFile);

/**
 * Pods each fake node takes. Test namespaces live until the run ends, so every file's
 * pods stay scheduled: at Kubernetes' default of 110 a node, a full integration run filled
 * both nodes and the files after that point never saw their pods start. A /23 per node
 * gives each pod an address.
 */
export const PODS_PER_NODE = 500;

export interface ControlPlaneBinaries {
  kubeBin: string;
  etcdBin: string;
  kwokBin: string;
  kwokStages: string;
  kubeVersion: string;
  etcdVersion: string;
}

export interface ControlPlane {
  kubeconfigPath: string;
  server: string;
  caPath: string;
  /** Static bearer token of a cluster admin, for tools that take a token. */
  adminToken: string;
  workdir: string;
  binaries: ControlPlaneBinaries;
  /** Stops kube-apiserver (SIGTERM), keeps it down for `downMs`, starts it again and waits until ready. */
  apiserverOutage(downMs: number): Promise<void>;
  stop(options?: { keepWorkdir?: boolean }): Promise<void>;
}

export interface ControlPlaneOptions {
  nodes?: number;
  /** More kube-apiserver flags (the benchmark's audit log). */
  apiserverArgs?: string[];
  /**
   * Client-side rate limit of kube-controller-manager and kube-scheduler (queries per second, burst
   * twice that); their default of 20 is what a large benchmark would otherwise measure.
   */
  controllerQps?: number;
  /** Extra stages/manifests are not needed by default; kept small on purpose. */
  onProgress?: (message: string) => void;
}

/**
 * Builds (or finds in ~/.cache/fledge) the components `entry` of hack/build-tools.sh names, then
 * returns the paths and versions it prints for `keys`.
 */
export async function builtTools<K extends string>(
  entry: string,
  keys: readonly K[],
): Promise<Record<K, string>> {
  const script = join(repoRoot, 'hack/build-tools.sh');
  await run('bash', [script, entry], { maxBuffer: 64 * 1024 * 1024 });
  const { stdout } = await run('bash', [script, 'paths']);
  const vars = new Map(stdout.split('\n').map((line) => line.split('=', 2) as [string, string]));
  const picked = {} as Record<K, string>;
  for (const key of keys) {
    const value = vars.get(key);
    if (!value) throw new Error(`build-tools.sh paths did not print ${key}`);
    picked[key] = value;
  }
  return picked;
}

/** Builds (or finds in ~/.cache/fledge) the control-plane binaries. */
export async function ensureBinaries(): Promise<ControlPlaneBinaries> {
  const tools = await builtTools('all', [
    'KUBE_BIN',
    'ETCD_BIN',
    'KWOK_BIN',
    'KWOK_STAGES',
    'KUBE_VERSION',
    'ETCD_VERSION',
  ] as const);
  return {
    kubeBin: tools.KUBE_BIN,
    etcdBin: tools.ETCD_BIN,
    kwokBin: tools.KWOK_BIN,
    kwokStages: tools.KWOK_STAGES,
    kubeVersion: tools.KUBE_VERSION,
    etcdVersion: tools.ETCD_VERSION,
  };
}

/**
 * Starts etcd, kube-apiserver, kube-controller-manager, kube-scheduler and a
 * KWOK controller on 127.0.0.1 with fresh certificates and free ports, then
 * registers fake nodes so Deployments get scheduled, Ready pods.
 */
export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const progress = options.onProgress ?? (() => undefined);
  const binaries = await ensureBinaries();
  const group = await ProcessGroup.create('fledge-cp');
  try {
    const dir = group.workdir;
    const pki = join(dir, 'pki');
    progress('generating certificates');
    const adminToken = await generatePki(pki);

    const [etcdClient, etcdPeer, apiPort, kcmPort, schedPort] = await Promise.all(
      Array.from({ length: 5 }, () => freePort()),
    );
    const etcdUrl = `http://127.0.0.1:${etcdClient}`;
    progress(`starting etcd ${binaries.etcdVersion}`);
    await group.start('etcd', join(binaries.etcdBin, 'etcd'), [
      '--name=fledge',
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=fledge=http://127.0.0.1:${etcdPeer}`,
      '--unsafe-no-fsync=true',
      '--logger=zap',
      '--log-level=warn',
    ]);
    await waitFor('etcd health', async () => {
      group.assertRunning('etcd');
      const res = await fetch(`${etcdUrl}/health`);
      return res.ok;
    });

    const server = `https://127.0.0.1:${apiPort}`;
    progress(`starting kube-apiserver ${binaries.kubeVersion}`);
    const apiserverArgs = [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      '--advertise-address=127.0.0.1',
      // The reconciler would publish the loopback address in Endpoints, which validation rejects.
      '--endpoint-reconciler-type=none',
      `--tls-cert-file=${join(pki, 'apiserver.crt')}`,
      `--tls-private-key-file=${join(pki, 'apiserver.key')}`,
      `--client-ca-file=${join(pki, 'ca.crt')}`,
      `--token-auth-file=${join(pki, 'tokens.csv')}`,
      `--service-account-issuer=${server}`,
      `--service-account-key-file=${join(pki, 'sa.pub')}`,
      `--service-account-signing-key-file=${join(pki, 'sa.key')}`,
      '--service-cluster-ip-range=10.96.0.0/16',
      '--authorization-mode=RBAC',
      '--allow-privileged=true',
      // The aggregation layer: the apiserver proxies an APIService's group to its Service's endpoints
      // (there is no kube-proxy), naming the user in headers its front-proxy client certificate vouches for.
      `--requestheader-client-ca-file=${join(pki, 'front-proxy-ca.crt')}`,
      '--requestheader-allowed-names=front-proxy-client',
      '--requestheader-username-headers=X-Remote-User',
      '--requestheader-group-headers=X-Remote-Group',
      '--requestheader-extra-headers-prefix=X-Remote-Extra-',
      `--proxy-client-cert-file=${join(pki, 'front-proxy-client.crt')}`,
      `--proxy-client-key-file=${join(pki, 'front-proxy-client.key')}`,
      '--enable-aggregator-routing=true',
      '--v=0',
      ...(options.apiserverArgs ?? []),
    ];
    const startApiserver = () =>
      group.start('kube-apiserver', join(binaries.kubeBin, 'kube-apiserver'), apiserverArgs);
    await startApiserver();

    const kubeconfigPath = join(dir, 'kubeconfig');
    await writeFile(kubeconfigPath, kubeconfig(server, pki));
    const apiserverReady = () =>
      waitFor(
        'kube-apiserver /readyz',
        async () => {
          group.assertRunning('kube-apiserver');
          return (await httpsGet(`${server}/readyz`, pki)) === 200;
        },
        120_000,
      );
    await apiserverReady();

    progress('starting kube-controller-manager, kube-scheduler and kwok');
    const qps = options.controllerQps;
    const rateLimit = qps === undefined ? [] : [`--kube-api-qps=${qps}`, `--kube-api-burst=${2 * qps}`];
    await group.start('kube-controller-manager', join(binaries.kubeBin, 'kube-controller-manager'), [
      `--kubeconfig=${kubeconfigPath}`,
      '--leader-elect=false',
      '--bind-address=127.0.0.1',
      `--secure-port=${kcmPort}`,
      `--service-account-private-key-file=${join(pki, 'sa.key')}`,
      `--root-ca-file=${join(pki, 'ca.crt')}`,
      '--use-service-account-credentials=false',
      '--node-monitor-period=5s',
      '--node-monitor-grace-period=40s',
      ...rateLimit,
    ]);
    await group.start('kube-scheduler', join(binaries.kubeBin, 'kube-scheduler'), [
      `--kubeconfig=${kubeconfigPath}`,
      '--leader-elect=false',
      '--bind-address=127.0.0.1',
      `--secure-port=${schedPort}`,
      ...rateLimit,
    ]);
    const stage = (path: string): string => `--config=${join(binaries.kwokStages, path)}`;
    await group.start('kwok', join(binaries.kwokBin, 'kwok'), [
      `--kubeconfig=${kubeconfigPath}`,
      '--manage-all-nodes=false',
      '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
      '--cidr=10.244.0.0/16',
      '--node-ip=10.250.0.2',
      '--node-lease-duration-seconds=40',
      stage('node/fast/node-initialize.yaml'),
      stage('node/heartbeat-with-lease/node-heartbeat-with-lease.yaml'),
      stage('pod/fast/pod-ready.yaml'),
      stage('pod/fast/pod-complete.yaml'),
      stage('pod/fast/pod-delete.yaml'),
      `--config=${join(repoRoot, 'test/harness/kwok/pod-ready-again.yaml')}`,
    ]);

    const nodes = options.nodes ?? 2;
    progress(`registering ${nodes} fake nodes`);
    await kubectl(kubeconfigPath, ['apply', '-f', '-'], fakeNodes(nodes));
    await waitFor(
      'fake nodes Ready',
      async () => {
        for (const name of ['kube-controller-manager', 'kube-scheduler', 'kwok']) group.assertRunning(name);
        const out = await kubectl(kubeconfigPath, [
          'get',
          'nodes',
          '-o',
          'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}',
        ]);
        return out.split('\n').filter((s) => s === 'True').length === nodes;
      },
      60_000,
    );
    await waitFor('default ServiceAccount', async () => {
      await kubectl(kubeconfigPath, ['get', 'serviceaccount', 'default', '-n', 'default']);
      return true;
    });

    return {
      kubeconfigPath,
      server,
      caPath: join(pki, 'ca.crt'),
      adminToken,
      workdir: dir,
      binaries,
      apiserverOutage: async (downMs) => {
        await group.stopOne('kube-apiserver');
        await new Promise((resume) => setTimeout(resume, downMs));
        await startApiserver();
        await apiserverReady();
      },
      stop: (stopOptions) => group.stop(stopOptions),
    };
  } catch (err) {
    await group.stop({ keepWorkdir: false });
    throw err;
  }
}

/**
 * Waits until the CRDs `targets` name (`-f <file>` pairs or `crd/<name>`) are Established. `kubectl
 * wait` fails at once on a CRD whose status has no conditions yet (a large one just applied), so it
 * is retried until then.
 */
export async function waitEstablished(kubeconfigPath: string, targets: readonly string[]): Promise<void> {
  await waitFor(
    'CRDs to be Established',
    async () => {
      await kubectl(kubeconfigPath, ['wait', '--for=condition=Established', '--timeout=60s', ...targets]);
      return true;
    },
    120_000,
  );
}

/** Runs kubectl against a kubeconfig; stdin is optional. Rejects with kubectl's stderr. */
export async function kubectl(kubeconfigPath: string, args: string[], stdin?: string): Promise<string> {
  return new Promise((done, fail) => {
    const child = execFile(
      'kubectl',
      [`--kubeconfig=${kubeconfigPath}`, ...args],
      { maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) =>
        err ? fail(new Error(`kubectl ${args.join(' ')}: ${stderr || err.message}`)) : done(stdout),
    );
    if (stdin !== undefined) child.stdin?.end(stdin);
  });
}

async function generatePki(pki: string): Promise<string> {
  await mkdir(pki, { recursive: true });
  const openssl = (args: string[]) => run('openssl', args, { cwd: pki });
  const newKey = (name: string, subject: string, out: string, ...more: string[]) =>
    openssl([
      'req',
      ...more,
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      out,
      '-subj',
      subject,
    ]);
  const authority = (name: string) =>
    newKey(name, `/CN=fledge-test-${name}`, `${name}.crt`, '-x509', '-days', '30');
  await Promise.all([authority('ca'), authority('front-proxy-ca')]);
  await writeFile(
    join(pki, 'server.ext'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost,IP:10.96.0.1,DNS:kubernetes.default.svc\n' +
      'extendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n',
  );
  await writeFile(
    join(pki, 'client.ext'),
    'extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n',
  );
  const issue = async (name: string, subject: string, ext: string, ca = 'ca') => {
    await newKey(name, subject, `${name}.csr`);
    await openssl([
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${ca}.crt`,
      '-CAkey',
      `${ca}.key`,
      '-CAcreateserial',
      '-out',
      `${name}.crt`,
      '-days',
      '30',
      '-extfile',
      ext,
    ]);
  };
  await issue('apiserver', '/CN=kube-apiserver', 'server.ext');
  await issue('admin', '/O=system:masters/CN=fledge-admin', 'client.ext');
  await issue('front-proxy-client', '/CN=front-proxy-client', 'client.ext', 'front-proxy-ca');
  await openssl(['genrsa', '-out', 'sa.key', '2048']);
  await openssl(['rsa', '-in', 'sa.key', '-pubout', '-out', 'sa.pub']);
  const token = `admin-${crypto.randomUUID()}`;
  await writeFile(join(pki, 'tokens.csv'), `${token},fledge-admin,uid-fledge-admin,"system:masters"\n`);
  return token;
}

function kubeconfig(server: string, pki: string): string {
  return JSON.stringify(
    {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        { name: 'fledge-sandbox', cluster: { server, 'certificate-authority': join(pki, 'ca.crt') } },
      ],
      users: [
        {
          name: 'fledge-admin',
          user: { 'client-certificate': join(pki, 'admin.crt'), 'client-key': join(pki, 'admin.key') },
        },
      ],
      contexts: [
        {
          name: 'fledge-sandbox',
          context: { cluster: 'fledge-sandbox', user: 'fledge-admin', namespace: 'default' },
        },
      ],
      'current-context': 'fledge-sandbox',
    },
    null,
    2,
  );
}

function fakeNodes(count: number): string {
  const items = Array.from({ length: count }, (_, i) => ({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: `kwok-node-${i}`,
      annotations: { 'node.alpha.kubernetes.io/ttl': '0', 'kwok.x-k8s.io/node': 'fake' },
      labels: {
        'kubernetes.io/arch': 'amd64',
        'kubernetes.io/hostname': `kwok-node-${i}`,
        'kubernetes.io/os': 'linux',
        type: 'kwok',
      },
    },
    spec: { podCIDR: `10.244.${i * 2}.0/23` },
    status: {
      allocatable: { cpu: '256', memory: '1Ti', pods: String(PODS_PER_NODE) },
      capacity: { cpu: '256', memory: '1Ti', pods: String(PODS_PER_NODE) },
    },
  }));
  return JSON.stringify({ apiVersion: 'v1', kind: 'List', items });
}

async function httpsGet(url: string, pki: string): Promise<number> {
  const [ca, cert, key] = await Promise.all(
    ['ca.crt', 'admin.crt', 'admin.key'].map((f) => readFile(join(pki, f))),
  );
  return new Promise((done, fail) => {
    const req = request(url, { ca, cert, key, timeout: 5_000 }, (res) => {
      res.resume();
      done(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', fail);
    req.end();
  });
}
