import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '../../../src/kube/config.ts';

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  contentType: string | undefined;
  authorization: string | undefined;
  body: unknown;
}

export interface FakeResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

type Route = (request: RecordedRequest) => FakeResponse | undefined;

const discovery: Record<string, { name: string; kind: string; namespaced: boolean }[]> = {
  '/api/v1': [
    { name: 'configmaps', kind: 'ConfigMap', namespaced: true },
    { name: 'namespaces', kind: 'Namespace', namespaced: false },
    { name: 'services', kind: 'Service', namespaced: true },
  ],
  '/apis/fledge.dev/v1beta1': [
    { name: 'canaries', kind: 'Canary', namespaced: true },
    { name: 'canaries/status', kind: 'Canary', namespaced: true },
  ],
  '/apis/events.k8s.io/v1': [{ name: 'events', kind: 'Event', namespaced: true }],
};

/**
 * A loopback HTTP server answering discovery for a few kinds and recording every
 * other request; tests decide the answers through `respond`.
 */
export class FakeApiServer {
  readonly requests: RecordedRequest[] = [];
  respond: Route = () => ({ status: 200, body: { kind: 'Status', status: 'Success' } });
  readonly #server: Server;

  private constructor() {
    this.#server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const url = new URL(request.url ?? '/', 'http://localhost');
        const text = Buffer.concat(chunks).toString('utf8');
        const resources = discovery[url.pathname];
        let answer: FakeResponse;
        if (resources) {
          answer = { status: 200, body: { kind: 'APIResourceList', groupVersion: url.pathname, resources } };
        } else {
          const recorded: RecordedRequest = {
            method: request.method ?? '',
            path: url.pathname,
            query: Object.fromEntries(url.searchParams),
            contentType: request.headers['content-type'],
            authorization: request.headers.authorization,
            body: text ? JSON.parse(text) : undefined,
          };
          this.requests.push(recorded);
          answer = this.respond(recorded) ?? { status: 404, body: {} };
        }
        response.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
        response.end(answer.body === undefined ? '' : JSON.stringify(answer.body));
      });
    });
  }

  static async start(): Promise<FakeApiServer> {
    const fake = new FakeApiServer();
    await new Promise<void>((resolve) => fake.#server.listen(0, '127.0.0.1', resolve));
    return fake;
  }

  kubeConfig(): KubeConfig {
    const { port } = this.#server.address() as AddressInfo;
    const kc = new KubeConfig();
    kc.loadFromOptions({
      // client-node refuses plain HTTP unless TLS verification is explicitly off.
      clusters: [{ name: 'fake', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
      users: [{ name: 'tester', token: 'test-token' }],
      contexts: [{ name: 'fake', cluster: 'fake', user: 'tester' }],
      currentContext: 'fake',
    });
    return kc;
  }

  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}
