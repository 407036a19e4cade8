import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { inPhase, waitForCanary } from '../../harness/canary.ts';
import { kubectl } from '../../harness/control-plane.ts';
import { createTestNamespace, integrationEnv } from '../../harness/env.ts';
import {
  installKnativeCrds,
  startFakeKnativeController,
  type FakeKnativeController,
} from '../../harness/knative.ts';
import { startOperatorProcess, type OperatorProcess } from '../../harness/operator.ts';
import { waitFor } from '../../harness/processes.ts';
import { LiveSeries } from '../analysis/live-series.ts';
import { apply } from './fixtures.ts';
import { field, sampleDistinct } from './sampling.ts';

// The Knative target and router through the operator, on Knative Serving's own CRDs. No
// Knative controller runs here: startFakeKnativeController plays its part (a Revision per
// template change, the latest revision names and the routed traffic in status). The check
// is a MetricTemplate on the run's Prometheus that selects by `{{ route }}`: it finds a
// value only if Fledge passes the revision under analysis as the route.

const errors = 'fledge_e2e_knative_errors';
const KSVC = 'services.serving.knative.dev';

describe('Knative Service target on the knative router', () => {
  const { kubeconfigPath, prometheusUrl } = integrationEnv();
  let namespace: string;
  let knative: FakeKnativeController;
  let series: LiveSeries;
  let operator: OperatorProcess;

  const knativeService = (version: string) => ({
    apiVersion: 'serving.knative.dev/v1',
    kind: 'Service',
    metadata: { name: 'web', namespace },
    spec: {
      template: {
        spec: { containers: [{ image: 'example/web', env: [{ name: 'VERSION', value: version }] }] },
      },
    },
  });
  const setVersion = (version: string) =>
    kubectl(kubeconfigPath, [
      '-n',
      namespace,
      'patch',
      KSVC,
      'web',
      '--type=merge',
      '-p',
      JSON.stringify({ spec: knativeService(version).spec }),
    ]);
  /** `<revision>=<percent>` of each entry Knative reports routing, in order. */
  const routed = () =>
    field(
      kubeconfigPath,
      namespace,
      KSVC,
      'web',
      '{range .status.traffic[*]}{.revisionName}={.percent} {end}',
    ).then((s) => s.trim());
  const pinned = () =>
    field(kubeconfigPath, namespace, KSVC, 'web', '{.metadata.annotations.fledge\\.dev/primary-revision}');

  beforeAll(async () => {
    namespace = await createTestNamespace('knative');
    // Before the operator starts: it watches Knative Services only when the API is served.
    await installKnativeCrds(kubeconfigPath);
    knative = startFakeKnativeController(kubeconfigPath, namespace);
    series = new LiveSeries(prometheusUrl);
    operator = await startOperatorProcess({ kubeconfigPath, namespace });
    await apply(kubeconfigPath, {
      apiVersion: 'fledge.dev/v1beta1',
      kind: 'MetricTemplate',
      metadata: { name: 'revision-errors', namespace },
      spec: {
        provider: { type: 'prometheus', address: prometheusUrl },
        query: `sum(${errors}{namespace="{{ namespace }}",revision="{{ route }}"})`,
      },
    });
  }, 120_000);

  afterAll(async () => {
    await operator?.stop();
    await knative?.stop();
    await series?.stop();
  });

  it('shifts a new revision 10, 20 to promotion, and pins a failing one back to the old revision; deletion hands the Service back', async () => {
    await apply(kubeconfigPath, knativeService('1'), {
      apiVersion: 'fledge.dev/v1beta1',
      kind: 'Canary',
      metadata: { name: 'web', namespace },
      spec: {
        provider: 'knative',
        targetRef: { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'web' },
        analysis: {
          interval: '10s',
          threshold: 1,
          maxWeight: 20,
          stepWeight: 10,
          metrics: [{ name: 'errors', templateRef: { name: 'revision-errors' }, thresholdRange: { max: 1 } }],
        },
      },
    });
    await waitForCanary(kubeconfigPath, namespace, 'web', inPhase('Initialized'), { what: 'initialisation' });
    expect(await pinned()).toBe('web-00001');
    expect((await routed()).split(' ')[0]).toBe('web-00001=100');

    // Only the second revision has a series: a route other than its name finds no data.
    await series.set(errors, { namespace, revision: 'web-00002' }, 0);
    const path = sampleDistinct(routed);
    await setVersion('2');
    let outcome: Awaited<ReturnType<typeof waitForCanary>>;
    try {
      outcome = await waitForCanary(kubeconfigPath, namespace, 'web', inPhase('Succeeded', 'Failed'));
    } finally {
      await path.stop();
    }
    expect(outcome.status.phase).toBe('Succeeded');
    const canaryShares = path
      .seen()
      .map((entries) => entries.split(' ').find((e) => e.startsWith('web-00001=')) ?? '')
      .map((entry) => 100 - Number(entry.split('=')[1] ?? 100));
    // The old revision's share went down 10, 20, then back to all (now on the promoted one).
    expect([...new Set(canaryShares)]).toEqual([0, 10, 20]);
    expect(path.seen()).toContain('web-00001=80 web-00002=20');
    expect(await pinned()).toBe('web-00002');
    expect(await routed()).toBe('web-00002=100 web-00002=0');

    // A failing revision: the first check fails and traffic is pinned back to web-00002.
    await series.set(errors, { namespace, revision: 'web-00003' }, 5);
    await setVersion('3');
    const failed = await waitForCanary(kubeconfigPath, namespace, 'web', inPhase('Failed'), {
      what: 'rollback of web-00003',
    });
    expect(failed.status.lastAppliedSpec).toBe('web-00003');
    expect(failed.status.metrics?.find((m) => m.name === 'errors')?.verdict).toBe('Fail');
    expect(await pinned()).toBe('web-00002');
    expect(await routed()).toBe('web-00002=100 web-00003=0');

    // Deleting the Canary hands the Service back to Knative's default: its latest revision, unpinned.
    await kubectl(kubeconfigPath, [
      '-n',
      namespace,
      'delete',
      'canary',
      'web',
      '--wait=true',
      '--timeout=60s',
    ]);
    await waitFor('the Service handed back', async () => (await routed()) === 'web-00003=100');
    expect(await pinned()).toBe('');
  }, 180_000);
});
