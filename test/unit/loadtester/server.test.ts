import { afterEach, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Registry } from 'prom-client';
import type { LoadPlan } from '../../../src/loadtester/hey.ts';
import type { CanaryRef, GateKind, GateStore } from '../../../src/loadtester/gates.ts';
import { gateConfigMapName } from '../../../src/loadtester/gates.ts';
import {
  parsePayload,
  startLoadTesterServer,
  type LoadTesterServer,
} from '../../../src/loadtester/server.ts';
import { generateLoad, TaskRunner, type Running } from '../../../src/loadtester/tasks.ts';
import { createLogger } from '../../../src/telemetry/logger.ts';

class MemoryGates implements GateStore {
  readonly open = new Set<string>();
  async isOpen(kind: GateKind, canary: CanaryRef) {
    return this.open.has(`${kind}/${canary.namespace}/${canary.name}`);
  }
  async set(kind: GateKind, canary: CanaryRef, open: boolean) {
    const key = `${kind}/${canary.namespace}/${canary.name}`;
    if (open) this.open.add(key);
    else this.open.delete(key);
  }
}

interface Started {
  plan: LoadPlan;
  finish(): void;
}

function rig(options: { allowedCommands?: RegExp[]; gates?: GateStore } = {}) {
  const registry = new Registry();
  const registers = [registry];
  const started: Started[] = [];
  const runner = new TaskRunner({
    log: createLogger('silent'),
    allowedCommands: options.allowedCommands ?? [],
    commandTimeoutMs: 10_000,
    tasks: new Counter({ name: 't', help: 't', labelNames: ['type', 'outcome'] as const, registers }),
    responses: new Counter({ name: 'r', help: 'r', labelNames: ['code'] as const, registers }),
    generate: (plan): Running => {
      let finish!: () => void;
      const done = new Promise<void>((resolve) => (finish = resolve));
      started.push({ plan, finish });
      return { done, stop: () => finish() };
    },
  });
  const gateRequests = new Counter({
    name: 'g',
    help: 'g',
    labelNames: ['gate', 'action', 'code'] as const,
    registers,
  });
  return { registry, runner, started, gates: options.gates ?? new MemoryGates(), gateRequests };
}

