import { describe, expect, it } from '@jest/globals';

describe('toolchain', () => {
  it('runs on Node 24', () => {
    expect(process.versions.node.split('.')[0]).toBe('24');
  });

  it('loads @kubernetes/client-node 2.x under Jest ESM', async () => {
    const k8s = await import('@kubernetes/client-node');
    expect(typeof k8s.KubeConfig).toBe('function');
  });
});
