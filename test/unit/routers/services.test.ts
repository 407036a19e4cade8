import { describe, expect, it } from '@jest/globals';
import {
  SIDECAR_CONTAINERS,
  discoverPorts,
  mainServicePort,
  renderServices,
  servicePorts,
  type PodTemplateShape,
} from '../../../src/routers/index.ts';
import { canary } from './fixtures.ts';

const FLUX_OPT_OUT = {
  'kustomize.toolkit.fluxcd.io/reconcile': 'disabled',
  'helm.toolkit.fluxcd.io/driftDetection': 'disabled',
};
const selectors = { primary: { app: 'podinfo-primary' }, canary: { app: 'podinfo' } };

const template: PodTemplateShape = {
  spec: {
    containers: [
      {
        name: 'podinfo',
        ports: [
          { name: 'http', containerPort: 9898 },
          { name: 'http-metrics', containerPort: 9797 },
          { containerPort: 9999 },
          { name: 'dns', containerPort: 53, protocol: 'UDP' },
        ],
      },
      { name: 'istio-proxy', ports: [{ name: 'http-envoy-prom', containerPort: 15090 }] },
      { name: 'envoy', ports: [{ name: 'admin', containerPort: 9901 }] },
      { name: 'sidecar', ports: [{ name: 'http-metrics', containerPort: 8080 }, { containerPort: 9797 }] },
    ],
  },
};

describe('renderServices', () => {
  it('renders apex, primary and canary ClusterIP Services with the default port name', () => {
    const services = renderServices({ canary: canary({ provider: 'kubernetes' }), selectors });
    expect(services.apex.metadata.name).toBe('podinfo');
    expect(services.primary.metadata.name).toBe('podinfo-primary');
    expect(services.canary.metadata.name).toBe('podinfo-canary');
    for (const service of Object.values(services)) {
      expect(service.metadata.namespace).toBe('test');
      expect(service.spec.type).toBe('ClusterIP');
      expect(service.spec.clusterIP).toBeUndefined();
      expect(service.spec.ports).toEqual([{ name: 'http', port: 9898, targetPort: 9898, protocol: 'TCP' }]);
      expect(service.metadata.ownerReferences).toEqual([
        {
          apiVersion: 'fledge.dev/v1beta1',
          kind: 'Canary',
          name: 'podinfo',
          uid: 'canary-uid',
          controller: true,
          blockOwnerDeletion: true,
        },
      ]);
    }
    expect(services.apex.spec.selector).toEqual({ app: 'podinfo-primary' });
    expect(services.primary.spec.selector).toEqual({ app: 'podinfo-primary' });
    expect(services.canary.spec.selector).toEqual({ app: 'podinfo' });
  });

  it('points the apex at the canary pods when asked', () => {
    const services = renderServices({ canary: canary(), selectors }, 'canary');
    expect(services.apex.spec.selector).toEqual({ app: 'podinfo' });
    expect(services.primary.spec.selector).toEqual({ app: 'podinfo-primary' });
  });

  it('uses service name, port name, target port, app protocol and traffic distribution', () => {
    const c = canary({
      service: {
        name: 'frontend',
        port: 80,
        portName: 'grpc',
        targetPort: 'grpc-port',
        appProtocol: 'kubernetes.io/h2c',
        trafficDistribution: 'PreferClose',
      },
    });
    const services = renderServices({ canary: c, selectors });
    expect(services.apex.metadata.name).toBe('frontend');
    expect(services.canary.metadata.name).toBe('frontend-canary');
    expect(services.primary.spec.ports).toEqual([
      { name: 'grpc', port: 80, targetPort: 'grpc-port', protocol: 'TCP', appProtocol: 'kubernetes.io/h2c' },
    ]);
    expect(services.apex.spec.trafficDistribution).toBe('PreferClose');
  });

  it('makes primary and canary headless but never the apex', () => {
    const services = renderServices({ canary: canary({ service: { headless: true } }), selectors });
    expect(services.apex.spec.clusterIP).toBeUndefined();
    expect(services.primary.spec.clusterIP).toBe('None');
    expect(services.canary.spec.clusterIP).toBe('None');
  });

  it('copies labels and annotations from service.apex, primary and canary', () => {
    const c = canary({
      service: {
        apex: { labels: { tier: 'edge' }, annotations: { 'a/b': 'apex' } },
        primary: { labels: { role: 'primary' } },
        canary: { annotations: { note: 'canary' } },
      },
    });
    const services = renderServices({ canary: c, selectors });
    expect(services.apex.metadata.labels).toEqual({ tier: 'edge' });
    expect(services.apex.metadata.annotations).toEqual({ 'a/b': 'apex', ...FLUX_OPT_OUT });
    expect(services.primary.metadata.labels).toEqual({ role: 'primary' });
    expect(services.primary.metadata.annotations).toEqual(FLUX_OPT_OUT);
    expect(services.canary.metadata.annotations).toEqual({ note: 'canary', ...FLUX_OPT_OUT });
    expect(services.canary.metadata.labels).toBeUndefined();
  });

  it("keeps Flux off all three Services, over the spec's own value for its keys", () => {
    const c = canary({
      service: { apex: { annotations: { 'kustomize.toolkit.fluxcd.io/reconcile': 'enabled' } } },
    });
    for (const service of Object.values(renderServices({ canary: c, selectors }))) {
      expect(service.metadata.annotations).toEqual(FLUX_OPT_OUT);
    }
  });

  it('adds discovered ports when portDiscovery is on', () => {
    const services = renderServices({
      canary: canary({ service: { portDiscovery: true } }),
      selectors,
      podTemplate: template,
    });
    expect(services.canary.spec.ports?.map((p) => `${p.name}:${p.port}/${p.protocol}`)).toEqual([
      'http:9898/TCP',
      'http-metrics:9797/TCP',
      'tcp-9999:9999/TCP',
      'dns:53/UDP',
      'tcp-8080:8080/TCP',
    ]);
  });

  it('refuses portDiscovery without the pod template', () => {
    expect(() => renderServices({ canary: canary({ service: { portDiscovery: true } }), selectors })).toThrow(
      /portDiscovery needs the target pod template/,
    );
  });

  it('requires spec.service', () => {
    const c = canary();
    delete c.spec.service;
    expect(() => renderServices({ canary: c, selectors })).toThrow(/needs spec.service/);
  });
});

