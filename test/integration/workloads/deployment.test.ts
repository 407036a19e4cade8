import { stampOf } from '../../../src/engine/index.ts';
import { beforeAll, describe, expect, it } from '@jest/globals';
import type { Canary } from '../../../src/api/index.ts';
import {
  CONFIG_DIGEST_ANNOTATION,
  StaleRevisionError,
  type Workload,
  type WorkloadObservation,
} from '../../../src/workloads/index.ts';
import type { ConfigMapObject, DeploymentObject, SecretObject } from '../../../src/workloads/objects.ts';
import {
  blueGreenSpec,
  deploymentManifest,
  eventually,
  workloadTestEnv,
  type WorkloadTestEnv,
} from './setup.ts';

// One Deployment walked through a release on the real apiserver: primary
// creation, config tracking, revisions, scaling, promotion and revert.

type ExistingTarget = Extract<WorkloadObservation['target'], { exists: true }>;

describe('Deployment target', () => {
  let env: WorkloadTestEnv;
  let canary: Canary;
  let web: Workload;

  const observeTarget = async (): Promise<ExistingTarget> => {
    const { target } = await web.observe(canary);
    if (!target.exists) throw new Error('target missing');
    return target;
  };
  const getDeployment = (name: string) => env.get<DeploymentObject>('apps/v1', 'Deployment', name);

  beforeAll(async () => {
    env = await workloadTestEnv('wl-deploy');
    await env.apply(
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'web-config' },
        data: { 'app.yaml': 'mode: a' },
      },
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'web-secret' }, stringData: { TOKEN: 's3cret' } },
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'web-untracked', annotations: { 'fledge.dev/config-tracking': 'disabled' } },
        data: { x: '1' },
      },
      deploymentManifest('web', 2, {
        containers: [
          {
            name: 'app',
            image: 'example.com/web:1',
            ports: [{ name: 'http', containerPort: 8080 }],
            envFrom: [{ secretRef: { name: 'web-secret' } }],
            env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'web-untracked', key: 'x' } } }],
          },
        ],
        volumes: [{ name: 'config', configMap: { name: 'web-config' } }],
        affinity: {
          podAntiAffinity: {
            preferredDuringSchedulingIgnoredDuringExecution: [
              {
                weight: 100,
                podAffinityTerm: {
                  topologyKey: 'kubernetes.io/hostname',
                  labelSelector: { matchLabels: { app: 'web' } },
                },
              },
            ],
          },
        },
        topologySpreadConstraints: [
          {
            maxSkew: 1,
            topologyKey: 'kubernetes.io/hostname',
            whenUnsatisfiable: 'ScheduleAnyway',
            labelSelector: { matchLabels: { app: 'web' } },
          },
        ],
      }),
    );
    canary = await env.createCanary('web', blueGreenSpec('Deployment', 'web'));
    web = env.workload(canary);
  }, 60_000);

  it('observes the target and its tracked configs before anything exists', async () => {
    const observation = await web.observe(canary);
    expect(observation.primary).toEqual({ exists: false });
    expect(observation.target).toMatchObject({
      exists: true,
      selector: { label: 'app', value: 'web', primaryValue: 'web-primary' },
      ports: [{ container: 'app', name: 'http', containerPort: 8080, protocol: 'TCP' }],
      scaledToZero: false,
    });
    const target = await observeTarget();
    expect(Object.keys(target.configs).sort()).toEqual(['configmap/web-config', 'secret/web-secret']);
    expect(target.revision).toMatch(/^[0-9a-f]{64}$/);
  });

  it('creates the primary with rewritten selectors and config copies, once', async () => {
    expect(await web.initialise(canary)).toEqual({ primaryCreated: true });
    expect(await web.initialise(canary)).toEqual({ primaryCreated: false });

    const primary = await getDeployment('web-primary');
    expect(primary.metadata.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'Canary', name: 'web', uid: canary.metadata.uid, controller: true }),
    ]);
    expect(primary.metadata.labels).toEqual({ app: 'web-primary' });
    expect(primary.spec.replicas).toBe(2);
    expect(primary.spec.selector).toEqual({ matchLabels: { app: 'web-primary' } });
    const pod = primary.spec.template;
    expect(pod.metadata?.labels).toEqual({ app: 'web-primary' });
    expect(
      pod.spec?.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution?.[0]
        ?.podAffinityTerm.labelSelector,
    ).toEqual({ matchLabels: { app: 'web-primary' } });
    expect(pod.spec?.topologySpreadConstraints?.[0]?.labelSelector).toEqual({
      matchLabels: { app: 'web-primary' },
    });
    expect(pod.spec?.volumes?.[0]?.configMap?.name).toBe('web-config-primary');
    expect(pod.spec?.containers[0]?.envFrom?.[0]?.secretRef?.name).toBe('web-secret-primary');
    // Opted out: neither copied nor rewritten.
    expect(pod.spec?.containers[0]?.env?.[0]?.valueFrom?.configMapKeyRef?.name).toBe('web-untracked');
    expect(await env.exists('v1', 'ConfigMap', 'web-untracked-primary')).toBe(false);

    const configCopy = await env.get<ConfigMapObject>('v1', 'ConfigMap', 'web-config-primary');
    expect(configCopy.data).toEqual({ 'app.yaml': 'mode: a' });
    expect(configCopy.metadata.ownerReferences?.[0]).toMatchObject({
      kind: 'Canary',
      uid: canary.metadata.uid,
    });
    const secretCopy = await env.get<SecretObject>('v1', 'Secret', 'web-secret-primary');
    expect(Buffer.from(secretCopy.data?.TOKEN ?? '', 'base64').toString()).toBe('s3cret');

    await eventually('the primary to be ready', async () => {
      const { primary: observed } = await web.observe(canary);
      return observed.exists && observed.ready.ready;
    });
  }, 90_000);

  it('keeps the revision on scaling and changes it on a template change', async () => {
    const before = (await observeTarget()).revision;
    await env.kubectl(['scale', 'deployment/web', '--replicas=3']);
    expect((await observeTarget()).revision).toBe(before);
    await web.scaleCanary(canary, 'zero');
    expect(await observeTarget()).toMatchObject({ revision: before, scaledToZero: true });

    await env.kubectl(['set', 'image', 'deployment/web', 'app=example.com/web:2']);
    expect((await observeTarget()).revision).not.toBe(before);
  });

  it('scales the target to zero without owning spec.replicas, and back to the primary size', async () => {
    const target = await getDeployment('web');
    expect(target.spec.replicas).toBe(0);
    const appliedByFledge = (target.metadata.managedFields ?? []).filter(
      (entry) => entry.manager === 'fledge' && entry.operation === 'Apply',
    );
    expect(JSON.stringify(appliedByFledge)).not.toContain('f:replicas');

    await web.scaleCanary(canary, 'up');
    expect((await getDeployment('web')).spec.replicas).toBe(2);
    await eventually('the target to be ready at 2 replicas', async () => (await observeTarget()).ready.ready);
  }, 90_000);

  it('changes the config checksum when the data changes', async () => {
    const before = (await observeTarget()).configs;
    await env.apply({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'web-config' },
      data: { 'app.yaml': 'mode: b' },
    });
    const after = (await observeTarget()).configs;
    expect(after['configmap/web-config']).not.toBe(before['configmap/web-config']);
    expect(after['secret/web-secret']).toBe(before['secret/web-secret']);
  });

  it('refuses to promote anything but the analysed revision and configs', async () => {
    const current = await observeTarget();
    await expect(
      web.promote(canary, { revision: 'f'.repeat(64), configs: current.configs }),
    ).rejects.toBeInstanceOf(StaleRevisionError);
    await expect(
      web.promote(canary, {
        revision: current.revision,
        configs: { ...current.configs, 'configmap/web-config': 'stale' },
      }),
    ).rejects.toThrow(/configs of Deployment .*\/web changed since the analysis/);
    expect((await getDeployment('web-primary')).spec.template.spec?.containers[0]?.image).toBe(
      'example.com/web:1',
    );
  });

  it('promotes the template and the configs, keeping the primary selector', async () => {
    const before = await getDeployment('web-primary');
    const current = await observeTarget();
    await web.promote(canary, { revision: current.revision, configs: current.configs });

    const primary = await getDeployment('web-primary');
    expect(primary.spec.template.spec?.containers[0]?.image).toBe('example.com/web:2');
    expect(primary.spec.selector).toEqual({ matchLabels: { app: 'web-primary' } });
    expect(primary.spec.template.spec?.volumes?.[0]?.configMap?.name).toBe('web-config-primary');
    expect(primary.spec.template.metadata?.annotations?.[CONFIG_DIGEST_ANNOTATION]).not.toBe(
      before.spec.template.metadata?.annotations?.[CONFIG_DIGEST_ANNOTATION],
    );
    expect((await env.get<ConfigMapObject>('v1', 'ConfigMap', 'web-config-primary')).data).toEqual({
      'app.yaml': 'mode: b',
    });

    // Promoting the same content again changes nothing, so no pod restarts.
    await web.promote(canary, { revision: current.revision, configs: current.configs });
    expect((await getDeployment('web-primary')).metadata.generation).toBe(primary.metadata.generation);
    // The primary carries the engine's stamp of what it runs, and initialising a primary
    // already rendered from the target's content writes nothing.
    const { primary: observed } = await web.observe(canary);
    expect(observed.exists && observed.stamp).toBe(stampOf(current.revision, current.configs));
    // Not resourceVersion: the deployment controller's own writes (status, its revision
    // annotation) bump it at any time.
    const written = ({ metadata, spec }: DeploymentObject) => ({
      generation: metadata.generation,
      labels: metadata.labels,
      annotations: Object.entries(metadata.annotations ?? {}).filter(
        ([key]) => !key.startsWith('deployment.kubernetes.io/'),
      ),
      ownerReferences: metadata.ownerReferences,
      spec,
    });
    const beforeInitialise = written(await getDeployment('web-primary'));
    expect(await web.initialise(canary)).toEqual({ primaryCreated: false });
    expect(written(await getDeployment('web-primary'))).toEqual(beforeInitialise);

    await eventually('the promoted primary to be ready', async () => {
      const { primary: observed } = await web.observe(canary);
      return observed.exists && observed.ready.ready;
    });
  }, 90_000);

  it('deletes the config copies only releases before the previous one used', async () => {
    const configMap = (name: string, ownedByCanary = false) => ({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name,
        ...(ownedByCanary && {
          ownerReferences: [
            {
              apiVersion: 'fledge.dev/v1beta1',
              kind: 'Canary',
              name: 'web',
              uid: canary.metadata?.uid,
              controller: true,
            },
          ],
        }),
      },
      data: { 'app.yaml': name },
    });
    // A namesake nobody owns, and one owned by the Canary that nothing uses, as an older release would leave.
    await env.apply(configMap('web-config-v2'), configMap('web-config-v3'), configMap('unrelated-primary'));
    await env.apply(configMap('web-config-v0-primary', true));
    const release = async (config: string) => {
      await env.kubectl([
        'patch',
        'deployment/web',
        '--type=json',
        `-p=[{"op":"replace","path":"/spec/template/spec/volumes/0/configMap/name","value":"${config}"}]`,
      ]);
      const target = await observeTarget();
      await web.promote(canary, { revision: target.revision, configs: target.configs });
    };
    const configMaps = async () =>
      JSON.parse(await env.kubectl(['get', 'configmaps', '-o', 'json'])).items.map(
        (item: ConfigMapObject) => item.metadata.name,
      ) as string[];

    await release('web-config-v2');
    let names = await configMaps();
    // The outgoing primary still uses web-config-primary; the v0 copy was used by nothing.
    expect(names).toEqual(
      expect.arrayContaining(['web-config-primary', 'web-config-v2-primary', 'unrelated-primary']),
    );
    expect(names).not.toContain('web-config-v0-primary');

    await release('web-config-v3');
    names = await configMaps();
    expect(names).toEqual(
      expect.arrayContaining(['web-config-v2-primary', 'web-config-v3-primary', 'unrelated-primary']),
    );
    expect(names).not.toContain('web-config-primary');
    // The Secret copy is still in use by both.
    expect((await env.get<SecretObject>('v1', 'Secret', 'web-secret-primary')).metadata.name).toBe(
      'web-secret-primary',
    );

    await release('web-config');
  }, 90_000);

  it('reverts a scaled-down target to the primary size and reports when it is ready', async () => {
    await env.kubectl(['scale', 'deployment/web-primary', '--replicas=3']);
    await web.scaleCanary(canary, 'zero');
    const first = await web.revert(canary);
    expect(first).toMatchObject({ retriable: true });
    expect((await getDeployment('web')).spec.replicas).toBe(3);
    await eventually('the reverted target to be ready', async () => (await web.revert(canary)).ready);
    expect((await getDeployment('web')).spec.replicas).toBe(3);
  }, 90_000);
});
