import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { CanaryStatus, Condition } from '../../../src/api/index.ts';
import { createStatusCommand } from '../../../src/cli/status.ts';
import { canaryStatus, inPhase, waitForCanary } from '../../harness/canary.ts';
import { kubectl } from '../../harness/control-plane.ts';
import { createTestNamespace, integrationEnv } from '../../harness/env.ts';
import { startOperatorProcess, type OperatorProcess } from '../../harness/operator.ts';
import { captureIO } from '../../unit/cli/capture.ts';
import { apply, canary, deployment, setImage } from './fixtures.ts';

// Canaries Fledge cannot act on as written, next to a healthy one in the same
// namespace: each is refused with Ready=False and its reason, exactly one Warning
// event, no back-off loop and no traffic moved; fixing it lets it proceed without
// restarting the operator.

const blueGreen = { interval: '10s', threshold: 1, iterations: 2 };

/** The labels Flux's kustomize-controller puts on what it applies, naming a Kustomization that is not there. */
function fluxApplied(object: object): object {
  const labels = {
    'kustomize.toolkit.fluxcd.io/name': 'gone-apps',
    'kustomize.toolkit.fluxcd.io/namespace': 'flux-system',
  };
  const withMeta = object as { metadata: Record<string, unknown> };
  return { ...withMeta, metadata: { ...withMeta.metadata, labels } };
}

function template(namespace: string, name: string, type: string): object {
  return {
    apiVersion: 'fledge.dev/v1beta1',
    kind: 'MetricTemplate',
    metadata: { name, namespace },
    spec: { provider: { type, address: 'http://metrics.invalid:9090' }, query: 'vector(1)' },
  };
}

const withMetric = (templateName: string) => ({
  analysis: {
    ...blueGreen,
    metrics: [{ name: 'errors', templateRef: { name: templateName }, thresholdRange: { max: 1 } }],
  },
});

interface Case {
  name: string;
  reason: string;
  /** What the message must say: the field, or the fix. */
  says: string;
  objects: (namespace: string) => object[];
  fix: (namespace: string) => Promise<void>;
}

const patchCanary = (namespace: string, name: string, patch: object[]) =>
  kubectl(integrationEnv().kubeconfigPath, [
    '-n',
    namespace,
    'patch',
    'canary',
    name,
    '--type=json',
    '-p',
    JSON.stringify(patch),
  ]);

const cases: Case[] = [
  {
    name: 'appmesh',
    reason: 'ProviderUnavailable',
    says: 'provider "appmesh" is refused: AWS discontinued App Mesh',
    objects: (ns) => [
      deployment(ns, 'appmesh', 'example/web:1'),
      canary(ns, 'appmesh', { provider: 'appmesh', analysis: blueGreen }),
    ],
    fix: async (ns) => {
      await patchCanary(ns, 'appmesh', [{ op: 'replace', path: '/spec/provider', value: 'kubernetes' }]);
    },
  },
  {
    name: 'svc-target',
    reason: 'UnsupportedTarget',
    says: 'spec.targetRef: a Service target is split between its -primary and -canary copies',
    objects: (ns) => [
      deployment(ns, 'svc-target', 'example/web:1'),
      canary(ns, 'svc-target', {
        targetRef: { apiVersion: 'v1', kind: 'Service', name: 'svc-target' },
        analysis: blueGreen,
      }),
    ],
    fix: async (ns) => {
      await patchCanary(ns, 'svc-target', [
        {
          op: 'replace',
          path: '/spec/targetRef',
          value: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'svc-target' },
        },
      ]);
    },
  },
  {
    name: 'ab',
    reason: 'CapabilityMissing',
    says: 'spec.analysis.match',
    objects: (ns) => [
      deployment(ns, 'ab', 'example/web:1'),
      canary(ns, 'ab', {
        analysis: { ...blueGreen, match: [{ headers: { 'x-canary': { exact: 'insider' } } }] },
      }),
    ],
    fix: async (ns) => {
      await patchCanary(ns, 'ab', [{ op: 'remove', path: '/spec/analysis/match' }]);
    },
  },
  {
    name: 'retries',
    reason: 'CapabilityMissing',
    says: 'spec.service.retries',
    objects: (ns) => [
      deployment(ns, 'retries', 'example/web:1'),
      canary(ns, 'retries', { service: { port: 9898, retries: { attempts: 3 } }, analysis: blueGreen }),
    ],
    fix: async (ns) => {
      await patchCanary(ns, 'retries', [{ op: 'remove', path: '/spec/service/retries' }]);
    },
  },
  {
    name: 'selector',
    reason: 'TargetInvalid',
    says: 'spec.selector.matchLabels has none of the labels',
    objects: (ns) => [unlabelled(ns, 'selector'), canary(ns, 'selector', { analysis: blueGreen })],
    fix: async (ns) => {
      // A Deployment's selector cannot change: replace the Deployment.
      const { kubeconfigPath } = integrationEnv();
      await kubectl(kubeconfigPath, ['-n', ns, 'delete', 'deployment', 'selector', '--wait=true']);
      await apply(kubeconfigPath, deployment(ns, 'selector', 'example/web:1'));
    },
  },
  {
    name: 'no-template',
    reason: 'TemplateMissing',
    says: 'MetricTemplate',
    objects: (ns) => [
      deployment(ns, 'no-template', 'example/web:1'),
      canary(ns, 'no-template', withMetric('absent')),
    ],
    fix: async (ns) => apply(integrationEnv().kubeconfigPath, template(ns, 'absent', 'prometheus')),
  },
];

