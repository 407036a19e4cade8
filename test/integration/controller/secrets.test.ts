import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { inPhase, waitForCanary } from '../../harness/canary.ts';
import { kubectl } from '../../harness/control-plane.ts';
import { createTestNamespace, integrationEnv } from '../../harness/env.ts';
import { startOperatorProcess, type OperatorProcess } from '../../harness/operator.ts';
import { repoRoot } from '../../harness/processes.ts';
import { startFakeGatewayController, type FakeGatewayController } from '../../harness/third-party.ts';
import { apply, canary, deployment, setImage } from './fixtures.ts';

// Credentials in every place Fledge reads them, sent to an endpoint that answers every
// request with an error quoting all it received (headers, path, query, body). After a
// whole run with debug logging on, no credential, nor any 8-character piece of one,
// appears in status, events, logs, delivered alerts or `fledge status`.

const run = promisify(execFile);

const secrets = {
  prometheusToken: 'prom-token-7Hq2Lw9Zx4Rt',
  hookPassword: 'hook-pass-Vb3Nm8Kp2Qs',
  hookKey: 'hook-key-Ja4Xc7Ds1Fe',
  alertPath: 'alertpath9Yt5Ur2Wq',
  flagPath: 'flagpath3Ei6Op1As',
};
const basic = Buffer.from(`ops:${secrets.hookPassword}`).toString('base64');
const watched = [...Object.values(secrets), basic];

/** Every 8-character piece of a credential found in `text`, with where it came from. */
function leaks(where: string, text: string): string[] {
  const found: string[] = [];
  for (const secret of watched) {
    for (let i = 0; i + 8 <= secret.length; i++) {
      const piece = secret.slice(i, i + 8);
      if (text.includes(piece)) {
        found.push(`${where}: "${piece}" of ${secret}`);
        break;
      }
    }
  }
  return found;
}

interface Echo {
  url: string;
  /** Bodies of the alerts delivered (POSTs to /services/...). */
  alerts: string[];
  requests: number;
  close(): Promise<void>;
}

