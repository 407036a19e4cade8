import { describe, expect, it } from '@jest/globals';
import { createGraphiteProvider } from '../../../src/analysis/stores/graphite.ts';
import { providerFailure, startServer } from './loopback.ts';

// What a real Graphite cannot be made to do on demand: fail inside a function
// and answer its HTML traceback page. The rest runs against Debian's Graphite in
// test/integration/analysis/graphite.test.ts.

const tracebackPage = `<body><center><h2>Graphite encountered an unexpected error while handling your request.</h2>
<pre>
Traceback (most recent call last):
  File &quot;/usr/lib/python3/dist-packages/graphite/render/attime.py&quot;, line 200, in getUnitString
    raise ValueError(&quot;Invalid offset unit &#x27;%s&#x27;&quot; % s)
ValueError: Invalid offset unit &#x27;m&#x27;
</pre></center>`;

describe('graphite store', () => {
  it("reports the exception of Graphite's error page, not the page", async () => {
    const server = await startServer((_req, res) => {
      res.writeHead(500, { 'content-type': 'text/html' });
      res.end(tracebackPage);
    });
    const provider = createGraphiteProvider({ type: 'graphite', address: server.url, timeoutMs: 2000 });
    try {
      const err = await providerFailure(provider.query("target=summarize(a.b, '1m', 'avg')"));
      expect(err.kind).toBe('http-status');
      expect(err.message).toBe(
        `Graphite at ${server.url} answered HTTP 500: ValueError: Invalid offset unit 'm'`,
      );
      expect(server.requests[0]?.url).toBe(
        '/render?target=summarize%28a.b%2C+%271m%27%2C+%27avg%27%29&format=json',
      );
    } finally {
      provider.close();
      await server.close();
    }
  });

  it('refuses a query without a target before sending it', async () => {
    const provider = createGraphiteProvider({
      type: 'graphite',
      address: 'http://127.0.0.1:9',
      timeoutMs: 2000,
    });
    const err = await providerFailure(provider.query('from=-5min'));
    provider.close();
    expect(err.kind).toBe('bad-query');
  });
});
