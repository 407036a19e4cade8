import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { kubectl } from '../../harness/control-plane.ts';
import { createTestNamespace, integrationEnv } from '../../harness/env.ts';
import { canaryStatus, imageOf, inPhase, waitForCanary } from '../../harness/canary.ts';
import { startLoadTester } from '../../harness/loadtester.ts';
import { startOperatorProcess } from '../../harness/operator.ts';
import { waitFor } from '../../harness/processes.ts';
import { apply, canary, deployment, setImage } from '../controller/fixtures.ts';

describe('fledge loadtester', () => {
  const { kubeconfigPath } = integrationEnv();
  let namespace: string;
  let target: Server;
  let hits = 0;

  beforeAll(async () => {
    namespace = await createTestNamespace('loadtester');
    target = createServer((_req, res) => {
      hits++;
      res.end('ok');
    });
    await new Promise<void>((done) => target.listen(0, '127.0.0.1', done));
  });
  afterAll(() => {
    target?.close();
  });

  it('keeps gates in a ConfigMap per Canary, so a restarted load tester still knows them', async () => {
    const canary = { name: 'podinfo', namespace: 'apps' };
    let tester = await startLoadTester({
      kubeconfigPath,
      gateNamespace: namespace,
      args: ['--allow-command=echo [a-z]+'],
    });
    try {
      expect((await tester.post('/gate/check', canary)).status).toBe(403);
      expect((await tester.post('/gate/open', canary)).status).toBe(202);
      expect((await tester.post('/rollback/open', canary)).status).toBe(202);
      expect((await tester.post('/rollback/close', canary)).status).toBe(202);
    } finally {
      await tester.stop();
    }
    const data = await kubectl(kubeconfigPath, [
      '-n',
      namespace,
      'get',
      'configmap',
      'fledge-gates-apps.podinfo',
      '-o',
      'jsonpath={.data}',
    ]);
    expect(JSON.parse(data)).toEqual({ gate: 'open', rollback: 'closed' });

    tester = await startLoadTester({
      kubeconfigPath,
      gateNamespace: namespace,
      args: ['--allow-command=echo [a-z]+'],
    });
    try {
      expect(await tester.post('/gate/check', canary)).toEqual({ status: 200, text: 'gate open\n' });
      expect((await tester.post('/rollback/check', canary)).status).toBe(403);
      expect((await tester.post('/gate/check', { ...canary, name: 'other' })).status).toBe(403);
    } finally {
      await tester.stop();
    }
  });

  it('generates the load a hey command asks for, and counts the answers in its metrics', async () => {
    const tester = await startLoadTester({
      kubeconfigPath,
      gateNamespace: namespace,
      args: ['--allow-command=echo [a-z]+'],
    });
    try {
      const url = `http://127.0.0.1:${(target.address() as AddressInfo).port}/`;
      const hook = { name: 'podinfo', namespace: 'apps', metadata: { cmd: `hey -n 30 -c 2 ${url}` } };
      expect((await tester.post('/', hook)).status).toBe(202);
      await waitFor('30 requests', async () => hits >= 30);
      await waitFor('the responses counted', async () => {
        const metrics = await (await fetch(`${tester.telemetry}/metrics`)).text();
        return /fledge_loadtester_responses_total\{code="200"\} 30\b/.test(metrics);
      });
      expect(hits).toBe(30);
      expect(await tester.post('/', { ...hook, metadata: { type: 'bash', cmd: 'echo ready' } })).toEqual({
        status: 200,
        text: 'ready\n',
      });
    } finally {
      await tester.stop();
    }
  });

  it('holds a release at its confirm-promotion gate until the gate is opened, through the operator', async () => {
    const tester = await startLoadTester({ kubeconfigPath, gateNamespace: namespace });
    const operator = await startOperatorProcess({ kubeconfigPath, namespace });
    try {
      await apply(
        kubeconfigPath,
        deployment(namespace, 'gated', 'example/app:1'),
        canary(namespace, 'gated', {
          analysis: {
            interval: '10s',
            threshold: 1,
            iterations: 1,
            webhooks: [{ name: 'approval', type: 'confirm-promotion', url: `${tester.url}/gate/check` }],
          },
        }),
      );
      await waitForCanary(kubeconfigPath, namespace, 'gated', inPhase('Initialized'));
      await setImage(kubeconfigPath, namespace, 'gated', 'example/app:2');
      await waitForCanary(kubeconfigPath, namespace, 'gated', inPhase('WaitingPromotion'));
      // A closed gate holds: the operator asks again and again, and the load tester says no.
      await waitFor(
        'two closed-gate answers',
        async () => {
          const metrics = await (await fetch(`${tester.telemetry}/metrics`)).text();
          const line =
            /fledge_loadtester_gate_requests_total\{gate="gate",action="check",code="403"\} (\d+)/.exec(
              metrics,
            );
          return Number(line?.[1] ?? 0) >= 2;
        },
        60_000,
      );
      expect((await canaryStatus(kubeconfigPath, namespace, 'gated')).phase).toBe('WaitingPromotion');
      expect(await imageOf(kubeconfigPath, namespace, 'gated-primary')).toBe('example/app:1');

      expect((await tester.post('/gate/open', { name: 'gated', namespace })).status).toBe(202);
      const { status } = await waitForCanary(
        kubeconfigPath,
        namespace,
        'gated',
        inPhase('Succeeded', 'Failed'),
      );
      expect(status.phase).toBe('Succeeded');
      expect(await imageOf(kubeconfigPath, namespace, 'gated-primary')).toBe('example/app:2');
    } finally {
      await operator.stop();
      await tester.stop();
    }
  }, 180_000);
});