/** A Deployment whose selector carries none of the labels Fledge builds selectors from. */
function unlabelled(namespace: string, name: string): object {
  const object = deployment(namespace, name, 'example/web:1') as {
    spec: {
      selector: { matchLabels: Record<string, string> };
      template: { metadata: { labels: Record<string, string> } };
    };
  };
  object.spec.selector.matchLabels = { tier: name };
  object.spec.template.metadata.labels = { tier: name };
  return object;
}

const readyOf = (status: CanaryStatus): Condition | undefined =>
  status.conditions?.find((c) => c.type === 'Ready');

interface EventObject {
  reason?: string;
  type?: string;
  regarding?: { kind?: string; name?: string };
  series?: { count?: number };
}

async function warningsFor(kubeconfigPath: string, namespace: string, name: string): Promise<EventObject[]> {
  const out = await kubectl(kubeconfigPath, ['get', 'events.events.k8s.io', '-n', namespace, '-o', 'json']);
  return (JSON.parse(out) as { items: EventObject[] }).items.filter(
    (e) => e.type === 'Warning' && e.regarding?.kind === 'Canary' && e.regarding.name === name,
  );
}

async function exists(
  kubeconfigPath: string,
  namespace: string,
  kind: string,
  name: string,
): Promise<boolean> {
  const out = await kubectl(kubeconfigPath, [
    '-n',
    namespace,
    'get',
    kind,
    name,
    '--ignore-not-found',
    '-o',
    'name',
  ]);
  return out.trim() !== '';
}