describe('load tester webhook API', () => {
  let server: LoadTesterServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  async function serve(r: ReturnType<typeof rig>) {
    server = await startLoadTesterServer({
      listenAddress: '127.0.0.1:0',
      runner: r.runner,
      gates: r.gates,
      log: createLogger('silent'),
      gateRequests: r.gateRequests,
    });
    return async (path: string, body: unknown) => {
      const res = await fetch(`${server!.url}${path}`, {
        method: 'POST',
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
      return { status: res.status, text: await res.text() };
    };
  }

  const canary = { name: 'podinfo', namespace: 'test' };

  it('starts a hey load once per Canary and command, however often the hook calls', async () => {
    const r = rig();
    const post = await serve(r);
    const hook = { ...canary, metadata: { cmd: 'hey -z 1m -q 10 -c 2 http://podinfo-canary.test:9898/' } };
    expect(await post('/', hook)).toEqual({ status: 202, text: 'started\n' });
    expect(await post('/', hook)).toEqual({ status: 202, text: 'already running\n' });
    expect(await post('/', { ...hook, name: 'other' })).toEqual({ status: 202, text: 'started\n' });
    expect(r.started.map((s) => [s.plan.concurrency, s.plan.ratePerWorker, s.plan.durationMs])).toEqual([
      [2, 10, 60_000],
      [2, 10, 60_000],
    ]);
    r.started[0]!.finish();
    await new Promise((done) => setImmediate(done));
    expect(await post('/', hook)).toEqual({ status: 202, text: 'started\n' });
    expect(r.runner.running).toBe(2);
    await r.runner.stop();
    expect(r.runner.running).toBe(0);
  });

  it('answers a bad hey command with 400 and what is wrong', async () => {
    const post = await serve(rig());
    const res = await post('/', { ...canary, metadata: { cmd: 'hey -z forever http://app/' } });
    expect(res.status).toBe(400);
    expect(res.text).toMatch(/"forever" is not a Go duration/);
  });

  it('refuses shell commands unless --allow-command matches them whole', async () => {
    const post = await serve(rig({ allowedCommands: [/^(?:echo [a-z]+)$/] }));
    expect(await post('/', { ...canary, metadata: { type: 'bash', cmd: 'echo hello' } })).toEqual({
      status: 200,
      text: 'hello\n',
    });
    const refused = await post('/', { ...canary, metadata: { type: 'bash', cmd: 'echo hello; rm -rf /' } });
    expect(refused.status).toBe(403);
    expect(refused.text).toMatch(/matches no --allow-command pattern/);
    const wrk = await post('/', { ...canary, metadata: { cmd: 'wrk http://app/' } });
    expect(wrk.status).toBe(403);
  });

  it('answers a failing bash command with 500 and its output', async () => {
    const post = await serve(rig({ allowedCommands: [/^(?:.*)$/] }));
    expect(
      await post('/', { ...canary, metadata: { type: 'bash', cmd: 'echo broken >&2; exit 3' } }),
    ).toEqual({
      status: 500,
      text: 'broken\n',
    });
  });

  it('refuses types it does not run, and payloads without a Canary or command', async () => {
    const post = await serve(rig());
    expect((await post('/', { ...canary, metadata: { type: 'helm', cmd: 'test x' } })).status).toBe(400);
    expect((await post('/', { ...canary, metadata: {} })).status).toBe(400);
    expect((await post('/', { metadata: { cmd: 'hey http://a/' } })).status).toBe(400);
    expect((await post('/', 'not json')).status).toBe(400);
    expect((await post('/nowhere', canary)).status).toBe(404);
  });

  it('keeps confirm and rollback gates per Canary: closed until opened', async () => {
    const r = rig();
    const post = await serve(r);
    expect((await post('/gate/approve', canary)).status).toBe(200);
    expect((await post('/gate/halt', canary)).status).toBe(403);
    expect((await post('/gate/check', canary)).status).toBe(403);
    expect((await post('/rollback/check', canary)).status).toBe(403);
    expect((await post('/gate/open', canary)).status).toBe(202);
    expect((await post('/gate/check', canary)).status).toBe(200);
    expect((await post('/gate/check', { ...canary, name: 'other' })).status).toBe(403);
    expect((await post('/rollback/check', canary)).status).toBe(403);
    expect((await post('/rollback/open', canary)).status).toBe(202);
    expect((await post('/rollback/check', canary)).status).toBe(200);
    expect((await post('/gate/close', canary)).status).toBe(202);
    expect((await post('/gate/check', canary)).status).toBe(403);
    expect(await r.registry.getSingleMetricAsString('g')).toMatch(
      /g\{gate="gate",action="check",code="403"\} 3/,
    );
  });

  it('fails a check closed with 500 when the gate store cannot be read', async () => {
    const broken: GateStore = {
      isOpen: async () => Promise.reject(new Error('apiserver unreachable')),
      set: async () => Promise.reject(new Error('apiserver unreachable')),
    };
    const post = await serve(rig({ gates: broken }));
    expect(await post('/gate/check', canary)).toEqual({ status: 500, text: 'apiserver unreachable\n' });
  });
});

describe('load tester pieces', () => {
  it('reads only string metadata from a payload', () => {
    expect(parsePayload(JSON.stringify({ name: 'a', namespace: 'b', metadata: { cmd: 'x', n: 1 } }))).toEqual(
      {
        name: 'a',
        namespace: 'b',
        metadata: { cmd: 'x' },
      },
    );
  });

  it('names gate ConfigMaps per Canary, within 253 characters and unique when cut', () => {
    expect(gateConfigMapName({ namespace: 'test', name: 'podinfo' })).toBe('fledge-gates-test.podinfo');
    const long = (suffix: string) =>
      gateConfigMapName({ namespace: 'ns', name: `${'a'.repeat(250)}${suffix}` });
    expect(long('x').length).toBeLessThanOrEqual(253);
    expect(long('x')).not.toBe(long('y'));
  });

  it('sends the planned number of requests with autocannon and counts the answers', async () => {
    let seen = 0;
    const target: Server = createServer((req, res) => {
      seen++;
      res.writeHead(req.headers['x-code'] === 'teapot' ? 418 : 200);
      res.end();
    });
    await new Promise<void>((done) => target.listen(0, '127.0.0.1', done));
    const codes: number[] = [];
    try {
      const running = generateLoad(
        {
          url: `http://127.0.0.1:${(target.address() as AddressInfo).port}/`,
          method: 'GET',
          headers: { 'x-code': 'teapot' },
          body: undefined,
          concurrency: 2,
          ratePerWorker: undefined,
          durationMs: undefined,
          requests: 20,
          timeoutMs: 5_000,
        },
        (code) => codes.push(code),
      );
      await running.done;
    } finally {
      target.close();
    }
    expect(seen).toBe(20);
    expect(codes).toEqual(Array(20).fill(418));
  });
});
