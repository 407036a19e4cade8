import { KubeConfig } from '../../src/kube/config.ts';
import { kubectl } from './control-plane.ts';
import { startFakeApi, type FakeAnswer, type FakeRequest } from './fake-api.ts';
import { freeSubnet, startNetworkLink } from './pod-network.ts';
import { waitFor } from './processes.ts';

// The external metrics API (external.metrics.k8s.io/v1beta1) as an adapter
// serves it: an ExternalMetricValueList per metric and label selector, a 404
// Status for a metric it does not know, 503 when told it is down.
//
// Two ways in. startFakeExternalMetrics listens on loopback and checks a bearer
// token itself; clients reach it with a kubeconfig of their own (the store's
// unit tests). serveExternalMetrics registers it with the test apiserver's
// aggregation layer as the APIService v1beta1.external.metrics.k8s.io, so that
// clients ask the apiserver, which authenticates and authorizes them and
// proxies the request with the user in X-Remote-User. The apiserver dials the
// Service's endpoint directly (--enable-aggregator-routing), and an endpoint may
// not be a loopback address, so that server listens on the host's end of a veth
// pair into a network namespace of its own.

export interface ExternalMetrics {
  readonly url: string;
  /** The label selectors asked for, in order. */
  readonly selectors: (string | null)[];
  /** The values (quantities) of a metric in a namespace, for a label selector ('' for none). */
  answer(namespace: string, metric: string, selector: string, values: string[] | 'unavailable'): void;
  close(): Promise<void>;
}

export interface FakeExternalMetrics extends ExternalMetrics {
  /** A kubeconfig whose cluster is this server, authenticated with the token. */
  readonly kubeConfig: KubeConfig;
}

export interface AggregatedExternalMetrics extends ExternalMetrics {
  /** The users the apiserver named in X-Remote-User, in order. */
  readonly users: string[];
}

const group = 'external.metrics.k8s.io';
const groupVersion = `${group}/v1beta1`;
export const externalMetricsAPIService = 'v1beta1.external.metrics.k8s.io';

const status = (code: number, reason: string, message: string): FakeAnswer => ({
  status: code,
  body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code },
});

/** Serves the metric values the test sets; `authorized` decides who may read them. */
async function startServer(
  authorized: (request: FakeRequest) => boolean,
  host?: string,
): Promise<ExternalMetrics & { ca: string }> {
  const answers = new Map<string, string[] | 'unavailable'>();
  const selectors: (string | null)[] = [];
  const api = await startFakeApi((request): FakeAnswer => {
    const { url } = request;
    if (!authorized(request)) return status(401, 'Unauthorized', 'Unauthorized');
    // The group's discovery document, which the apiserver asks for to mark the APIService Available.
    if (url.pathname === `/apis/${groupVersion}`) {
      return {
        status: 200,
        body: { kind: 'APIResourceList', apiVersion: 'v1', groupVersion, resources: [] },
      };
    }
    const match = /^\/apis\/external\.metrics\.k8s\.io\/v1beta1\/namespaces\/([^/]+)\/([^/]+)$/.exec(
      url.pathname,
    );
    if (!match) return status(404, 'NotFound', 'the server could not find the requested resource');
    const [, namespace = '', metric = ''] = match;
    const selector = url.searchParams.get('labelSelector');
    selectors.push(selector);
    const values = answers.get(`${namespace}/${metric}?${selector ?? ''}`);
    if (values === 'unavailable')
      return status(503, 'ServiceUnavailable', 'the server is currently unable to handle the request');
    if (values === undefined) {
      return status(
        404,
        'NotFound',
        `unable to get external metric ${namespace}/${metric}/${JSON.stringify(selector ?? {})}: no metric found`,
      );
    }
    return {
      status: 200,
      body: {
        kind: 'ExternalMetricValueList',
        apiVersion: groupVersion,
        metadata: {},
        items: values.map((value) => ({
          metricName: metric,
          metricLabels: {},
          timestamp: new Date().toISOString(),
          value,
        })),
      },
    };
  }, host);
  return {
    ...api,
    selectors,
    answer: (namespace, metric, selector, values) =>
      void answers.set(`${namespace}/${metric}?${selector}`, values),
  };
}

export async function startFakeExternalMetrics(token: string): Promise<FakeExternalMetrics> {
  const api = await startServer(({ headers }) => headers.authorization === `Bearer ${token}`);
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'fake', server: api.url, caData: Buffer.from(api.ca).toString('base64') }],
    users: [{ name: 'fledge', token }],
    contexts: [{ name: 'fake', cluster: 'fake', user: 'fledge' }],
    currentContext: 'fake',
  });
  return { ...api, kubeConfig };
}

/**
 * Serves external metrics through the apiserver: the server on a veth pair's host end, a selector-less
 * Service in `namespace` with an EndpointSlice to it, and the APIService, waited on until Available.
 * The APIService is cluster-wide; close() deletes it.
 */
export async function serveExternalMetrics(
  kubeconfigPath: string,
  namespace: string,
): Promise<AggregatedExternalMetrics> {
  // A /30 no other link on this machine has (another run may be registering its own adapter).
  const subnet = await freeSubnet('10.251');
  const link = await startNetworkLink('fledge-extmetrics', `${subnet}.1`, `${subnet}.2`);
  const users: string[] = [];
  let api: (ExternalMetrics & { ca: string }) | undefined;
  const close = async () => {
    await kubectl(kubeconfigPath, ['delete', 'apiservice', externalMetricsAPIService, '--ignore-not-found']);
    await api?.close();
    await link.stop();
  };
  try {
    // The apiserver's proxy client names the user; who it is does not matter here, that it came does.
    api = await startServer(({ headers }) => {
      const user = headers['x-remote-user'];
      if (typeof user !== 'string') return false;
      users.push(user);
      return true;
    }, link.hostAddress);
    const port = Number(new URL(api.url).port);
    const name = 'external-metrics';
    const objects = [
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name, namespace },
        spec: { ports: [{ name: 'https', port: 443, targetPort: port }] },
      },
      {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: {
          name,
          namespace,
          labels: {
            'kubernetes.io/service-name': name,
            'endpointslice.kubernetes.io/managed-by': 'fledge-tests',
          },
        },
        addressType: 'IPv4',
        endpoints: [{ addresses: [link.hostAddress], conditions: { ready: true } }],
        ports: [{ name: 'https', port, protocol: 'TCP' }],
      },
      {
        apiVersion: 'apiregistration.k8s.io/v1',
        kind: 'APIService',
        metadata: { name: externalMetricsAPIService },
        spec: {
          group,
          version: 'v1beta1',
          service: { namespace, name, port: 443 },
          // The server's certificate names 127.0.0.1, not the Service.
          insecureSkipTLSVerify: true,
          groupPriorityMinimum: 100,
          versionPriority: 100,
        },
      },
    ];
    await kubectl(
      kubeconfigPath,
      ['apply', '-f', '-'],
      JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }),
    );
    let conditions = '';
    await waitFor(
      `APIService ${externalMetricsAPIService} Available`,
      async () => {
        conditions = await kubectl(kubeconfigPath, [
          'get',
          'apiservice',
          externalMetricsAPIService,
          '-o',
          'jsonpath={.status.conditions}',
        ]);
        const parsed = JSON.parse(conditions || '[]') as { type: string; status: string }[];
        return parsed.some((c) => c.type === 'Available' && c.status === 'True');
      },
      60_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}; its conditions: ${conditions}`);
    });
  } catch (err) {
    await close();
    throw err;
  }
  return { url: api.url, selectors: api.selectors, answer: api.answer, users, close };
}
