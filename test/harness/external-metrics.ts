import { KubeConfig } from '@kubernetes/client-node';
import { startFakeApi, type FakeAnswer } from './fake-api.ts';

// The external metrics API (external.metrics.k8s.io/v1beta1) as the apiserver
// serves it for a registered adapter, on a loopback HTTPS server: bearer token
// checked (401 Status), an ExternalMetricValueList per metric and label
// selector, a 404 Status for a metric no adapter knows, 503 when told the
// adapter is down.
//
// It is not registered with the test apiserver as an APIService: the control
// plane runs without the aggregation layer's front-proxy certificates, an
// APIService's Service cannot point at loopback endpoints, and registering
// external.metrics.k8s.io would be a cluster-wide change shared by every test
// file. Clients reach it with a kubeconfig of their own instead.

export interface FakeExternalMetrics {
  readonly url: string;
  /** A kubeconfig whose cluster is this server, authenticated with the token. */
  readonly kubeConfig: KubeConfig;
  /** The label selectors asked for, in order. */
  readonly selectors: (string | null)[];
  /** The values (quantities) of a metric in a namespace, for a label selector ('' for none). */
  answer(namespace: string, metric: string, selector: string, values: string[] | 'unavailable'): void;
  close(): Promise<void>;
}

const status = (code: number, reason: string, message: string): FakeAnswer => ({
  status: code,
  body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code },
});

export async function startFakeExternalMetrics(token: string): Promise<FakeExternalMetrics> {
  const answers = new Map<string, string[] | 'unavailable'>();
  const selectors: (string | null)[] = [];
  const api = await startFakeApi(({ url, headers }): FakeAnswer => {
    if (headers.authorization !== `Bearer ${token}`) return status(401, 'Unauthorized', 'Unauthorized');
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
        apiVersion: 'external.metrics.k8s.io/v1beta1',
        metadata: {},
        items: values.map((value) => ({
          metricName: metric,
          metricLabels: {},
          timestamp: new Date().toISOString(),
          value,
        })),
      },
    };
  });
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'fake', server: api.url, caData: Buffer.from(api.ca).toString('base64') }],
    users: [{ name: 'fledge', token }],
    contexts: [{ name: 'fake', cluster: 'fake', user: 'fledge' }],
    currentContext: 'fake',
  });
  return {
    ...api,
    kubeConfig,
    selectors,
    answer: (namespace, metric, selector, values) =>
      void answers.set(`${namespace}/${metric}?${selector}`, values),
  };
}
