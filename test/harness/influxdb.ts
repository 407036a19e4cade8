import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ProcessGroup, freePort, waitFor } from './processes.ts';

// Debian's InfluxDB 1.6 on loopback with authentication on: an admin user is
// created first (1.x allows that one statement without credentials), then
// points are written through the 1.x line-protocol API.

export interface InfluxDB {
  readonly url: string;
  /** Runs an InfluxQL statement as the admin user; rejects on an error. */
  influxql(statement: string): Promise<void>;
  /** Writes line-protocol points into a database, stamped now. */
  write(database: string, lines: readonly string[]): Promise<void>;
  stop(): Promise<void>;
}

export async function startInfluxDB(admin: { username: string; password: string }): Promise<InfluxDB> {
  const group = await ProcessGroup.create('fledge-influxdb');
  try {
    const dir = group.workdir;
    const [httpPort, rpcPort] = [await freePort(), await freePort()];
    await writeFile(
      join(dir, 'influxdb.conf'),
      [
        'reporting-enabled = false',
        `bind-address = "127.0.0.1:${rpcPort}"`,
        '[meta]',
        `  dir = "${dir}/meta"`,
        '[data]',
        `  dir = "${dir}/data"`,
        `  wal-dir = "${dir}/wal"`,
        '[http]',
        `  bind-address = "127.0.0.1:${httpPort}"`,
        '  auth-enabled = true',
        '  log-enabled = false',
        '[monitor]',
        '  store-enabled = false',
        '[continuous_queries]',
        '  enabled = false',
        '',
      ].join('\n'),
    );
    await group.start('influxd', 'influxd', ['run', '-config', join(dir, 'influxdb.conf')]);
    const url = `http://127.0.0.1:${httpPort}`;
    await waitFor('InfluxDB /ping', async () => {
      group.assertRunning('influxd');
      return (await fetch(`${url}/ping`)).status === 204;
    });
    const post = async (path: string, body: URLSearchParams | string, auth: boolean) => {
      const res = await fetch(`${url}${path}`, {
        method: 'POST',
        body,
        headers: auth
          ? {
              authorization: `Basic ${Buffer.from(`${admin.username}:${admin.password}`).toString('base64')}`,
            }
          : {},
      });
      const text = await res.text();
      if (!res.ok || text.includes('"error"'))
        throw new Error(`InfluxDB ${path} failed: ${res.status} ${text}`);
    };
    await post(
      '/query',
      new URLSearchParams({
        q: `CREATE USER "${admin.username}" WITH PASSWORD '${admin.password}' WITH ALL PRIVILEGES`,
      }),
      false,
    );
    return {
      url,
      influxql: (statement) => post('/query', new URLSearchParams({ q: statement }), true),
      write: (database, lines) => post(`/write?db=${encodeURIComponent(database)}`, lines.join('\n'), true),
      stop: () => group.stop(),
    };
  } catch (err) {
    await group.stop();
    throw err;
  }
}
