import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { CanaryStatus } from '../../../src/api/index.ts';
import { inPhase, waitForCanary } from '../../harness/canary.ts';
import { kubectl } from '../../harness/control-plane.ts';
import { createTestNamespace, integrationEnv } from '../../harness/env.ts';
import { startOperatorProcess, type OperatorProcess } from '../../harness/operator.ts';
import { waitFor } from '../../harness/processes.ts';
import { startFakeGatewayController, type FakeGatewayController } from '../../harness/third-party.ts';
import { apply } from './fixtures.ts';
import { startHookServer, type HookServer } from './hook-server.ts';
import { field, routeWeights } from './sampling.ts';

// A core Service target through the operator: the Service's spec is the release (here its
// selector, as when traffic moves from one set of pods to another), Fledge keeps the
// `-primary` and `-canary` copies, and the gatewayapi router splits between them. A
// rollout webhook decides whether a release passes. The kubernetes router cannot route
// a Service target and is refused, saying why.

describe('core Service target', () => {
  const { kubeconfigPath } = integrationEnv();
  let namespace: string;
  let operator: OperatorProcess;
  let gateway: FakeGatewayController;
  let hooks: HookServer;

  const service = (name: string, version: string) => ({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace },
    spec: { selector: { app: `${name}-${version}` }, ports: [{ name: 'http', port: 9898 }] },
  });
  const canary = (name: string, spec: Record<string, unknown>) => ({
    apiVersion: 'fledge.dev/v1beta1',
    kind: 'Canary',
    metadata: { name, namespace },
    spec: { targetRef: { apiVersion: 'v1', kind: 'Service', name }, service: { port: 9898 }, ...spec },
  });
  const selectorOf = (name: string) =>
    field(kubeconfigPath, namespace, 'service', name, '{.spec.selector.app}');

  beforeAll(async () => {
    namespace = await createTestNamespace('svc-target');
    hooks = await startHookServer();
    gateway = startFakeGatewayController(kubeconfigPath, namespace);
    operator = await startOperatorProcess({ kubeconfigPath, namespace });
  }, 60_000);
  afterAll(async () => {
    await operator?.stop();
    await gateway?.stop();
    await hooks?.close();
  });

  it('promotes a new Service spec into the primary copy, and rolls a failing one back; deletion leaves the target', async () => {
    await apply(
      kubeconfigPath,
      service('web', 'v1'),
      canary('web', {
        provider: 'gatewayapi:v1',
        service: { port: 9898, gatewayRefs: [{ name: 'public', namespace: 'gateways' }] },
        analysis: {
          interval: '10s',
          threshold: 1,
          maxWeight: 50,
          stepWeight: 50,
          webhooks: [{ name: 'smoke', type: 'rollout', url: `${hooks.base}/smoke`, timeout: '5s' }],
        },
      }),
    );
    await waitForCanary(kubeconfigPath, namespace, 'web', inPhase('Initialized'), { what: 'initialisation' });
    expect(await selectorOf('web-primary')).toBe('web-v1');
    expect(await routeWeights(kubeconfigPath, namespace, 'web')).toBe('web-primary=100 web-canary=0');

    await apply(kubeconfigPath, service('web', 'v2'));
    const promoted = await waitForCanary(kubeconfigPath, namespace, 'web', inPhase('Succeeded', 'Failed'));
    expect(promoted.status.phase).toBe('Succeeded');
    expect(promoted.path).toContain('Progressing:50');
    expect(await selectorOf('web-primary')).toBe('web-v2');
    expect(await selectorOf('web-canary')).toBe('web-v2');
    expect(await routeWeights(kubeconfigPath, namespace, 'web')).toBe('web-primary=100 web-canary=0');
    // Fledge never rewrites the target itself.
    expect(await selectorOf('web')).toBe('web-v2');

    hooks.answerWith(() => ({ status: 500, body: 'smoke test failed' }));
    await apply(kubeconfigPath, service('web', 'v3'));
    const failed = await waitForCanary(kubeconfigPath, namespace, 'web', inPhase('Failed'), {
      what: 'rollback of web-v3',
    });
    expect(failed.status.failedChecks).toBe(1);
    expect(await selectorOf('web-primary')).toBe('web-v2');
    expect(await selectorOf('web-canary')).toBe('web-v3');
    expect(await routeWeights(kubeconfigPath, namespace, 'web')).toBe('web-primary=100 web-canary=0');

    // Deleting the Canary takes the copies with it and leaves the target as it is.
    await kubectl(kubeconfigPath, [
      '-n',
      namespace,
      'delete',
      'canary',
      'web',
      '--wait=true',
      '--timeout=60s',
    ]);
    const gone = (name: string) =>
      kubectl(kubeconfigPath, ['-n', namespace, 'get', 'service', name]).then(
        () => false,
        () => true,
      );
    await waitFor(
      'the copies to be garbage-collected',
      async () => (await gone('web-primary')) && (await gone('web-canary')),
    );
    expect(await selectorOf('web')).toBe('web-v3');
  }, 180_000);

  it('refuses the kubernetes router for a Service target, naming the fix', async () => {
    await apply(
      kubeconfigPath,
      service('plain', 'v1'),
      canary('plain', { provider: 'kubernetes', analysis: { interval: '10s', threshold: 1, iterations: 2 } }),
    );
    const ready = (s: CanaryStatus) => s.conditions?.find((c) => c.type === 'Ready');
    const { status } = await waitForCanary(
      kubeconfigPath,
      namespace,
      'plain',
      (s) => ready(s)?.status === 'False' && ready(s)?.reason === 'UnsupportedTarget',
      { what: 'refusal', timeoutMs: 60_000 },
    );
    expect(ready(status)?.message).toMatch(/provider kubernetes can only switch the apex Service's selector/);
    expect(ready(status)?.message).toContain('set spec.provider to a router that splits between Services');
    // Nothing was copied or rewritten.
    await expect(
      kubectl(kubeconfigPath, ['-n', namespace, 'get', 'service', 'plain-primary']),
    ).rejects.toThrow(/not found/);
    expect(await selectorOf('plain')).toBe('plain-v1');
  }, 90_000);
});
