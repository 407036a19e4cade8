import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inPhase, waitForCanary } from '../../harness/canary.ts';
import { kubectl } from '../../harness/control-plane.ts';
import { createTestNamespace, integrationEnv } from '../../harness/env.ts';
import { startOperatorProcess, type OperatorProcess } from '../../harness/operator.ts';
import { waitFor } from '../../harness/processes.ts';
import { startFakeGatewayController, type FakeGatewayController } from '../../harness/third-party.ts';
import { LiveSeries } from '../analysis/live-series.ts';
import { apply, canary, deployment, setImage } from '../controller/fixtures.ts';
import { canaryEvents } from '../controller/history.ts';

// Alerts of real rollouts, delivered by the operator to loopback receivers
// standing in for Slack and a generic webhook. The AlertProviders find the
// receivers through the "address" key of their Secrets, as in production.

const clusterName = 'e2e-cluster';
const successRate = 'fledge_e2e_alerts_success_rate';

interface Received {
  path: string;
  contentType: string | undefined;
  body: Record<string, unknown>;
}

interface Receiver {
  url: string;
  received: Received[];
  close(): Promise<void>;
}

/**
 * Records every JSON POST. `/hook/fail` answers 500: the failing rollout
 * webhook. Everything else answers like Slack's incoming webhooks ("ok").
 */