describe('discoverPorts', () => {
  const main = { name: 'http', port: 9898, targetPort: 9898, protocol: 'TCP' };

  it('skips the mesh sidecars', () => {
    expect(SIDECAR_CONTAINERS).toEqual(['istio-proxy', 'envoy']);
    const ports = discoverPorts(template, main).map((p) => p.port);
    expect(ports).not.toContain(15090);
    expect(ports).not.toContain(9901);
  });

  it('skips the port the main port targets, by number or by name', () => {
    expect(discoverPorts(template, main).map((p) => p.port)).not.toContain(9898);
    const byName = discoverPorts(template, { name: 'web', port: 80, targetPort: 'http', protocol: 'TCP' });
    expect(byName.map((p) => p.port)).toEqual([9797, 9999, 53, 8080]);
  });

  it('never reuses the main port number or a port name', () => {
    const clash = discoverPorts(
      {
        spec: {
          containers: [{ name: 'app', ports: [{ containerPort: 80 }, { name: 'web', containerPort: 81 }] }],
        },
      },
      { name: 'web', port: 80, targetPort: 8080, protocol: 'TCP' },
    );
    expect(clash).toEqual([{ name: 'tcp-81', port: 81, targetPort: 81, protocol: 'TCP' }]);
  });

  it('exposes each discovered port on its own number', () => {
    for (const port of discoverPorts(template, main)) expect(port.targetPort).toBe(port.port);
  });
});

describe('servicePorts', () => {
  it('is the main port only without discovery', () => {
    const c = canary({ service: { targetPort: 8080 } });
    const service = c.spec.service;
    if (service === undefined) throw new Error('fixture has a service');
    expect(servicePorts(service, template)).toEqual([mainServicePort(service)]);
    expect(mainServicePort(service)).toEqual({ name: 'http', port: 9898, targetPort: 8080, protocol: 'TCP' });
  });
});
