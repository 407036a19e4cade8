// The process that answers for every KWOK pod, run inside the pod network namespace
// (pod-network.ts) by backend.ts. Every pod IP is local there, so one listener on 0.0.0.0 gets
// each pod's connections and tells them apart by their local address. Which pod owns an address,
// and how it behaves, comes from a JSON file backend.ts keeps current from a Pod watch: this
// namespace cannot reach the apiserver on the host's loopback, but it shares the file system.
// Node built-ins only.
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { parseArgs } from 'node:util';

/** One pod as backend.ts describes it; the numbers come from the pod's environment. */
export interface PodBehaviour {
  namespace: string;
  name: string;
  /** The pod's `app` label: tells a primary's pods from a canary's. */
  app: string;
  version: string;
  /** Share of requests answered 500, spread evenly (every tenth for 0.1), not at random. */
  errorRate: number;
  latencyMs: number;
}

const { values } = parseArgs({
  options: {
    'pods-file': { type: 'string' },
    ports: { type: 'string', default: '9898' },
    'metrics-address': { type: 'string' },
  },
});
const podsFile = values['pods-file'];
const metricsAddress = values['metrics-address'];
if (!podsFile || !metricsAddress)
  throw new Error('usage: backend-server --pods-file=F --metrics-address=IP:PORT');

let pods: Record<string, PodBehaviour> = {};
let podsVersion = -1;
function reloadPods(): void {
  try {
    const mtime = statSync(podsFile!).mtimeMs;
    if (mtime === podsVersion) return;
    pods = JSON.parse(readFileSync(podsFile!, 'utf8')) as Record<string, PodBehaviour>;
    podsVersion = mtime;
  } catch {
    // Not written yet, or mid-rename: keep the last map.
  }
}
reloadPods();
setInterval(reloadPods, 100).unref();

interface Counter {
  pod: PodBehaviour;
  code: number;
  count: number;
}
const counters = new Map<string, Counter>();
const served = new Map<string, number>();
let unmatched = 0;

function count(pod: PodBehaviour, code: number): void {
  const key = `${pod.namespace}/${pod.name}/${code}`;
  const counter = counters.get(key) ?? { pod, code, count: 0 };
  counter.count++;
  counters.set(key, counter);
}

const json = (res: ServerResponse, code: number, body: unknown): void => {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

async function answer(pod: PodBehaviour, req: IncomingMessage, res: ServerResponse): Promise<number> {
  const path = new URL(req.url ?? '/', 'http://pod').pathname;
  if (path === '/healthz' || path === '/readyz') {
    json(res, 200, { status: 'OK' });
    return 200;
  }
  if (pod.latencyMs > 0) await sleep(pod.latencyMs);
  const key = `${pod.namespace}/${pod.name}`;
  const n = served.get(key) ?? 0;
  served.set(key, n + 1);
  if (Math.floor((n + 1) * pod.errorRate) > Math.floor(n * pod.errorRate)) {
    json(res, 500, { error: 'injected by ERROR_RATE', pod: pod.name });
    return 500;
  }
  const status = /^\/status\/(\d{3})$/.exec(path);
  if (status) {
    const code = Number(status[1]);
    json(res, code, { status: code });
    return code;
  }
  const delay = /^\/delay\/(\d+(?:\.\d+)?)$/.exec(path);
  if (delay) await sleep(Number(delay[1]) * 1000);
  if (path === '/token') {
    json(res, 200, { token: randomBytes(16).toString('hex'), expires_at: new Date(Date.now() + 60_000) });
    return 200;
  }
  if (path !== '/' && !delay) {
    json(res, 404, { error: `no route ${path}` });
    return 404;
  }
  json(res, 200, { hostname: pod.name, namespace: pod.namespace, version: pod.version, app: pod.app });
  return 200;
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

for (const port of values.ports.split(',').map(Number)) {
  createServer((req, res) => {
    const address = (req.socket.localAddress ?? '').replace(/^::ffff:/, '');
    const pod = pods[address];
    if (!pod) {
      unmatched++;
      json(res, 503, { error: `no pod has the address ${address}` });
      return;
    }
    answer(pod, req, res).then(
      (code) => count(pod, code),
      (err: Error) => {
        count(pod, 500);
        json(res, 500, { error: err.message });
      },
    );
  }).listen(port, '0.0.0.0');
}

const label = (value: string) => JSON.stringify(value);
function metrics(): string {
  const lines = [
    '# HELP fledge_backend_requests_total Requests each pod answered, by status code.',
    '# TYPE fledge_backend_requests_total counter',
  ];
  for (const { pod, code, count } of counters.values()) {
    lines.push(
      `fledge_backend_requests_total{namespace=${label(pod.namespace)},pod=${label(pod.name)},` +
        `app=${label(pod.app)},version=${label(pod.version)},code="${code}"} ${count}`,
    );
  }
  lines.push(
    '# HELP fledge_backend_unmatched_requests_total Requests to an address no pod has.',
    '# TYPE fledge_backend_unmatched_requests_total counter',
    `fledge_backend_unmatched_requests_total ${unmatched}`,
  );
  return `${lines.join('\n')}\n`;
}

const [metricsHost, metricsPort] = metricsAddress.split(':');
createServer((req, res) => {
  if (req.url === '/metrics') {
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(metrics());
  } else if (req.url === '/counts') {
    json(
      res,
      200,
      [...counters.values()].map(({ pod, code, count }) => ({ ...pod, code, count })),
    );
  } else json(res, 404, { error: 'metrics port serves /metrics and /counts' });
}).listen(Number(metricsPort), metricsHost, () =>
  process.stdout.write(`backend serving ${metricsAddress}\n`),
);
