import { Agent, request } from 'node:http';

export interface LoadOptions {
  /** Host header, which picks the route. */
  host: string;
  headers?: Record<string, string>;
  /** Requests in flight at once. */
  concurrency?: number;
  /** Pause of each worker between its requests, to keep a small machine responsive. */
  pauseMs?: number;
}

export interface Load {
  /** Status codes of the answers so far (0: no answer). */
  codes(): Map<number, number>;
  stop(): Promise<void>;
}

/** Sends GET `url` over and over until stopped: steady traffic for the proxy and its metrics. */
export function startLoad(url: string, options: LoadOptions): Load {
  const agent = new Agent({ keepAlive: true });
  const codes = new Map<number, number>();
  let running = true;
  const worker = async () => {
    while (running) {
      const code = await get(url, agent, { host: options.host, ...options.headers });
      codes.set(code, (codes.get(code) ?? 0) + 1);
      await new Promise((done) => setTimeout(done, options.pauseMs ?? 25));
    }
  };
  const workers = Array.from({ length: options.concurrency ?? 2 }, worker);
  return {
    codes: () => new Map(codes),
    stop: async () => {
      running = false;
      await Promise.all(workers);
      agent.destroy();
    },
  };
}

/** One GET; resolves with the status code, or 0 when no answer came within 5 s. */
export function get(url: string, agent: Agent, headers: Record<string, string>): Promise<number> {
  return new Promise((done) => {
    const req = request(url, { agent, headers, timeout: 5_000 }, (res) => {
      res.resume();
      res.on('end', () => done(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => done(0));
    req.end();
  });
}
