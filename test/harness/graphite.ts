import { writeFile, mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { join } from 'node:path';
import { ProcessGroup, freePort, waitFor } from './processes.ts';

// Debian's Graphite on loopback: carbon-cache receives points over the
// plaintext protocol and writes whisper files at 10 s resolution;
// graphite-web's render API reads them (and carbon's cache for points not yet
// written). graphite-web has no authentication of its own, so a small proxy
// in front demands HTTP basic auth, as a reverse proxy would in production.

export interface Graphite {
  /** The render API behind basic auth (the address a MetricTemplate uses). */
  readonly url: string;
  /** graphite-web itself, without authentication. */
  readonly directUrl: string;
  /** Requests the proxy refused for their credentials. */
  readonly unauthorized: () => number;
  /** Sends points (seconds since the epoch) over carbon's plaintext protocol. */
  feed(points: readonly { path: string; value: number; timestamp?: number }[]): Promise<void>;
  stop(): Promise<void>;
}

export async function startGraphite(auth: { username: string; password: string }): Promise<Graphite> {
  const group = await ProcessGroup.create('fledge-graphite');
  let proxy: Server | undefined;
  try {
    const dir = group.workdir;
    const storage = join(dir, 'storage');
    await mkdir(join(storage, 'whisper'), { recursive: true });
    await mkdir(join(storage, 'log', 'webapp'), { recursive: true });
    const [linePort, picklePort, queryPort, webPort] = [
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
    ];
    await writeFile(
      join(dir, 'carbon.conf'),
      [
        '[cache]',
        `STORAGE_DIR = ${storage}/`,
        `LOCAL_DATA_DIR = ${storage}/whisper/`,
        `WHITELISTS_DIR = ${storage}/lists/`,
        `CONF_DIR = ${dir}/`,
        `LOG_DIR = ${storage}/log/`,
        `PID_DIR = ${storage}/`,
        'ENABLE_LOGROTATION = False',
        'USER =',
        'MAX_CACHE_SIZE = inf',
        'MAX_UPDATES_PER_SECOND = 1000',
        'MAX_CREATES_PER_MINUTE = inf',
        'LINE_RECEIVER_INTERFACE = 127.0.0.1',
        `LINE_RECEIVER_PORT = ${linePort}`,
        'ENABLE_UDP_LISTENER = False',
        'PICKLE_RECEIVER_INTERFACE = 127.0.0.1',
        `PICKLE_RECEIVER_PORT = ${picklePort}`,
        'CACHE_QUERY_INTERFACE = 127.0.0.1',
        `CACHE_QUERY_PORT = ${queryPort}`,
        '',
      ].join('\n'),
    );
    await writeFile(join(dir, 'storage-schemas.conf'), '[default]\npattern = .*\nretentions = 10s:1d\n');
    // graphite-web reads its settings from a module named by GRAPHITE_SETTINGS_MODULE.
    await writeFile(
      join(dir, 'fledge_graphite.py'),
      [
        "SECRET_KEY = 'fledge-test-only'",
        `STORAGE_DIR = '${storage}/'`,
        `CARBONLINK_HOSTS = ['127.0.0.1:${queryPort}']`,
        "ALLOWED_HOSTS = ['127.0.0.1']",
        '',
      ].join('\n'),
    );
    await group.start('carbon-cache', 'carbon-cache', [
      `--config=${join(dir, 'carbon.conf')}`,
      `--pidfile=${join(storage, 'carbon.pid')}`,
      `--logdir=${join(storage, 'log')}`,
      '--nodaemon',
      'start',
    ]);
    const webEnv = { GRAPHITE_SETTINGS_MODULE: 'fledge_graphite', PYTHONPATH: dir };
    const migrate = await group.start(
      'graphite-migrate',
      'graphite-manage',
      ['migrate', '--run-syncdb', '-v0'],
      webEnv,
    );
    await new Promise<void>((resolve, reject) =>
      migrate.once('exit', (code) =>
        code === 0 ? resolve() : reject(new Error(`graphite-manage migrate exited ${code}`)),
      ),
    );
    await group.start(
      'graphite-web',
      'graphite-manage',
      ['runserver', '--noreload', `127.0.0.1:${webPort}`],
      webEnv,
    );
    const directUrl = `http://127.0.0.1:${webPort}`;
    await waitFor('graphite-web /render', async () => {
      group.assertRunning('carbon-cache');
      group.assertRunning('graphite-web');
      return (await fetch(`${directUrl}/render?target=none&format=json`)).ok;
    });

    let unauthorized = 0;
    const expected = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
    proxy = createServer((req, res) => {
      if (req.headers.authorization !== expected) {
        unauthorized++;
        res.writeHead(401, { 'www-authenticate': 'Basic realm="graphite"', 'content-type': 'text/plain' });
        res.end('Unauthorized\n');
        return;
      }
      void fetch(`${directUrl}${req.url ?? '/'}`)
        .then(async (upstream) => {
          res.writeHead(upstream.status, {
            'content-type': upstream.headers.get('content-type') ?? 'text/plain',
          });
          res.end(await upstream.text());
        })
        .catch(() => req.socket.destroy());
    });
    const server = proxy;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      directUrl,
      unauthorized: () => unauthorized,
      feed: async (points) => {
        const now = Math.floor(Date.now() / 1000);
        const lines = points.map((p) => `${p.path} ${p.value} ${p.timestamp ?? now}\n`).join('');
        await new Promise<void>((resolve, reject) => {
          const socket = connect(linePort, '127.0.0.1', () => socket.end(lines));
          socket.once('close', () => resolve());
          socket.once('error', reject);
        });
        // carbon creates a path's whisper file asynchronously; graphite-web finds only paths with one.
        for (const path of new Set(points.map((p) => p.path))) {
          await waitFor(`Graphite has ${path}`, async () => {
            const res = await fetch(
              `${directUrl}/render?target=${encodeURIComponent(path)}&from=-1d&format=json`,
            );
            const series = (await res.json()) as { datapoints: [number | null, number][] }[];
            return series.some((s) => s.datapoints.some(([value]) => value !== null));
          });
        }
      },
      stop: async () => {
        await new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        });
        await group.stop();
      },
    };
  } catch (err) {
    proxy?.close();
    await group.stop();
    throw err;
  }
}
