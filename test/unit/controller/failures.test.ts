import { describe, expect, it } from '@jest/globals';
import type { AlertProvider, Canary, MetricTemplate, NormalizedCanarySpec } from '../../../src/api/index.ts';
import { normalizeCanary } from '../../../src/api/index.ts';
import { ProviderError } from '../../../src/analysis/index.ts';
import { classifyError, TerminalError } from '../../../src/controller/failures.ts';
import { createPreflight } from '../../../src/controller/preflight.ts';
import { ReferenceUnreadableError } from '../../../src/controller/references.ts';
import { KubeRequestError } from '../../../src/kube/errors.ts';
import { RouterConfigError } from '../../../src/routers/index.ts';
import { WorkloadConfigError, type TargetShape } from '../../../src/workloads/index.ts';

describe('classifyError', () => {
  it('calls errors a retry cannot fix terminal, with their reason', () => {
    expect(classifyError(new TerminalError('TemplateMissing', 'gone'))).toEqual({
      terminal: true,
      reason: 'TemplateMissing',
      message: 'gone',
    });
    expect(classifyError(new RouterConfigError('no istio', 'ProviderUnavailable'))).toMatchObject({
      terminal: true,
      reason: 'ProviderUnavailable',
    });
    expect(classifyError(new RouterConfigError('cannot mirror'))).toMatchObject({
      terminal: true,
      reason: 'CapabilityMissing',
    });
    expect(classifyError(new WorkloadConfigError('UnsupportedTarget', 'a Service'))).toMatchObject({
      terminal: true,
      reason: 'UnsupportedTarget',
    });
    expect(classifyError(new WorkloadConfigError('TargetInvalid', 'no label'))).toMatchObject({
      terminal: true,
      reason: 'TargetInvalid',
    });
    expect(classifyError(new ProviderError('config', 'unknown type datadog'))).toMatchObject({
      terminal: true,
      reason: 'MetricProviderUnavailable',
    });
  });

  it('calls everything else transient, by kind', () => {
    const kube = (code: number, reason: string) => new KubeRequestError({ code, reason, message: reason });
    expect(classifyError(kube(409, 'Conflict'))).toMatchObject({ terminal: false, reason: 'conflict' });
    expect(classifyError(kube(503, 'ServiceUnavailable'))).toMatchObject({
      terminal: false,
      reason: 'server_error',
    });
    expect(classifyError(kube(504, 'Timeout'))).toMatchObject({ terminal: false, reason: 'timeout' });
    expect(classifyError(kube(429, 'TooManyRequests'))).toMatchObject({
      terminal: false,
      reason: 'throttled',
    });
    expect(classifyError(new Error('route not yet Accepted'))).toMatchObject({
      terminal: false,
      reason: 'other',
    });
    expect(classifyError(new ProviderError('connection', 'refused'))).toMatchObject({ terminal: false });
  });
});

function specOf(overrides: Record<string, unknown>): NormalizedCanarySpec {
  return normalizeCanary(
    {
      metadata: { name: 'podinfo', namespace: 'team' },
      spec: {
        targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
        service: { port: 9898 },
        analysis: { interval: '1m', iterations: 3, threshold: 2 },
        ...overrides,
      },
    } as never,
    { defaultProvider: 'kubernetes' },
  ).spec;
}

const template = (type: string) =>
  ({ spec: { provider: { type }, query: 'up' } }) as unknown as MetricTemplate;

/** A Canary as the informer cache holds it, on target podinfo unless told otherwise. */
const cached = (name: string, created: string, target = 'podinfo'): Canary =>
  ({
    metadata: { name, namespace: 'team', uid: `uid-${name}`, creationTimestamp: created },
    spec: { targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: target } },
  }) as unknown as Canary;

/** A Deployment as the informer cache holds it. */
const workload = (replicas: number, ports: { name?: string; containerPort: number }[]): TargetShape => ({
  spec: { replicas, template: { spec: { containers: [{ name: 'app', ports }] } } },
});

