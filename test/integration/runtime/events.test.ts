import { beforeAll, describe, expect, it } from '@jest/globals';
import type { KubernetesObject } from '@kubernetes/client-node';
import { createTestNamespace, integrationEnv } from '../../harness/env.ts';
import { KubeObjectClient, loadKubeConfig } from '../../../src/kube/client.ts';
import {
  EventRecorder,
  KubeEventSink,
  reportingController,
  type EventsV1Event,
} from '../../../src/kube/events.ts';

describe('EventRecorder on the real apiserver', () => {
  let namespace: string;
  let objects: KubeObjectClient;
  let regarding: { apiVersion: string; kind: string; namespace: string; name: string; uid: string };

  beforeAll(async () => {
    namespace = await createTestNamespace('rt-events');
    objects = new KubeObjectClient(loadKubeConfig({ kubeconfigPath: integrationEnv().kubeconfigPath }));
    const configMap = await objects.create<KubernetesObject>({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { namespace, name: 'subject' },
    });
    regarding = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      namespace,
      name: 'subject',
      uid: configMap.metadata?.uid as string,
    };
  });

  const listEvents = async () =>
    (await objects.list<EventsV1Event>({ apiVersion: 'events.k8s.io/v1', kind: 'Event', namespace })).items;

  it('writes events.k8s.io/v1 Events and folds identical repeats into a series', async () => {
    const recorder = new EventRecorder({
      sink: new KubeEventSink(objects),
      reportingInstance: 'fledge-integration',
      seriesUpdateIntervalMs: 0,
    });
    const note = `weight raised to 20 ${'x'.repeat(1_500)}`;
    recorder.record({ regarding, type: 'Normal', reason: 'WeightAdvanced', action: 'SetWeight', note });
    recorder.record({ regarding, type: 'Normal', reason: 'WeightAdvanced', action: 'SetWeight', note });
    recorder.record({ regarding, type: 'Normal', reason: 'WeightAdvanced', action: 'SetWeight', note });
    recorder.record({
      regarding,
      type: 'Warning',
      reason: 'AnalysisHalted',
      action: 'Analyse',
      note: 'no data',
    });
    await recorder.flush();

    const events = await listEvents();
    expect(events).toHaveLength(2);
    const advanced = events.find((event) => event.reason === 'WeightAdvanced');
    expect(advanced).toMatchObject({
      type: 'Normal',
      action: 'SetWeight',
      reportingController,
      reportingInstance: 'fledge-integration',
      regarding: { kind: 'ConfigMap', name: 'subject', namespace, uid: regarding.uid },
      series: { count: 3 },
    });
    expect(Buffer.byteLength(advanced?.note ?? '', 'utf8')).toBeLessThanOrEqual(1024);
    expect(advanced?.eventTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    const halted = events.find((event) => event.reason === 'AnalysisHalted');
    expect(halted).toMatchObject({ type: 'Warning', note: 'no data' });
    expect(halted?.series).toBeUndefined();
  });
});
