import { describe, expect, it } from '@jest/globals';
import type { ProviderConfig } from '../../../src/analysis/provider.ts';
import { createWebProvider } from '../../../src/analysis/stores/web.ts';
import { json, providerFailure, startServer, type Handler, type Loopback } from './loopback.ts';

// The web store against a loopback JSON API: the request the query describes,
// the JSONPath pick, and the outcomes of each kind of answer.

async function withServer(handler: Handler, run: (server: Loopback) => Promise<void>): Promise<void> {
  const server = await startServer(handler);
  try {
    await run(server);
  } finally {
    await server.close();
  }
}

function provider(address: string, extra: Partial<ProviderConfig> = {}) {
  return createWebProvider({ type: 'web', address, timeoutMs: 2000, ...extra });
}

describe('web store', () => {
  it('sends the GET the query describes, with the Secret token, and picks the number at the JSONPath', async () => {
    await withServer(
      (_req, res) => json(res, 200, { data: { checks: [{ score: 0.25 }, { score: '99.5' }] } }),
      async (server) => {
        const p = provider(`${server.url}/api/`, { credentials: { type: 'bearer', token: 'tok' } });
        await expect(
          p.query('path: /v1/score?service=podinfo\njsonPath: $.data.checks[-1].score'),
        ).resolves.toBe(99.5);
        await expect(p.query('{"jsonPath": "{$.data.checks[0][\'score\']}"}')).resolves.toBe(0.25);
        p.close();
        expect(server.requests[0]).toMatchObject({ method: 'GET', url: '/api/v1/score?service=podinfo' });
        expect(server.requests[0]?.headers.authorization).toBe('Bearer tok');
      },
    );
  });

  it('POSTs a body given as a mapping as JSON', async () => {
    await withServer(
      (req, res) => json(res, 200, { ok: JSON.parse(req.body).service === 'podinfo' }),
      async (server) => {
        const p = provider(server.url);
        await expect(
          p.query('method: POST\npath: /check\nbody:\n  service: "podinfo"\njsonPath: $.ok'),
        ).resolves.toBe(1);
        p.close();
        expect(server.requests[0]?.headers['content-type']).toBe('application/json');
      },
    );
  });

  it('has no data when the path is missing or null, and refuses a value that is not a number', async () => {
    await withServer(
      (_req, res) => json(res, 200, { value: null, list: [1, 2], word: 'high', nan: 'NaN', off: false }),
      async (server) => {
        const p = provider(server.url);
        await expect(p.query('jsonPath: $.missing')).resolves.toEqual({
          noData: true,
          reason: 'the answer has no value at $.missing',
        });
        await expect(p.query('jsonPath: $.value')).resolves.toMatchObject({ noData: true });
        await expect(p.query('jsonPath: $.nan')).resolves.toMatchObject({ noData: true });
        await expect(p.query('jsonPath: $.off')).resolves.toBe(0);
        const list = await providerFailure(p.query('jsonPath: $.list'));
        expect(list.kind).toBe('unusable-result');
        expect(list.message).toBe('the value at $.list is a list, not a number');
        expect((await providerFailure(p.query('jsonPath: $.word'))).message).toBe(
          'the value at $.word is "high", not a number',
        );
        p.close();
      },
    );
  });

  it('refuses a query it cannot read before sending anything', async () => {
    await withServer(
      (_req, res) => json(res, 200, {}),
      async (server) => {
        const p = provider(server.url);
        for (const [query, message] of [
          ['path: /x', 'the web query needs jsonPath, e.g. $.data.value'],
          [
            'jsonPath: $.a\nurl: http://elsewhere',
            'the web query has unknown keys url; it takes path, method, body, jsonPath',
          ],
          [
            'jsonPath: $..a',
            'JSONPath "$..a": cannot read "..a"; use .key, [\'key\'] or [index] steps (filters and wildcards pick several values)',
          ],
          [
            'jsonPath: $.a\npath: x',
            'the web query path must start with / or ?; it is appended to spec.provider.address',
          ],
          ['jsonPath: $.a\nbody: {}', 'the web query has a body: set method: POST'],
        ] as const) {
          const err = await providerFailure(p.query(query));
          expect(err.kind).toBe('bad-query');
          expect(err.message).toBe(message);
        }
        p.close();
        expect(server.requests).toHaveLength(0);
      },
    );
  });

  it("reports the endpoint's own error for a refused or failed request", async () => {
    let status = 401;
    await withServer(
      (_req, res) => json(res, status, { error: status === 401 ? 'token expired' : 'database down' }),
      async (server) => {
        const p = provider(server.url);
        const auth = await providerFailure(p.query('jsonPath: $.a'));
        expect(auth.kind).toBe('auth');
        expect(auth.message).toContain('answered 401 Unauthorized ({"error":"token expired"})');
        status = 503;
        const down = await providerFailure(p.query('jsonPath: $.a'));
        expect(down.kind).toBe('http-status');
        expect(down.message).toBe(
          `web endpoint at ${server.url} answered HTTP 503: {"error":"database down"}`,
        );
        p.close();
      },
    );
  });

  it('honours Retry-After on a 429: nothing more is sent until it has passed', async () => {
    await withServer(
      (_req, res) => {
        res.writeHead(429, { 'retry-after': '120', 'content-type': 'application/json' });
        res.end('{"error":"slow down"}');
      },
      async (server) => {
        const p = provider(server.url);
        const first = await providerFailure(p.query('jsonPath: $.a'));
        expect(first.kind).toBe('rate-limited');
        expect(first.message).toMatch(
          /answered 429 Too Many Requests: \{"error":"slow down"\}; next query after \d{4}-/,
        );
        const second = await providerFailure(p.query('jsonPath: $.a'));
        expect(second.kind).toBe('rate-limited');
        expect(second.message).toMatch(/asked Fledge to wait until .* \(Retry-After\); no query was sent/);
        expect(server.requests).toHaveLength(1);
        p.close();
      },
    );
  });
});
