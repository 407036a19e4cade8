import { join } from 'node:path';
import { builtTools } from './control-plane.ts';
import { ProcessGroup, freePort, waitFor } from './processes.ts';

/** The controllerName Traefik's Gateway API provider claims GatewayClasses by. */
export const TRAEFIK_GATEWAY_CONTROLLER = 'traefik.io/gateway-controller';

export interface Proxy {
  /** The `web` entry point, where requests go in. */
  url: string;
  /** Its port: a Gateway listener on this port is served by the `web` entry point. */
  port: number;
  /** Where Prometheus scrapes Traefik (`host:port`, path /metrics). */
  metricsTarget: string;
  /** Traefik's HTTP services as its API reports them (routing as applied, not as configured). */
  services(): Promise<TraefikService[]>;
  stop(): Promise<void>;
}

export interface TraefikService {
  name: string;
  provider: string;
  weighted?: { services: { name: string; weight: number }[] };
  serverStatus?: Record<string, string>;
}

export interface ProxyOptions {
  kubeconfigPath: string;
  /**
   * Traefik providers (and provider options) to turn on; the Gateway API provider unless told.
   * `kubernetesCRD.allowEmptyServices` keeps a TraefikService routing while one of its Services has no pods.
   */
  providers?: ('kubernetesGateway' | 'kubernetesCRD' | 'kubernetesCRD.allowEmptyServices')[];
}

/** The Traefik binary and CRD folder hack/build-tools.sh built and cached. */
export async function traefikPaths(): Promise<{ bin: string; crds: string; version: string }> {
  const tools = await builtTools('traefik', ['TRAEFIK_BIN', 'TRAEFIK_CRDS', 'TRAEFIK_VERSION'] as const);
  return { bin: tools.TRAEFIK_BIN, crds: tools.TRAEFIK_CRDS, version: tools.TRAEFIK_VERSION };
}

/**
 * Starts Traefik on loopback against the sandbox apiserver: a `web` entry point for traffic and a
 * `traefik` one for its API, ping and Prometheus metrics. It never calls home.
 */
export async function startProxy(options: ProxyOptions): Promise<Proxy> {
  const { bin } = await traefikPaths();
  const group = await ProcessGroup.create('fledge-traefik');
  try {
    const [port, adminPort] = await Promise.all([freePort(), freePort()]);
    const admin = `127.0.0.1:${adminPort}`;
    const providers = (options.providers ?? ['kubernetesGateway']).map((p) => `--providers.${p}=true`);
    await group.start(
      'traefik',
      join(bin, 'traefik'),
      [
        '--global.checkNewVersion=false',
        '--global.sendAnonymousUsage=false',
        `--entryPoints.web.address=127.0.0.1:${port}`,
        `--entryPoints.traefik.address=${admin}`,
        '--api.insecure=true',
        '--ping=true',
        '--metrics.prometheus=true',
        '--metrics.prometheus.addServicesLabels=true',
        '--metrics.prometheus.addRoutersLabels=true',
        '--log.level=INFO',
        ...providers,
      ],
      // The Kubernetes providers read KUBECONFIG when not in a cluster.
      { KUBECONFIG: options.kubeconfigPath },
    );
    await waitFor('Traefik /ping', async () => {
      group.assertRunning('traefik');
      return (await fetch(`http://${admin}/ping`)).ok;
    });
    return {
      url: `http://127.0.0.1:${port}`,
      port,
      metricsTarget: admin,
      services: async () => {
        const res = await fetch(`http://${admin}/api/http/services?per_page=1000`);
        if (!res.ok) throw new Error(`Traefik /api/http/services: ${res.status}`);
        return (await res.json()) as TraefikService[];
      },
      stop: () => group.stop(),
    };
  } catch (err) {
    await group.stop();
    throw err;
  }
}

/** A GatewayClass Traefik serves and a Gateway on its `web` entry point, for HTTPRoutes in any namespace. */
export function traefikGateway(proxy: Proxy, namespace: string, name = 'traefik'): object[] {
  return [
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'GatewayClass',
      metadata: { name: 'traefik' },
      spec: { controllerName: TRAEFIK_GATEWAY_CONTROLLER },
    },
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { name, namespace },
      spec: {
        gatewayClassName: 'traefik',
        listeners: [
          { name: 'web', protocol: 'HTTP', port: proxy.port, allowedRoutes: { namespaces: { from: 'All' } } },
        ],
      },
    },
  ];
}
