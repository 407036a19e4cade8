import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { createPrometheusProvider } from '../../../src/analysis/stores/prometheus.ts';
import type { ProviderTls } from '../../../src/analysis/provider.ts';
import { WebhookClient } from '../../../src/hooks/index.ts';
import { createHttpTransport } from '../../../src/notifiers/index.ts';
import { describeTlsFailure } from '../../../src/telemetry/tls.ts';
import { startServer, type Loopback } from '../analysis/loopback.ts';
import { capturedLogger } from './receiver.ts';

// A failed TLS handshake reads as one line naming the problem, the server and the fix,
// the same for metric queries, webhooks and alerts, against real local HTTPS servers.

const openssl = (dir: string, ...args: string[]) =>
  execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });

let dir: string;
const pem = (name: string) => readFileSync(join(dir, name), 'utf8');
const servers: Loopback[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'fledge-tls-lines-'));
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1'];
  // Self-signed, for 127.0.0.1.
  openssl(dir, 'req', '-x509', ...key, '-keyout', 'self.key', '-out', 'self.crt', '-subj', '/CN=self');
  // A CA, and a server certificate it signed for "localhost" only.
  openssl(dir, 'req', '-x509', ...key, '-keyout', 'ca.key', '-out', 'ca.crt', '-subj', '/CN=test-ca');
  const csrKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(dir, 'req', '-new', ...csrKey, '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', '/CN=localhost');
  openssl(
    dir,
    'x509',
    '-req',
    '-in',
    'leaf.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '1',
    '-out',
    'leaf.crt',
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function serve(tls?: { key: string; cert: string }): Promise<Loopback> {
  const server = await startServer((_req, res) => void res.end('{}'), tls);
  servers.push(server);
  return server;
}

/**
 * The line each of the three clients reports against `url`. Webhooks and alerts name only
 * host and port: their URLs are credentials, and every URL in their messages is cut to its host.
 */
async function linesFor(url: string, prometheusTls?: ProviderTls): Promise<string[]> {
  const prometheus = createPrometheusProvider({
    type: 'prometheus',
    address: url,
    timeoutMs: 5_000,
    ...(prometheusTls ? { tls: prometheusTls } : {}),
  });
  const query = await prometheus.query('up').then(
    () => 'answered',
    (err: Error) => err.message,
  );
  prometheus.close();

  const webhooks = new WebhookClient({ logger: capturedLogger().logger });
  const hook = await webhooks.call({
    id: 'uid/1/1/hook',
    canary: { name: 'podinfo', namespace: 'apps' },
    webhook: {
      name: 'gate',
      type: 'rollout',
      url: `${url}/gate`,
      timeout: '5s',
      retries: 0,
      disableTLS: false,
      muteAlert: false,
    },
    phase: 'Progressing',
    checksum: 'x',
  });
  await webhooks.close();

  const alert = await createHttpTransport()
    .send({ url: `${url}/alert`, headers: {}, body: '{}', timeoutMs: 5_000 }, new AbortController().signal)
    .then(
      () => 'answered',
      (err: Error) => err.message,
    );
  return [query, hook.message, alert];
}

describe('a failed TLS handshake', () => {
  it('says the certificate is self-signed, where, and how to trust it', async () => {
    const { url } = await serve({ key: pem('self.key'), cert: pem('self.crt') });
    const host = new URL(url).host;
    const [query, hook, alert] = await linesFor(url);
    expect(query).toBe(
      `TLS: self-signed certificate for ${url} (trust its CA with ca.crt in the provider Secret, ` +
        'or set spec.provider.insecureSkipVerify)',
    );
    expect(hook).toBe(
      `request failed: TLS: self-signed certificate for ${host} ` +
        "(add its CA to the operator's NODE_EXTRA_CA_CERTS, or set disableTLS on the webhook)",
    );
    expect(alert).toBe(
      `TLS: self-signed certificate for ${host} (add its CA to the operator's NODE_EXTRA_CA_CERTS)`,
    );
  });

  it('says a certificate from an unknown CA is signed by an unknown authority', async () => {
    const { url } = await serve({ key: pem('leaf.key'), cert: pem('leaf.crt') });
    const [query, ...others] = await linesFor(url);
    expect(query).toContain(`TLS: certificate signed by unknown authority for ${url} (`);
    for (const line of others)
      expect(line).toContain(`TLS: certificate signed by unknown authority for ${new URL(url).host} (`);
  });

  it('says a trusted certificate for another name is not valid for this host name', async () => {
    const { url } = await serve({ key: pem('leaf.key'), cert: pem('leaf.crt') });
    const [query] = await linesFor(url, { ca: pem('ca.crt') });
    expect(query).toBe(
      `TLS: certificate not valid for this host name for ${url} (use a name the certificate lists)`,
    );
  });

  it('says a plain HTTP server does not speak TLS, never quoting OpenSSL', async () => {
    const plain = await serve();
    const url = plain.url.replace('http:', 'https:');
    const [query, ...others] = await linesFor(url);
    expect(query).toBe(`TLS: ${url} does not speak TLS (use an http URL, or the server's TLS port)`);
    for (const line of others)
      expect(line).toContain(`TLS: ${plain.url.slice('http://'.length)} does not speak TLS (use an http URL`);
    for (const line of [query, ...others]) expect(line).not.toMatch(/SSL routines|:error:/);
  });

  it('leaves errors that are not about TLS alone', () => {
    expect(describeTlsFailure(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }), 'x', 'y')).toBe(
      undefined,
    );
    const expired = Object.assign(new Error('wrapped'), {
      cause: Object.assign(new Error('certificate has expired'), { code: 'CERT_HAS_EXPIRED' }),
    });
    expect(describeTlsFailure(expired, 'https://h:1', 'y')).toBe(
      "TLS: certificate expired for https://h:1 (renew the server's certificate)",
    );
  });
});
