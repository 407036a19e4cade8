import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { imageOf, inPhase, waitForCanary } from '../../harness/canary.ts';
import { kubectl } from '../../harness/control-plane.ts';
import { createTestNamespace, integrationEnv } from '../../harness/env.ts';
import { startOperatorProcess, type OperatorProcess } from '../../harness/operator.ts';
import { apply, canary, deployment } from './fixtures.ts';
import { field } from './sampling.ts';

function configMap(namespace: string, name: string, data: Record<string, string>): object {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace }, data };
}

/** The fixture Deployment with the ConfigMap `config` mounted as a volume. */
function mountingDeployment(namespace: string, name: string, image: string, config: string): object {
  const base = deployment(namespace, name, image) as {
    spec: { template: { spec: { containers: Record<string, unknown>[]; volumes?: unknown[] } } };
  };
  const pod = base.spec.template.spec;
  pod.volumes = [{ name: 'settings', configMap: { name: config } }];
  pod.containers = pod.containers.map((c) => ({
    ...c,
    volumeMounts: [{ name: 'settings', mountPath: '/etc/settings' }],
  }));
  return base;
}

describe('ConfigMap tracking', () => {
  const { kubeconfigPath } = integrationEnv();
  let namespace: string;
  let operator: OperatorProcess;

  beforeAll(async () => {
    namespace = await createTestNamespace('configs');
    operator = await startOperatorProcess({ kubeconfigPath, namespace });
  });
  afterAll(async () => operator?.stop());

  it('starts a rollout on a ConfigMap change alone and promotes the primary onto a copy with the new data', async () => {
    await apply(
      kubeconfigPath,
      configMap(namespace, 'web-settings', { mode: 'v1' }),
      mountingDeployment(namespace, 'web', 'example/web:1', 'web-settings'),
      canary(namespace, 'web', {
        provider: 'kubernetes',
        analysis: { interval: '10s', threshold: 1, iterations: 1 },
      }),
    );
    const initialised = await waitForCanary(kubeconfigPath, namespace, 'web', inPhase('Initialized'), {
      what: 'initialisation',
    });
    const primaryVolume = () =>
      field(
        kubeconfigPath,
        namespace,
        'deploy',
        'web-primary',
        '{.spec.template.spec.volumes[0].configMap.name}',
      );
    const copyData = () =>
      field(kubeconfigPath, namespace, 'configmap', 'web-settings-primary', '{.data.mode}');
    expect(await primaryVolume()).toBe('web-settings-primary');
    expect(await copyData()).toBe('v1');
    const initialChecksum = initialised.status.trackedConfigs?.['configmap/web-settings'];
    expect(initialChecksum).toEqual(expect.any(String));
    const targetTemplate = () => field(kubeconfigPath, namespace, 'deploy', 'web', '{.spec.template}');
    const templateBefore = await targetTemplate();
    const primaryDigest = () =>
      field(
        kubeconfigPath,
        namespace,
        'deploy',
        'web-primary',
        '{.spec.template.metadata.annotations.fledge\\.dev/config-digest}',
      );
    const digestBefore = await primaryDigest();

    await kubectl(kubeconfigPath, [
      '-n',
      namespace,
      'patch',
      'configmap',
      'web-settings',
      '--type=merge',
      '-p',
      JSON.stringify({ data: { mode: 'v2' } }),
    ]);
    const { status, path } = await waitForCanary(
      kubeconfigPath,
      namespace,
      'web',
      inPhase('Succeeded', 'Failed'),
    );
    expect(status.phase).toBe('Succeeded');
    expect(path).toEqual(expect.arrayContaining(['Progressing:0', 'Succeeded:0']));
    // Same template revision, new config checksum.
    expect(status.lastAppliedSpec).toBe(initialised.status.lastAppliedSpec);
    expect(status.trackedConfigs?.['configmap/web-settings']).toEqual(expect.any(String));
    expect(status.trackedConfigs?.['configmap/web-settings']).not.toBe(initialChecksum);
    expect(await targetTemplate()).toBe(templateBefore);

    expect(await primaryVolume()).toBe('web-settings-primary');
    expect(await copyData()).toBe('v2');
    expect(await imageOf(kubeconfigPath, namespace, 'web-primary')).toBe('example/web:1');
    // The primary's pods roll for a config-only promotion.
    expect(await primaryDigest()).not.toBe(digestBefore);
    expect(await field(kubeconfigPath, namespace, 'configmap', 'web-settings', '{.data.mode}')).toBe('v2');
  }, 180_000);
});
