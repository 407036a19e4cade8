import { afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { createPrometheusProvider } from '../../../src/analysis/stores/prometheus.ts';
import { ProviderError, type MetricProvider, type ProviderConfig } from '../../../src/analysis/provider.ts';
import { selfSignedCertificate } from '../../harness/tls.ts';
import { json, startServer, vector, type Handler, type Loopback } from './loopback.ts';

// The provider against scripted loopback servers: every answer shape
// Prometheus (or something pretending to be it) can give, and how each is
// classified. The same provider runs against a real Prometheus in
// test/integration/analysis.

const open: { servers: Loopback[]; providers: MetricProvider[] } = { servers: [], providers: [] };

afterEach(async () => {
  for (const p of open.providers.splice(0)) p.close();
  await Promise.all(open.servers.splice(0).map((s) => s.close()));
});

async function serve(handler: Handler, tls?: { key: string; cert: string }): Promise<Loopback> {
  const server = await startServer(handler, tls);
  open.servers.push(server);
  return server;
}

function provider(address: string, extra: Partial<ProviderConfig> = {}): MetricProvider {
  const p = createPrometheusProvider({ type: 'prometheus', address, timeoutMs: 2000, ...extra });
  open.providers.push(p);
  return p;
}

async function failure(promise: Promise<unknown>): Promise<ProviderError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(ProviderError);
    return err as ProviderError;
  }
  throw new Error('expected the query to fail');
}

describe('prometheus provider: results', () => {
  it('POSTs the query with a server-side timeout and reads a single sample', async () => {
    const server = await serve((_req, res) => json(res, 200, vector({ value: '99.5' })));
    await expect(provider(`${server.url}/prom/`).query('sum(up)')).resolves.toBe(99.5);
    const [req] = server.requests;
    expect(req?.method).toBe('POST');
    expect(req?.url).toBe('/prom/api/v1/query');
    expect(new URLSearchParams(req?.body).get('query')).toBe('sum(up)');
    expect(new URLSearchParams(req?.body).get('timeout')).toBe('2000ms');
  });

  it('reads scalars and infinities', async () => {
    const answers = [
      { status: 'success', data: { resultType: 'scalar', result: [1, '42'] } },
      vector({ value: '+Inf' }),
      vector({ value: '-Inf' }),
    ];
    const server = await serve((_req, res) => json(res, 200, answers.shift()));
    const p = provider(server.url);
    expect(await p.query('42')).toBe(42);
    expect(await p.query('x')).toBe(Infinity);
    expect(await p.query('x')).toBe(-Infinity);
  });

  it('returns no data for an empty vector and for NaN', async () => {
    const answers = [vector(), vector({ value: 'NaN' })];
    const server = await serve((_req, res) => json(res, 200, answers.shift()));
    const p = provider(server.url);
    expect(await p.query('x')).toEqual({ noData: true, reason: 'the query returned no series' });
    expect(await p.query('x')).toMatchObject({ noData: true, reason: expect.stringContaining('NaN') });
  });

  it('refuses several series, naming them and suggesting an aggregation', async () => {
    const server = await serve((_req, res) =>
      json(res, 200, vector({ labels: { pod: 'a' }, value: '1' }, { labels: { pod: 'b' }, value: '2' })),
    );
    const err = await failure(provider(server.url).query('x'));
    expect(err.kind).toBe('unusable-result');
    expect(err.message).toContain('2 series ({pod="a"}, {pod="b"})');
    expect(err.message).toContain('sum(');
  });

  it('refuses a range vector', async () => {
    const server = await serve((_req, res) =>
      json(res, 200, { status: 'success', data: { resultType: 'matrix', result: [] } }),
    );
    expect((await failure(provider(server.url).query('x[5m]'))).kind).toBe('unusable-result');
  });
});