async function startReceiver(): Promise<Receiver> {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const path = req.url ?? '';
      received.push({
        path,
        contentType: req.headers['content-type'],
        body: JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>,
      });
      res.writeHead(path === '/hook/fail' ? 500 : 200, { 'content-type': 'text/plain' });
      res.end(path === '/hook/fail' ? 'release is broken\n' : 'ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

interface WebhookAlert {
  kind: string;
  severity: string;
  canary: string;
  cluster: string;
  weight: number;
  summary: string;
  failingCheck?: { type: string; name: string; value?: number; threshold?: { min?: number; max?: number } };
}

interface SlackBlock {
  type: string;
  text?: { text: string };
  fields?: { text: string }[];
}

describe('alerts of real rollouts', () => {
  const { kubeconfigPath, prometheusUrl } = integrationEnv();
  let namespace: string;
  let receiver: Receiver;
  let series: LiveSeries;
  let gateway: FakeGatewayController;
  let operator: OperatorProcess;

  beforeAll(async () => {
    namespace = await createTestNamespace('alerts');
    receiver = await startReceiver();
    series = new LiveSeries(prometheusUrl);
    gateway = startFakeGatewayController(kubeconfigPath, namespace);
    operator = await startOperatorProcess({
      kubeconfigPath,
      namespace,
      args: [`--cluster-name=${clusterName}`],
    });
    const secret = (name: string, address: string) => ({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name, namespace },
      stringData: { address },
    });
    const provider = (name: string, type: string, extra: Record<string, unknown> = {}) => ({
      apiVersion: 'fledge.dev/v1beta1',
      kind: 'AlertProvider',
      metadata: { name, namespace },
      spec: { type, secretRef: { name: `${name}-address` }, ...extra },
    });
    await apply(
      kubeconfigPath,
      secret('slack-address', `${receiver.url}/slack`),
      secret('audit-address', `${receiver.url}/audit`),
      secret('oncall-address', `${receiver.url}/oncall`),
      provider('slack', 'slack', { channel: '#releases' }),
      provider('audit', 'webhook'),
      provider('oncall', 'webhook'),
      provider('no-secret', 'webhook'), // its Secret no-secret-address is never created
      {
        apiVersion: 'fledge.dev/v1beta1',
        kind: 'MetricTemplate',
        metadata: { name: 'success-rate', namespace },
        spec: {
          provider: { type: 'prometheus', address: prometheusUrl },
          query: `sum(${successRate}{namespace="{{ namespace }}",canary="{{ name }}"})`,
        },
      },
    );
  }, 60_000);

  afterAll(async () => {
    await operator?.stop();
    await gateway?.stop();
    await series?.stop();
    await receiver?.close();
  });

  /** A Gateway API canary at weights 25 and 50 every 10 s, alerting three destinations. */
  async function release(name: string, analysis: Record<string, unknown>): Promise<void> {
    await apply(
      kubeconfigPath,
      deployment(namespace, name, 'example/app:1'),
      canary(namespace, name, {
        provider: 'gatewayapi:v1',
        service: { port: 9898, gatewayRefs: [{ name: 'public', namespace: 'gateways' }] },
        analysis: {
          interval: '10s',
          threshold: 2,
          maxWeight: 50,
          stepWeight: 25,
          metrics: [
            {
              name: 'success-rate',
              interval: '1m',
              templateRef: { name: 'success-rate' },
              thresholdRange: { min: 99 },
            },
          ],
          alerts: [
            { name: 'team channel', severity: 'info', providerRef: { name: 'slack' } },
            { name: 'audit log', severity: 'info', providerRef: { name: 'audit' } },
            { name: 'on-call', severity: 'error', providerRef: { name: 'oncall' } },
          ],
          ...analysis,
        },
      }),
    );
    await waitForCanary(kubeconfigPath, namespace, name, inPhase('Initialized'), {
      what: `${name} initialised`,
      timeoutMs: 60_000,
    });
    await setImage(kubeconfigPath, namespace, name, 'example/app:2');
    await waitForCanary(
      kubeconfigPath,
      namespace,
      name,
      (s) => s.phase === 'Succeeded' || (s.phase === 'Failed' && s.canaryWeight === 0),
      { what: `${name} finished`, timeoutMs: 150_000 },
    );
  }

  const webhookAlerts = (path: string, canaryName: string): WebhookAlert[] =>
    receiver.received
      .filter((r) => r.path === path)
      .map((r) => r.body.alert as WebhookAlert)
      .filter((alert) => alert.canary === canaryName);

  const slackMessages = (canaryName: string) =>
    receiver.received
      .filter((r) => r.path === '/slack')
      .filter((r) => {
        const facts = (r.body.blocks as SlackBlock[]).flatMap((b) => b.fields ?? []).map((f) => f.text);
        return facts.includes(`*Canary*\n${canaryName}`);
      });

  const slackHeader = (message: Received) =>
    (message.body.blocks as SlackBlock[]).find((b) => b.type === 'header')?.text?.text;

  const slackSection = (message: Received, label: string) =>
    (message.body.blocks as SlackBlock[])
      .map((b) => b.text?.text ?? '')
      .find((text) => text.startsWith(`*${label}*\n`));

  /**
   * Waits until `expected` alerts of the canary reached Slack and the webhook, then a
   * little longer so a late duplicate (delivery is paced at one per second) shows up too.
   */
  async function settle(canaryName: string, expected: number): Promise<void> {
    const kinds = () => webhookAlerts('/audit', canaryName).map((a) => a.kind);
    await waitFor(
      `${expected} alerts of ${canaryName}`,
      async () => slackMessages(canaryName).length >= expected && kinds().length >= expected,
      30_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}; the webhook destination received ${kinds().join(', ') || 'nothing'}`);
    });
    await new Promise((resolve) => setTimeout(resolve, 5_000));
  }

  it('alerts a promotion once per transition, in order, and spares the error-only destination', async () => {
    await series.set(successRate, { namespace, canary: 'happy' }, 99.9);
    await release('happy', {});
    await settle('happy', 4);

    const audit = webhookAlerts('/audit', 'happy');
    expect(audit.map((a) => `${a.kind}:${a.weight}`)).toEqual([
      'Started:0',
      'StepAdvanced:25',
      'StepAdvanced:50',
      'Promoted:0',
    ]);
    expect(audit.every((a) => a.cluster === clusterName && a.severity === 'info')).toBe(true);
    expect(audit.every((a) => a.failingCheck === undefined)).toBe(true);

    const slack = slackMessages('happy');
    expect(slack.map(slackHeader)).toEqual([
      `Canary analysis started: happy.${namespace}`,
      `Canary advanced: happy.${namespace}`,
      `Canary advanced: happy.${namespace}`,
      `Promoted: happy.${namespace}`,
    ]);
    for (const message of slack) {
      expect(message.contentType).toMatch(/^application\/json/);
      expect(message.body).toMatchObject({ channel: '#releases', username: 'fledge' });
      expect(typeof message.body.text).toBe('string');
      const facts = (message.body.blocks as SlackBlock[]).flatMap((b) => b.fields ?? []).map((f) => f.text);
      expect(facts).toContain(`*Cluster*\n${clusterName}`);
    }

    expect(webhookAlerts('/oncall', 'happy')).toEqual([]);
  }, 240_000);

  it('alerts a rollback on a failing metric once, naming the metric, its value and threshold', async () => {
    await series.set(successRate, { namespace, canary: 'sad' }, 90);
    await release('sad', {});
    await settle('sad', 3);

    const audit = webhookAlerts('/audit', 'sad');
    expect(audit.map((a) => `${a.kind}:${a.severity}`)).toEqual([
      'Started:info',
      'StepAdvanced:info',
      'RolledBack:error',
    ]);
    const rollback = audit.at(-1);
    expect(rollback?.failingCheck).toEqual(
      expect.objectContaining({ type: 'metric', name: 'success-rate', value: 90, threshold: { min: 99 } }),
    );
    expect(rollback?.summary).toContain('success-rate');

    const slack = slackMessages('sad');
    expect(slack.map(slackHeader)).toEqual([
      `Canary analysis started: sad.${namespace}`,
      `Canary advanced: sad.${namespace}`,
      `Rolled back: sad.${namespace}`,
    ]);
    const failing = slackSection(slack[2] as Received, 'Failing check');
    expect(failing).toContain('Metric success-rate: 90, expected at least 99');
    expect(slackSection(slack[2] as Received, 'Next')).toContain('Traffic returns to the primary');

    // The error-only destination hears about the failure, and only about it.
    const oncall = webhookAlerts('/oncall', 'sad');
    expect(oncall.map((a) => a.kind)).toEqual(['RolledBack']);
    expect(oncall[0]?.failingCheck).toEqual(audit.at(-1)?.failingCheck);
  }, 240_000);

  it('alerts a retried run of the same revision again, not as a repeat of the failed run', async () => {
    await series.set(successRate, { namespace, canary: 'retried' }, 90);
    await release('retried', {});
    await settle('retried', 3);

    // The metric recovers; someone retries the same revision (what `fledge retry` does).
    await series.set(successRate, { namespace, canary: 'retried' }, 99.9);
    await kubectl(kubeconfigPath, [
      '-n',
      namespace,
      'annotate',
      'canary',
      'retried',
      `fledge.dev/retry=${new Date().toISOString()}`,
    ]);
    await waitForCanary(kubeconfigPath, namespace, 'retried', inPhase('Succeeded'), {
      what: 'the retried run to promote',
      timeoutMs: 150_000,
    });
    await settle('retried', 7);

    const audit = webhookAlerts('/audit', 'retried');
    expect(audit.map((a) => `${a.kind}:${a.weight}`)).toEqual([
      'Started:0',
      'StepAdvanced:25',
      // The weight the run failed at; the alert says traffic returns to the primary.
      'RolledBack:25',
      'Started:0',
      'StepAdvanced:25',
      'StepAdvanced:50',
      'Promoted:0',
    ]);
    expect(audit[3]?.summary).toContain('retrying revision');
    expect(slackMessages('retried').map(slackHeader)).toEqual([
      `Canary analysis started: retried.${namespace}`,
      `Canary advanced: retried.${namespace}`,
      `Rolled back: retried.${namespace}`,
      `Canary analysis started: retried.${namespace}`,
      `Canary advanced: retried.${namespace}`,
      `Canary advanced: retried.${namespace}`,
      `Promoted: retried.${namespace}`,
    ]);
    expect(webhookAlerts('/oncall', 'retried').map((a) => a.kind)).toEqual(['RolledBack']);
  }, 300_000);

  it('alerts a failing rollout webhook, then the rollback naming it; the error-only destination gets the rollback', async () => {
    await series.set(successRate, { namespace, canary: 'hooked' }, 99.9);
    await release('hooked', {
      webhooks: [{ name: 'smoke-test', type: 'rollout', url: `${receiver.url}/hook/fail`, timeout: '5s' }],
    });
    await settle('hooked', 4);

    const audit = webhookAlerts('/audit', 'hooked');
    expect(audit.map((a) => `${a.kind}:${a.severity}`)).toEqual([
      'Started:info',
      'StepAdvanced:info',
      'HookFailed:warn',
      'RolledBack:error',
    ]);
    for (const alert of audit.slice(2)) {
      expect(alert.failingCheck).toEqual(expect.objectContaining({ type: 'webhook', name: 'smoke-test' }));
    }
    expect(audit.at(-1)?.summary).toContain('smoke-test');

    const slack = slackMessages('hooked');
    expect(slack.map(slackHeader)).toEqual([
      `Canary analysis started: hooked.${namespace}`,
      `Canary advanced: hooked.${namespace}`,
      `Hook failed: hooked.${namespace}`,
      `Rolled back: hooked.${namespace}`,
    ]);
    expect(slackSection(slack[3] as Received, 'Failing check')).toContain('smoke-test');

    expect(webhookAlerts('/oncall', 'hooked').map((a) => a.kind)).toEqual(['RolledBack']);
  }, 240_000);

  it('reports an AlertProvider without its Secret and a missing one, and still alerts the rest', async () => {
    await series.set(successRate, { namespace, canary: 'orphans' }, 99.9);
    await release('orphans', {
      alerts: [
        { name: 'audit log', severity: 'info', providerRef: { name: 'audit' } },
        { name: 'pager', severity: 'info', providerRef: { name: 'no-secret' } },
        { name: 'ghost', severity: 'info', providerRef: { name: 'ghost' } },
      ],
    });
    await waitFor('the promotion alert of orphans', async () =>
      webhookAlerts('/audit', 'orphans').some((a) => a.kind === 'Promoted'),
    );
    expect(webhookAlerts('/audit', 'orphans').map((a) => a.kind)).toEqual([
      'Started',
      'StepAdvanced',
      'StepAdvanced',
      'Promoted',
    ]);

    const warnings = (await canaryEvents(kubeconfigPath, namespace, 'orphans')).filter((e) =>
      e.reason.startsWith('AlertProvider'),
    );
    expect(warnings).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          reason: 'AlertProviderInvalid',
          note:
            `AlertProvider ${namespace}/no-secret (alert pager): Secret ${namespace}/no-secret-address ` +
            'named by spec.secretRef not found; create it or fix spec.secretRef',
        }),
        expect.objectContaining({
          reason: 'AlertProviderMissing',
          note: `AlertProvider ${namespace}/ghost (alert ghost) not found; create it or fix providerRef`,
        }),
      ]),
    );
    expect(operator.exited()).toBe(false);
  }, 240_000);
});
