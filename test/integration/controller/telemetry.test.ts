import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { inPhase, waitForCanary } from '../../harness/canary.ts';
import { createTestNamespace, integrationEnv } from '../../harness/env.ts';
import { startOperatorProcess, type OperatorProcess } from '../../harness/operator.ts';
import { repoRoot, waitFor } from '../../harness/processes.ts';
import { version } from '../../../src/version.ts';
import { apply, canary, deployment, setImage } from './fixtures.ts';
import { startHookServer, type HookServer } from './hook-server.ts';

const SECRET = 'secret123';

/** The value of the series `name` whose labels include `labels`, from Prometheus text exposition. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = Object.fromEntries(
      [...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]),
    );
    if (Object.entries(labels).every(([key, value]) => have[key] === value)) return Number(match[3]);
  }
  return undefined;
}

describe('operator telemetry: /metrics, health, logs', () => {
  const { kubeconfigPath } = integrationEnv();
  let namespace: string;
  let operator: OperatorProcess;
  let hooks: HookServer;

  beforeAll(async () => {
    namespace = await createTestNamespace('telemetry');
    hooks = await startHookServer();
    // The first rollout call and its retry fail with a body that echoes the URL (token
    // included), as a careless endpoint would; the event webhook always does.
    let rolloutCalls = 0;
    hooks.answerWith((call) => {
      if (call.url.startsWith('/events')) return { status: 500, body: `rejected ${hooks.base}${call.url}` };
      rolloutCalls++;
      return rolloutCalls <= 2
        ? { status: 503, body: `not yet: ${hooks.base}${call.url}` }
        : { status: 200, body: 'ok' };
    });
    operator = await startOperatorProcess({
      kubeconfigPath,
      namespace,
      args: [`--event-webhook=${hooks.base}/events?token=${SECRET}`],
    });
  });
  afterAll(async () => {
    await operator?.stop();
    await hooks?.close();
  });

  it('answers /healthz and /readyz once synced', async () => {
    await waitFor(
      '/readyz to answer 200',
      async () => (await fetch(`${operator.url}/readyz`)).status === 200,
    );
    const healthz = await fetch(`${operator.url}/healthz`);
    expect(healthz.status).toBe(200);
    expect(await healthz.text()).toMatch(/ok\s*$/);
    expect((await operator.logs()).some((line) => line.msg === 'watching canaries')).toBe(true);
  });

  it('exposes canary, reconcile and work-queue metrics during and after a run, and logs without secrets', async () => {
    await apply(
      kubeconfigPath,
      deployment(namespace, 'web', 'example/web:1'),
      canary(namespace, 'web', {
        provider: 'kubernetes',
        analysis: {
          interval: '10s',
          threshold: 2,
          iterations: 2,
          webhooks: [
            {
              name: 'smoke',
              type: 'rollout',
              url: `${hooks.base}/hook?token=${SECRET}`,
              timeout: '5s',
              retries: 1,
            },
          ],
        },
      }),
    );
    await waitForCanary(kubeconfigPath, namespace, 'web', inPhase('Initialized'), { what: 'initialisation' });
    await setImage(kubeconfigPath, namespace, 'web', 'example/web:2');
    await waitForCanary(kubeconfigPath, namespace, 'web', inPhase('Progressing'), { what: 'the run' });

    const scrape = async () => {
      const response = await fetch(`${operator.url}/metrics`);
      expect(response.status).toBe(200);
      return response.text();
    };
    const canaryLabels = { name: 'web', namespace };
    const during = await scrape();
    expect(sample(during, 'fledge_info', { version, mesh_provider: 'kubernetes' })).toBe(1);
    expect(sample(during, 'fledge_canary_status', canaryLabels)).toBe(0);
    expect(sample(during, 'fledge_canary_total', { namespace })).toBe(1);
    // Blue/green analyses without production traffic: the primary keeps it all.
    expect(sample(during, 'fledge_canary_weight', { workload: 'web', namespace })).toBe(0);
    expect(sample(during, 'fledge_canary_weight', { workload: 'web-primary', namespace })).toBe(100);
    expect(sample(during, 'fledge_reconcile_total', { result: 'requeue_after' })).toBeGreaterThan(0);
    expect(sample(during, 'fledge_reconcile_time_seconds_count')).toBeGreaterThan(0);
    const queue = { name: 'canary' };
    expect(sample(during, 'fledge_workqueue_adds_total', queue)).toBeGreaterThan(0);
    expect(sample(during, 'fledge_workqueue_depth', queue)).toBeGreaterThanOrEqual(0);
    expect(sample(during, 'fledge_workqueue_work_duration_seconds_count', queue)).toBeGreaterThan(0);
    expect(sample(during, 'fledge_workqueue_queue_duration_seconds_count', queue)).toBeGreaterThan(0);
    expect(sample(during, 'fledge_workqueue_unfinished_work_seconds', queue)).toBeGreaterThanOrEqual(0);
    expect(sample(during, 'fledge_workqueue_retries_total', queue)).toBeGreaterThanOrEqual(0);

    const { status } = await waitForCanary(kubeconfigPath, namespace, 'web', inPhase('Succeeded', 'Failed'));
    expect(status.phase).toBe('Succeeded');
    const after = await scrape();
    expect(sample(after, 'fledge_canary_status', canaryLabels)).toBe(1);
    expect(sample(after, 'fledge_canary_successes_total', canaryLabels)).toBe(1);
    expect(sample(after, 'fledge_canary_failures_total', canaryLabels) ?? 0).toBe(0);
    expect(sample(after, 'fledge_canary_duration_seconds_count', canaryLabels)).toBe(1);
    expect(sample(after, 'fledge_canary_weight', { workload: 'web', namespace })).toBe(0);
    expect(sample(after, 'fledge_reconcile_total', { result: 'requeue_after' })).toBeGreaterThan(
      sample(during, 'fledge_reconcile_total', { result: 'requeue_after' }) as number,
    );

    // docs/metrics.md lists exactly the fledge_* families the operator exports.
    const exported = [...after.matchAll(/^# HELP (fledge_\w+)/gm)].map((m) => m[1]).sort();
    const reference = await readFile(join(repoRoot, 'docs/metrics.md'), 'utf8');
    const documented = [...reference.matchAll(/^\| `(fledge_\w+)`/gm)].map((m) => m[1]).sort();
    expect(exported.length).toBeGreaterThan(20);
    expect(exported).toEqual(documented);

    // The failing hook and event webhook really were called with the token (so the
    // operator had it in hand) and the rollout hook's failure was counted.
    expect(hooks.calls.some((call) => call.url === `/hook?token=${SECRET}`)).toBe(true);
    expect(hooks.calls.some((call) => call.url === `/events?token=${SECRET}`)).toBe(true);
    expect(status.failedChecks).toBe(1);

    const raw = await operator.rawLog();
    const lines = raw.split('\n').filter((line) => line.trim() !== '');
    // Every line is a JSON object: nothing (warnings, stack traces) bypasses the logger.
    for (const line of lines) expect(() => JSON.parse(line) as unknown).not.toThrow();
    expect(raw).not.toContain(SECRET);
    const logs = lines.map((line) => JSON.parse(line) as Record<string, unknown>);

    // Reconciles log with their canary and a fresh reconcile id each.
    const decided = logs.filter((line) => line.msg === 'decided');
    expect(decided.length).toBeGreaterThan(2);
    for (const line of decided) {
      expect(line).toMatchObject({ controller: 'canary', namespace, name: 'web' });
      expect(line.reconcileID).toMatch(/^[0-9a-f-]{36}$/);
    }
    expect(new Set(decided.map((line) => line.reconcileID)).size).toBe(decided.length);
    // Lines about the canary's hooks say which canary they are about.
    const hookLines = logs.filter((line) => line.hook === 'smoke');
    expect(hookLines.length).toBeGreaterThan(0);
    for (const line of hookLines) expect(line).toMatchObject({ namespace, canary: 'web' });
  }, 180_000);
});
