import { describe, expect, it } from '@jest/globals';
import { RouterConfigError } from '../../../src/routers/index.ts';
import { canaryIngressName, cloneForCanary, type Ingress } from '../../../src/routers/ingress.ts';

const user: Ingress = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'Ingress',
  metadata: { name: 'web', namespace: 'test' },
  spec: {
    ingressClassName: 'nginx',
    tls: [{ hosts: ['web.example.com'], secretName: 'web-tls' }],
    rules: [
      {
        host: 'web.example.com',
        http: {
          paths: [
            { path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } },
            {
              path: '/static',
              pathType: 'Prefix',
              backend: { service: { name: 'cdn', port: { number: 80 } } },
            },
          ],
        },
      },
    ],
  },
};

describe('cloning an Ingress for the canary', () => {
  it('names the copy <ingress>-canary', () => {
    expect(canaryIngressName('web')).toBe('web-canary');
  });

  it('moves the backends on the apex Service to the canary Service and keeps the rest', () => {
    const spec = cloneForCanary(user, 'web', 'web-canary');
    expect(spec.ingressClassName).toBe('nginx');
    expect(spec.tls).toEqual(user.spec.tls);
    expect(spec.rules?.[0]?.http?.paths.map((p) => p.backend.service?.name)).toEqual(['web-canary', 'cdn']);
    // The user's object is not touched.
    expect(user.spec.rules?.[0]?.http?.paths[0]?.backend.service?.name).toBe('web');
  });

  it('moves a default backend too', () => {
    const only: Ingress = {
      ...user,
      spec: { defaultBackend: { service: { name: 'web', port: { number: 80 } } } },
    };
    expect(cloneForCanary(only, 'web', 'web-canary').defaultBackend?.service?.name).toBe('web-canary');
  });

  it('refuses an Ingress with no backend on the apex Service, naming it', () => {
    expect(() => cloneForCanary(user, 'api', 'api-canary')).toThrow(RouterConfigError);
    expect(() => cloneForCanary(user, 'api', 'api-canary')).toThrow(
      'spec.ingressRef: Ingress test/web has no backend on Service api: point a path of it at api (spec.service.name), or fix spec.ingressRef',
    );
  });
});