/** Answers every request with an error whose body quotes it: its Authorization header, path, query and body. */
async function startEcho(): Promise<Echo> {
  const echo = { alerts: [] as string[], requests: 0 };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      echo.requests += 1;
      const body = Buffer.concat(chunks).toString('utf8');
      if (req.url?.startsWith('/services/')) echo.alerts.push(body);
      // The credential-bearing parts first, so no cut of a long message can drop them.
      const quoted = `you sent ${String(req.headers.authorization)} ${req.method} ${req.url} body ${body}`;
      if (req.url?.includes('/api/v1/query')) {
        // Prometheus's own error shape, which Fledge quotes.
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ status: 'error', errorType: 'bad_data', error: quoted }));
      } else {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(quoted);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get alerts() {
      return echo.alerts;
    },
    get requests() {
      return echo.requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('credentials never written out', () => {
  const { kubeconfigPath } = integrationEnv();
  let namespace: string;
  let echo: Echo;
  let gateway: FakeGatewayController;
  let operator: OperatorProcess;

  beforeAll(async () => {
    namespace = await createTestNamespace('secrets');
    echo = await startEcho();
    gateway = startFakeGatewayController(kubeconfigPath, namespace);
    operator = await startOperatorProcess({
      kubeconfigPath,
      namespace,
      args: [`--slack-url=${echo.url}/services/T999/B888/${secrets.flagPath}`],
    });
  }, 60_000);
  afterAll(async () => {
    await operator?.stop();
    await gateway?.stop();
    await echo?.close();
  });

  it('keeps every credential out of status, events, logs, alerts and fledge status', async () => {
    const echoUrl = new URL(echo.url);
    const hookUrl = `http://ops:${secrets.hookPassword}@${echoUrl.host}/hook?key=${secrets.hookKey}`;
    const analysis = (alerts: boolean) => ({
      interval: '10s',
      threshold: 2,
      maxWeight: 50,
      stepWeight: 25,
      metrics: [{ name: 'errors', templateRef: { name: 'errors' }, thresholdRange: { max: 1 } }],
      webhooks: [{ name: 'smoke', type: 'rollout', url: hookUrl, timeout: '5s' }],
      ...(alerts ? { alerts: [{ name: 'team', severity: 'info', providerRef: { name: 'chat' } }] } : {}),
    });
    const spec = (alerts: boolean) => ({
      provider: 'gatewayapi:v1',
      service: { port: 9898, gatewayRefs: [{ name: 'public', namespace: 'gateways' }] },
      analysis: analysis(alerts),
    });
    await apply(
      kubeconfigPath,
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'prometheus-auth', namespace },
        stringData: { token: secrets.prometheusToken },
      },
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'chat-address', namespace },
        stringData: { address: `${echo.url}/services/T123/B456/${secrets.alertPath}` },
      },
      {
        apiVersion: 'fledge.dev/v1beta1',
        kind: 'AlertProvider',
        metadata: { name: 'chat', namespace },
        spec: { type: 'slack', channel: '#releases', secretRef: { name: 'chat-address' } },
      },
      {
        apiVersion: 'fledge.dev/v1beta1',
        kind: 'MetricTemplate',
        metadata: { name: 'errors', namespace },
        spec: {
          provider: { type: 'prometheus', address: echo.url, secretRef: { name: 'prometheus-auth' } },
          query: 'sum(rate(errors_total[1m]))',
        },
      },
      deployment(namespace, 'routed', 'example/app:1'),
      canary(namespace, 'routed', spec(true)),
      deployment(namespace, 'defaults', 'example/app:1'),
      canary(namespace, 'defaults', spec(false)),
    );
    for (const name of ['routed', 'defaults']) {
      await waitForCanary(kubeconfigPath, namespace, name, inPhase('Initialized'), {
        what: `${name} initialised`,
      });
      await setImage(kubeconfigPath, namespace, name, 'example/app:2');
    }
    // The hook fails every tick (500) and the query is refused (400): both runs roll back.
    for (const name of ['routed', 'defaults']) {
      const done = await waitForCanary(kubeconfigPath, namespace, name, inPhase('Failed', 'Succeeded'), {
        what: `${name} to roll back`,
        timeoutMs: 180_000,
      });
      expect(done.status.phase).toBe('Failed');
    }
    // Let the rollback alerts go out (and fail against the echo) before looking.
    await new Promise((resume) => setTimeout(resume, 3_000));

    // Only what Fledge wrote: the spec holds the hook URL as the user wrote it.
    const canaries = await kubectl(kubeconfigPath, [
      'get',
      'canaries.fledge.dev',
      '-n',
      namespace,
      '-o',
      'json',
    ]);
    const statuses = JSON.stringify(
      (JSON.parse(canaries) as { items: { status?: unknown }[] }).items.map((item) => item.status),
    );
    const events = await kubectl(kubeconfigPath, [
      'get',
      'events.events.k8s.io',
      '-n',
      namespace,
      '-o',
      'json',
    ]);
    const logs = await operator.rawLog();
    const cli = await Promise.all(
      ['routed', 'defaults'].map(async (name) => {
        const { stdout, stderr } = await run(process.execPath, [
          join(repoRoot, 'src/cli/main.ts'),
          'status',
          name,
          '-n',
          namespace,
          `--kubeconfig=${kubeconfigPath}`,
        ]).catch((error: { stdout?: string; stderr?: string }) => ({
          stdout: error.stdout ?? '',
          stderr: error.stderr ?? '',
        }));
        return stdout + stderr;
      }),
    );

    // The endpoint really was asked, and really quoted the credentials back.
    expect(echo.alerts.length).toBeGreaterThan(0);
    expect(statuses + events).toContain('you sent');
    expect(logs).toContain('you sent');
    expect(logs.split('\n').some((line) => line.includes('"level":20'))).toBe(true);
    expect(cli.join('\n')).toContain('Failed');

    expect([
      ...leaks('status', statuses),
      ...leaks('events', events),
      ...leaks('logs', logs),
      ...echo.alerts.flatMap((alert, i) => leaks(`alert ${i}`, alert)),
      ...cli.flatMap((out, i) => leaks(`fledge status ${i}`, out)),
    ]).toEqual([]);
  }, 300_000);
});