describe('preflight', () => {
  const subject = cached('podinfo', '2026-12-01T10:00:00Z');
  let workloads: Record<string, TargetShape> = {};
  let canaries: Canary[] = [subject];
  const templates: Record<string, MetricTemplate> = {
    latency: template('prometheus'),
    dd: template('datadog'),
  };
  const preflight = createPreflight({
    getMetricTemplate: async (_namespace, name) => {
      if (name === 'forbidden')
        throw new ReferenceUnreadableError('MetricTemplate x/forbidden: move it into team');
      return templates[name];
    },
    metricProviderTypes: ['prometheus'],
    canariesIn: () => canaries,
    getWorkload: (kind, _namespace, name) => (kind === 'Deployment' ? workloads[name] : undefined),
    getAlertProvider: async (namespace, name) => {
      if (name === 'forbidden')
        throw new ReferenceUnreadableError(`AlertProvider ${namespace}/forbidden: move it into team`);
      if (name === 'flaky') throw new Error('connection reset');
      return name === 'slack' ? ({ spec: { type: 'slack' } } as unknown as AlertProvider) : undefined;
    },
  });
  const withMetric = (name: string) =>
    specOf({
      analysis: {
        interval: '1m',
        iterations: 3,
        threshold: 2,
        metrics: [{ name: 'm', templateRef: { name }, thresholdRange: { max: 1 } }],
      },
    });

  it('lets a Canary the provider can route through', async () => {
    await expect(preflight(subject, withMetric('latency'), undefined)).resolves.toEqual([]);
  });

  it('refuses an A/B Canary under kubernetes as CapabilityMissing', async () => {
    const spec = specOf({
      analysis: { interval: '1m', iterations: 3, threshold: 2, match: [{ headers: { x: { exact: 'y' } } }] },
    });
    await expect(preflight(subject, spec, undefined)).rejects.toMatchObject({
      reason: 'CapabilityMissing',
      message: expect.stringContaining('spec.analysis.match'),
    });
  });

  it('refuses a gatewayapi Canary without the Gateways its HTTPRoute attaches to', async () => {
    await expect(
      preflight(
        subject,
        specOf({ provider: 'gatewayapi:v1', analysis: { interval: '1m', stepWeight: 10 } }),
        undefined,
      ),
    ).rejects.toMatchObject({
      reason: 'RouteRefMissing',
      message: expect.stringContaining('spec.service.gatewayRefs'),
    });
  });

  it('refuses a gatewayapi Canary whose A/B match no HTTPRoute can express', async () => {
    const spec = specOf({
      provider: 'gatewayapi:v1',
      service: { port: 9898, gatewayRefs: [{ name: 'public' }] },
      analysis: { interval: '1m', iterations: 3, match: [{ sourceLabels: { app: 'tester' } }] },
    });
    await expect(preflight(subject, spec, undefined)).rejects.toMatchObject({
      name: 'RouterConfigError',
      reason: 'CapabilityMissing',
      message: expect.stringContaining('analysis.match[0].sourceLabels'),
    });
  });

  it('refuses a second Canary on a target another one, created earlier, already releases', async () => {
    const earlier = cached('podinfo-old', '2026-12-01T09:00:00Z');
    const later = cached('podinfo-new', '2026-12-01T11:00:00Z');
    const elsewhere = cached('other', '2026-12-01T08:00:00Z', 'web');
    canaries = [subject, earlier, later, elsewhere];
    try {
      await expect(preflight(subject, withMetric('latency'), undefined)).rejects.toMatchObject({
        reason: 'TargetClaimed',
        message: expect.stringContaining('Deployment podinfo is already released by Canary podinfo-old'),
      });
      await expect(preflight(earlier, withMetric('latency'), undefined)).resolves.toEqual([]);
      // A holder being deleted keeps the target until it is gone; then the next oldest takes it.
      const deleting = { ...earlier, metadata: { ...earlier.metadata, deletionTimestamp: 'now' } } as Canary;
      canaries = [subject, deleting, later];
      await expect(preflight(subject, withMetric('latency'), undefined)).rejects.toMatchObject({
        reason: 'TargetClaimed',
      });
      canaries = [subject, later];
      await expect(preflight(subject, withMetric('latency'), undefined)).resolves.toEqual([]);
      await expect(preflight(later, withMetric('latency'), undefined)).rejects.toMatchObject({
        reason: 'TargetClaimed',
      });
    } finally {
      canaries = [subject];
    }
  });

  it('refuses a provider with no router', async () => {
    await expect(preflight(subject, specOf({ provider: 'appmesh' }), undefined)).rejects.toMatchObject({
      reason: 'ProviderUnavailable',
    });
  });

  it('refuses a missing MetricTemplate and one of a type Fledge cannot query before a run', async () => {
    await expect(preflight(subject, withMetric('nope'), 'Succeeded')).rejects.toMatchObject({
      reason: 'TemplateMissing',
      message: expect.stringContaining(
        'spec.analysis.metrics[0].templateRef: MetricTemplate team/nope not found',
      ),
    });
    await expect(preflight(subject, withMetric('dd'), 'Initialized')).rejects.toMatchObject({
      reason: 'MetricProviderUnavailable',
      message: expect.stringContaining('spec.provider.type datadog'),
    });
    await expect(preflight(subject, withMetric('forbidden'), undefined)).rejects.toMatchObject({
      reason: 'TemplateMissing',
      message: expect.stringContaining('move it into team'),
    });
    // Mid-run, a missing template is a failed check, not a refusal.
    await expect(preflight(subject, withMetric('nope'), 'Progressing')).resolves.toEqual([]);
  });

  describe('the target', () => {
    const http = { name: 'http', containerPort: 9898 };
    const withService = (service: Record<string, unknown>) => specOf({ service: { port: 80, ...service } });

    it('refuses a targetPort, by number or by name, that no container exposes, naming what they do', async () => {
      workloads = { podinfo: workload(2, [http, { containerPort: 9797 }]) };
      await expect(preflight(subject, withService({ targetPort: 8080 }), undefined)).rejects.toMatchObject({
        reason: 'TargetInvalid',
        message:
          'spec.service.targetPort: no container of Deployment team/podinfo exposes port 8080 ' +
          '(it exposes http 9898/TCP (app), 9797/TCP (app)): set spec.service.targetPort to one of those, ' +
          "or add it to the container's ports",
      });
      await expect(preflight(subject, withService({ targetPort: 'web' }), 'Succeeded')).rejects.toMatchObject(
        {
          reason: 'TargetInvalid',
          message: expect.stringContaining('exposes a port named "web"'),
        },
      );
      // spec.service.port stands in for an unset targetPort.
      await expect(preflight(subject, withService({}), 'Initialized')).rejects.toMatchObject({
        message: expect.stringContaining('exposes port 80 '),
      });
    });

    it('lets a targetPort a container exposes, and one it cannot check, through', async () => {
      workloads = { podinfo: workload(2, [http]) };
      await expect(preflight(subject, withService({ targetPort: 'http' }), undefined)).resolves.toEqual([]);
      await expect(preflight(subject, withService({ targetPort: 9898 }), undefined)).resolves.toEqual([]);
      // No container declares a port: it may listen on an undeclared one.
      workloads = { podinfo: workload(2, []) };
      await expect(preflight(subject, withService({ targetPort: 8080 }), undefined)).resolves.toEqual([]);
      // Mid-run, a changed target is the analysis's to judge: a refusal would freeze traffic.
      workloads = { podinfo: workload(2, [{ containerPort: 1 }]) };
      await expect(preflight(subject, withService({ targetPort: 8080 }), 'Progressing')).resolves.toEqual([]);
      // A missing target is waited for, not refused.
      workloads = {};
      await expect(preflight(subject, withService({ targetPort: 8080 }), undefined)).resolves.toEqual([]);
    });

    it('refuses a Deployment at zero replicas only before Fledge ever initialised it', async () => {
      workloads = { podinfo: workload(0, [http]) };
      for (const phase of [undefined, 'Initializing'] as const) {
        await expect(preflight(subject, specOf({}), phase)).rejects.toMatchObject({
          reason: 'TargetScaledToZero',
          message: expect.stringMatching(
            /^spec\.targetRef: Deployment team\/podinfo has spec\.replicas 0 and no primary yet.*kubectl scale deployment\/podinfo --replicas=N/,
          ),
        });
      }
      // Fledge's own scale to zero: after initialising and after each promotion.
      for (const phase of ['Initialized', 'Succeeded', 'Failed'] as const)
        await expect(preflight(subject, specOf({}), phase)).resolves.toEqual([]);
      // A crash between scaling to zero and recording Initialized: the primary is there.
      workloads = { podinfo: workload(0, [http]), 'podinfo-primary': workload(2, [http]) };
      await expect(preflight(subject, specOf({}), 'Initializing')).resolves.toEqual([]);
      // An autoscaler sizes the primary (KEDA scales targets to zero itself).
      workloads = { podinfo: workload(0, [http]) };
      const scaled = specOf({
        autoscalerRef: { apiVersion: 'keda.sh/v1alpha1', kind: 'ScaledObject', name: 'podinfo' },
      });
      await expect(preflight(subject, scaled, undefined)).resolves.toEqual([]);
      workloads = { podinfo: workload(1, [http]) };
      await expect(preflight(subject, specOf({}), undefined)).resolves.toEqual([]);
    });
  });

  it('names a missing AlertProvider without refusing the Canary, in every phase', async () => {
    const withAlerts = specOf({
      analysis: {
        interval: '1m',
        iterations: 3,
        alerts: [
          { name: 'chat', severity: 'info', providerRef: { name: 'slack' } },
          { name: 'on-call', severity: 'error', providerRef: { name: 'pager' } },
          { name: 'elsewhere', severity: 'error', providerRef: { name: 'forbidden', namespace: 'ops' } },
          { name: 'flaky', severity: 'error', providerRef: { name: 'flaky' } },
        ],
      },
    });
    for (const phase of [undefined, 'Progressing'] as const) {
      await expect(preflight(subject, withAlerts, phase)).resolves.toEqual([
        {
          field: 'spec.analysis.alerts[1].providerRef',
          message:
            'spec.analysis.alerts[1].providerRef: AlertProvider team/pager not found, so alert on-call ' +
            'is not sent: create it, or fix spec.analysis.alerts[1].providerRef',
        },
        {
          field: 'spec.analysis.alerts[2].providerRef',
          message:
            'spec.analysis.alerts[2].providerRef: AlertProvider ops/forbidden: move it into team; ' +
            'until then alert elsewhere is not sent',
        },
      ]);
    }
  });
});