describe('Canaries Fledge cannot act on as written', () => {
  const { kubeconfigPath } = integrationEnv();
  let namespace: string;
  let operator: OperatorProcess;

  beforeAll(async () => {
    namespace = await createTestNamespace('unworkable');
    operator = await startOperatorProcess({ kubeconfigPath, namespace });
  }, 60_000);
  afterAll(async () => operator?.stop());

  it('are refused once, loudly, move no traffic, and proceed once fixed; a healthy one promotes', async () => {
    await apply(
      kubeconfigPath,
      deployment(namespace, 'healthy', 'example/web:1'),
      canary(namespace, 'healthy', { provider: 'kubernetes', analysis: blueGreen }),
      deployment(namespace, 'ignored', 'example/web:1'),
      canary(namespace, 'ignored', {
        service: { port: 9898, unmanagedMetadata: { labels: ['team'] } },
        analysis: blueGreen,
      }),
      // Applied by a Flux Kustomization that cannot be read (gone, or its CRD not installed).
      fluxApplied(deployment(namespace, 'sourceless', 'example/web:1')),
      canary(namespace, 'sourceless', { analysis: blueGreen }),
      ...cases.flatMap((c) => c.objects(namespace)),
    );

    for (const c of cases) {
      const { status } = await waitForCanary(
        kubeconfigPath,
        namespace,
        c.name,
        (s) => readyOf(s)?.status === 'False' && readyOf(s)?.reason === c.reason,
        { what: `${c.name} refused with ${c.reason}`, timeoutMs: 60_000 },
      );
      expect(readyOf(status)?.message).toContain(c.says);
    }

    // Meanwhile the healthy Canary goes through a whole release.
    await waitForCanary(kubeconfigPath, namespace, 'healthy', inPhase('Initialized'), {
      what: 'healthy initialised',
    });
    await setImage(kubeconfigPath, namespace, 'healthy', 'example/web:2');
    const healthy = await waitForCanary(kubeconfigPath, namespace, 'healthy', inPhase('Succeeded', 'Failed'));
    expect(healthy.status.phase).toBe('Succeeded');

    // A field nothing reads is named, once, and changes nothing else.
    const { status: ignored } = await waitForCanary(
      kubeconfigPath,
      namespace,
      'ignored',
      inPhase('Initialized'),
      {
        what: 'ignored initialised',
      },
    );
    expect(readyOf(ignored)).toMatchObject({ status: 'True' });
    expect(readyOf(ignored)?.message).toContain(
      'ignored: spec.service.unmanagedMetadata is not read by Fledge',
    );
    expect((await warningsFor(kubeconfigPath, namespace, 'ignored')).map((e) => e.reason)).toEqual([
      'FieldsIgnored',
    ]);

    // A commit that cannot be known is said in Ready, not only logged, and holds nothing up.
    const { status: sourceless } = await waitForCanary(
      kubeconfigPath,
      namespace,
      'sourceless',
      (s) => s.phase === 'Initialized' && (readyOf(s)?.message ?? '').includes('no commit recorded'),
      { what: 'sourceless initialised, saying why it records no commit' },
    );
    expect(readyOf(sourceless)?.status).toBe('True');
    expect(readyOf(sourceless)?.message).toContain(
      'ignored: no commit recorded: Kustomization flux-system/gone-apps not read (',
    );
    expect((await warningsFor(kubeconfigPath, namespace, 'sourceless')).map((e) => e.reason)).toEqual([
      'FieldsIgnored',
    ]);

    // Long enough for a retry loop, and for an event series to have been written.
    for (const c of cases) {
      expect(await exists(kubeconfigPath, namespace, 'deployment', `${c.name}-primary`)).toBe(false);
      expect(await exists(kubeconfigPath, namespace, 'service', `${c.name}-canary`)).toBe(false);
      expect(await exists(kubeconfigPath, namespace, 'service', `${c.name}-primary`)).toBe(false);
      const status = await canaryStatus(kubeconfigPath, namespace, c.name);
      expect(status.canaryWeight ?? 0).toBe(0);
      const warnings = await warningsFor(kubeconfigPath, namespace, c.name);
      expect(warnings.map((e) => e.reason)).toEqual([c.reason]);
      expect(warnings[0]?.series?.count ?? 1).toBe(1);
    }
    const retried = (await operator.logs()).filter(
      (line) =>
        line.msg === 'reconcile failed; retrying with back-off' &&
        cases.some((c) => String(line.canary) === `${namespace}/${c.name}`),
    );
    expect(retried).toEqual([]);

    // `fledge status` says why.
    const cap = captureIO();
    const status = createStatusCommand({ io: cap.io });
    expect(await status.run(['ab', '--kubeconfig', kubeconfigPath, '-n', namespace])).toBe(0);
    expect(cap.out()).toMatch(/Refused: +CapabilityMissing: spec\.analysis\.match/);

    // Fixed, each one proceeds with the same operator process.
    for (const c of cases) await c.fix(namespace);
    for (const c of cases) {
      const { status: fixed } = await waitForCanary(
        kubeconfigPath,
        namespace,
        c.name,
        inPhase('Initialized'),
        {
          what: `${c.name} initialised once fixed`,
          timeoutMs: 120_000,
        },
      );
      expect(readyOf(fixed)?.status).toBe('True');
    }
    expect(operator.exited()).toBe(false);
  }, 480_000);

  it('refuses a second Canary on a target another one releases, until that one is gone', async () => {
    const onShared = { targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'shared' } };
    const owners = () =>
      kubectl(kubeconfigPath, [
        '-n',
        namespace,
        'get',
        'deploy',
        'shared-primary',
        '-o',
        'jsonpath={.metadata.ownerReferences[*].name}',
      ]);
    await apply(
      kubeconfigPath,
      deployment(namespace, 'shared', 'example/shared:1'),
      canary(namespace, 'holder', { ...onShared, analysis: blueGreen }),
    );
    await waitForCanary(kubeconfigPath, namespace, 'holder', inPhase('Initialized'), {
      what: 'holder initialised',
    });
    await apply(kubeconfigPath, canary(namespace, 'second', { ...onShared, analysis: blueGreen }));
    const { status } = await waitForCanary(
      kubeconfigPath,
      namespace,
      'second',
      (s) => readyOf(s)?.reason === 'TargetClaimed',
      { what: 'second refused', timeoutMs: 60_000 },
    );
    expect(readyOf(status)).toMatchObject({
      status: 'False',
      message: expect.stringContaining('Deployment shared is already released by Canary holder'),
    });
    expect((await warningsFor(kubeconfigPath, namespace, 'second')).map((e) => e.reason)).toEqual([
      'TargetClaimed',
    ]);
    // The primary is the holder's alone.
    expect(await owners()).toBe('holder');

    await kubectl(kubeconfigPath, ['-n', namespace, 'delete', 'canary', 'holder', '--wait=false']);
    await waitForCanary(kubeconfigPath, namespace, 'second', inPhase('Initialized'), {
      what: 'second to take the target over',
      timeoutMs: 120_000,
    });
    expect(await owners()).toBe('second');
  }, 240_000);
});
