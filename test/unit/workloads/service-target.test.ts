import { describe, expect, it } from '@jest/globals';
import { releasedSpec, serviceRevision } from '../../../src/workloads/service-target.ts';

// What a core Service target's copies carry, and what counts as a new revision of it. The
// copies, promotion and rollback run through the operator in
// test/integration/controller/service-target.test.ts.

const service = (spec: Record<string, unknown>) => ({
  apiVersion: 'v1' as const,
  kind: 'Service' as const,
  metadata: { name: 'web', namespace: 'ns' },
  spec,
});

describe('releasedSpec', () => {
  it('copies selector and ports, leaving the cluster-assigned fields to each copy', () => {
    expect(
      releasedSpec(
        service({
          type: 'NodePort',
          clusterIP: '10.0.0.7',
          selector: { app: 'web-v2' },
          ports: [{ name: 'http', port: 80, targetPort: 'http', nodePort: 30080 }],
        }),
      ),
    ).toEqual({
      type: 'ClusterIP',
      selector: { app: 'web-v2' },
      ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }],
    });
  });

  it('keeps an ExternalName Service pointing at its external name', () => {
    expect(releasedSpec(service({ type: 'ExternalName', externalName: 'web.example.com' }))).toEqual({
      type: 'ExternalName',
      externalName: 'web.example.com',
      ports: [],
    });
  });
});

describe('serviceRevision', () => {
  const base = { selector: { app: 'web-v1' }, ports: [{ port: 80 }] };

  it('changes with the selector, ports or external name', () => {
    const revision = serviceRevision(service(base));
    expect(serviceRevision(service({ ...base, selector: { app: 'web-v2' } }))).not.toBe(revision);
    expect(serviceRevision(service({ ...base, ports: [{ port: 81 }] }))).not.toBe(revision);
    expect(serviceRevision(service({ type: 'ExternalName', externalName: 'a.example.com' }))).not.toBe(
      serviceRevision(service({ type: 'ExternalName', externalName: 'b.example.com' })),
    );
  });

  it('stays the same when only cluster-assigned fields or defaults differ', () => {
    expect(
      serviceRevision(
        service({ ...base, clusterIP: '10.0.0.9', ports: [{ port: 80, protocol: 'TCP', nodePort: 31000 }] }),
      ),
    ).toBe(serviceRevision(service(base)));
  });
});
