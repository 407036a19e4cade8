import { describe, expect, it } from '@jest/globals';
import { AppsV1Api, KubeConfig, VersionApi } from '@kubernetes/client-node';
import { createTestNamespace, integrationEnv } from '../../harness/env.ts';

describe('local control plane', () => {
  const kc = new KubeConfig();
  kc.loadFromFile(integrationEnv().kubeconfigPath);

  it('is a real kube-apiserver', async () => {
    const info = await kc.makeApiClient(VersionApi).getCode();
    expect(info.gitVersion).toMatch(/^v1\.\d+\.\d+$/);
  });

  it('schedules a Deployment onto fake nodes and reports it Available', async () => {
    const namespace = await createTestNamespace('smoke');
    const apps = kc.makeApiClient(AppsV1Api);
    const labels = { app: 'web' };
    await apps.createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name: 'web' },
        spec: {
          replicas: 3,
          selector: { matchLabels: labels },
          template: { metadata: { labels }, spec: { containers: [{ name: 'web', image: 'nginx' }] } },
        },
      },
    });
    const deadline = Date.now() + 60_000;
    let available = '';
    while (Date.now() < deadline) {
      const { status } = await apps.readNamespacedDeployment({ namespace, name: 'web' });
      available = status?.conditions?.find((c) => c.type === 'Available')?.status ?? '';
      if (available === 'True' && status?.readyReplicas === 3) break;
      await new Promise((done) => setTimeout(done, 250));
    }
    expect(available).toBe('True');
  }, 90_000);
});