describe('prometheus provider: errors', () => {
  it.each([
    [400, 'bad_data', 'bad-query'],
    [422, 'execution', 'bad-query'],
    [503, 'timeout', 'timeout'],
    [503, 'canceled', 'timeout'],
    [500, 'internal', 'http-status'],
  ])('HTTP %i with errorType %s is %s, keeping the Prometheus message', async (status, errorType, kind) => {
    const server = await serve((_req, res) =>
      json(res, status, { status: 'error', errorType, error: 'parse error at char 5: unexpected "}"' }),
    );
    const err = await failure(provider(server.url).query('x{'));
    expect(err.kind).toBe(kind);
    expect(err.message).toContain('parse error at char 5');
  });

  it.each([
    [401, 'Unauthorized'],
    [403, 'Forbidden'],
  ])('HTTP %i is an auth error pointing at the Secret', async (status, word) => {
    const server = await serve((_req, res) => {
      res.writeHead(status);
      res.end();
    });
    const err = await failure(provider(server.url).query('x'));
    expect(err.kind).toBe('auth');
    expect(err.message).toContain(`${status} ${word}`);
    expect(err.message).toContain('secretRef');
  });

  it('reports another status with the start of the body', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(502, { 'content-type': 'text/html' });
      res.end('<html><body>Bad gateway from the mesh</body></html>');
    });
    const err = await failure(provider(server.url).query('x'));
    expect(err.kind).toBe('http-status');
    expect(err.message).toContain('HTTP 502');
    expect(err.message).toContain('Bad gateway from the mesh');
  });

  it('does not follow redirects, which could carry credentials elsewhere', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(307, { location: 'http://127.0.0.1:1/elsewhere' });
      res.end();
    });
    const err = await failure(provider(server.url).query('x'));
    expect(err.kind).toBe('http-status');
    expect(err.message).toContain('HTTP 307');
  });

  it.each([
    ['a web page', 'text/html', '<html>login</html>'],
    ['JSON of another API', 'application/json', '{"hello":"world"}'],
    ['a sample that is not a number', 'application/json', JSON.stringify(vector({ value: 'lots' }))],
  ])('reports %s as a bad response', async (_what, type, body) => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': type });
      res.end(body);
    });
    expect((await failure(provider(server.url).query('x'))).kind).toBe('bad-response');
  });

  it('reports a refused connection with the address', async () => {
    const server = await serve(() => undefined);
    await server.close();
    const err = await failure(provider(server.url).query('x'));
    expect(err.kind).toBe('connection');
    expect(err.message).toContain(server.url);
    expect(err.message).toContain('ECONNREFUSED');
  });

  it('times out a slow server', async () => {
    const server = await serve(() => undefined); // never answers
    const err = await failure(provider(server.url, { timeoutMs: 200 }).query('x'));
    expect(err.kind).toBe('timeout');
    expect(err.message).toContain('did not answer within 0.2s');
  });

  it('reports a caller abort as cancelled, not as a timeout', async () => {
    const server = await serve(() => undefined);
    const controller = new AbortController();
    const pending = provider(server.url).query('x', controller.signal);
    setTimeout(() => controller.abort(), 50);
    expect((await failure(pending)).kind).toBe('cancelled');
  });

  it.each([
    ['not a URL', 'prometheus:9090:x'],
    ['another scheme', 'ftp://prometheus'],
    ['embedded credentials', 'http://user:hunter2@prometheus:9090'],
  ])('refuses an address with %s at creation', (_what, address) => {
    let caught: unknown;
    try {
      createPrometheusProvider({ type: 'prometheus', address, timeoutMs: 1000 });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ProviderError);
    expect((caught as ProviderError).kind).toBe('config');
    expect((caught as ProviderError).message).not.toContain('hunter2');
  });
});

describe('prometheus provider: headers and credentials', () => {
  it('sends a bearer token and custom headers', async () => {
    const server = await serve((_req, res) => json(res, 200, vector({ value: '1' })));
    await provider(server.url, {
      credentials: { type: 'bearer', token: 't0ken' },
      headers: { 'X-Scope-OrgID': 'tenant-a' },
    }).query('x');
    expect(server.requests[0]?.headers.authorization).toBe('Bearer t0ken');
    expect(server.requests[0]?.headers['x-scope-orgid']).toBe('tenant-a');
  });

  it('sends basic credentials', async () => {
    const server = await serve((_req, res) => json(res, 200, vector({ value: '1' })));
    await provider(server.url, { credentials: { type: 'basic', username: 'al', password: 'pa:ss' } }).query(
      'x',
    );
    expect(server.requests[0]?.headers.authorization).toBe(
      `Basic ${Buffer.from('al:pa:ss').toString('base64')}`,
    );
  });

  it('refuses invalid headers and an Authorization header next to Secret credentials', () => {
    expect(() =>
      createPrometheusProvider({
        type: 'prometheus',
        address: 'http://p',
        timeoutMs: 1,
        headers: { 'Bad Name': 'x' },
      }),
    ).toThrow(/not a valid HTTP header/);
    expect(() =>
      createPrometheusProvider({
        type: 'prometheus',
        address: 'http://p',
        timeoutMs: 1,
        headers: { A: 'x\r\nB: y' },
      }),
    ).toThrow(/not a valid HTTP header/);
    expect(() =>
      createPrometheusProvider({
        type: 'prometheus',
        address: 'http://p',
        timeoutMs: 1,
        headers: { authorization: 'Bearer a' },
        credentials: { type: 'bearer', token: 'b' },
      }),
    ).toThrow(/keep only one/);
  });

  it('reuses kept-alive connections across queries', async () => {
    const server = await serve((_req, res) => json(res, 200, vector({ value: '1' })));
    const p = provider(server.url);
    await p.query('a');
    await p.query('b');
    expect(server.requests.map((r) => r.headers.connection)).toEqual(['keep-alive', 'keep-alive']);
  });

  it('lets a query in flight finish when the provider is closed', async () => {
    const server = await serve(async (_req, res) => {
      await new Promise((r) => setTimeout(r, 100));
      json(res, 200, vector({ value: '7' }));
    });
    const p = provider(server.url);
    const pending = p.query('x');
    await new Promise((r) => setTimeout(r, 20));
    p.close();
    await expect(pending).resolves.toBe(7);
  });
});

describe('prometheus provider: TLS', () => {
  let cert: string;
  let key: string;

  beforeAll(() => {
    ({ cert, key } = selfSignedCertificate());
  });

  it('refuses an untrusted certificate with a tls error naming the fixes', async () => {
    const server = await serve((_req, res) => json(res, 200, vector({ value: '1' })), { key, cert });
    const err = await failure(provider(server.url).query('x'));
    expect(err.kind).toBe('tls');
    expect(err.message).toContain('ca.crt');
    expect(err.message).toContain('insecureSkipVerify');
  });

  it('trusts a CA from the Secret', async () => {
    const server = await serve((_req, res) => json(res, 200, vector({ value: '3' })), { key, cert });
    await expect(provider(server.url, { tls: { ca: cert } }).query('x')).resolves.toBe(3);
  });

  it('skips verification when asked', async () => {
    const server = await serve((_req, res) => json(res, 200, vector({ value: '4' })), { key, cert });
    await expect(provider(server.url, { tls: { insecureSkipVerify: true } }).query('x')).resolves.toBe(4);
  });
});
