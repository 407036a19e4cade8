import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pushTimeseries } from 'prometheus-remote-write';
import { ProcessGroup, freePort, waitFor } from './processes.ts';

export interface Prometheus {
  url: string;
  /** Rewrites the scrape configuration and asks Prometheus to reload it. */
  reload(scrapeConfigs: object[]): Promise<void>;
  /** Stops the Prometheus process (SIGTERM) and keeps its data: an outage. */
  down(): Promise<void>;
  /** Starts it again on the same port with the same data, and waits until it is ready. */
  up(): Promise<void>;
  stop(): Promise<void>;
}

export interface Series {
  labels: Record<string, string> & { __name__: string };
  samples: { value: number; timestamp: number }[];
}

/**
 * Starts Debian's Prometheus on a free loopback port with a 1 s scrape
 * interval, the remote-write receiver, and an out-of-order window so tests can
 * push samples with past timestamps.
 */
export async function startPrometheus(options: { scrapeConfigs?: object[] } = {}): Promise<Prometheus> {
  const group = await ProcessGroup.create('fledge-prom');
  try {
    const port = await freePort();
    const configPath = join(group.workdir, 'prometheus.yml');
    await writeConfig(configPath, options.scrapeConfigs ?? []);
    const url = `http://127.0.0.1:${port}`;
    const up = async () => {
      await group.start('prometheus', 'prometheus', [
        `--config.file=${configPath}`,
        `--storage.tsdb.path=${join(group.workdir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--web.enable-lifecycle',
        '--web.enable-remote-write-receiver',
        '--storage.tsdb.retention.time=2h',
        '--log.level=warn',
      ]);
      await waitFor('Prometheus /-/ready', async () => {
        group.assertRunning('prometheus');
        return (await fetch(`${url}/-/ready`)).ok;
      });
    };
    await up();
    return {
      url,
      reload: async (scrapeConfigs) => {
        await writeConfig(configPath, scrapeConfigs);
        const res = await fetch(`${url}/-/reload`, { method: 'POST' });
        if (!res.ok) throw new Error(`Prometheus reload failed: ${res.status} ${await res.text()}`);
      },
      down: () => group.stopOne('prometheus'),
      up,
      stop: () => group.stop(),
    };
  } catch (err) {
    await group.stop();
    throw err;
  }
}

async function writeConfig(path: string, scrapeConfigs: object[]): Promise<void> {
  const config = {
    global: { scrape_interval: '1s', evaluation_interval: '1s' },
    storage: { tsdb: { out_of_order_time_window: '1h' } },
    scrape_configs: scrapeConfigs,
  };
  // JSON is valid YAML.
  await writeFile(path, JSON.stringify(config, null, 2));
}

/** Pushes samples through the remote-write API; rejects unless Prometheus accepts them. */
export async function pushSamples(prometheusUrl: string, series: Series[]): Promise<void> {
  const result = await pushTimeseries(series, {
    url: `${prometheusUrl}/api/v1/write`,
    fetch: (url, init) => fetch(url, init as RequestInit),
  });
  if (result.status >= 300) {
    throw new Error(
      `remote write rejected: ${result.status} ${result.statusText} ${result.errorMessage ?? ''}`,
    );
  }
}

/** Runs an instant PromQL query and returns the first sample's value, or undefined when empty. */
export async function queryValue(prometheusUrl: string, promql: string): Promise<number | undefined> {
  const res = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = (await res.json()) as {
    status: string;
    error?: string;
    data?: { result: { value: [number, string] }[] };
  };
  if (body.status !== 'success') throw new Error(`query ${promql} failed: ${body.error ?? res.status}`);
  const first = body.data?.result[0];
  return first ? Number(first.value[1]) : undefined;
}
