import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ProcessGroup, repoRoot, waitFor } from './processes.ts';

export interface LoadTesterProcess {
  /** The webhook API, e.g. http://127.0.0.1:PORT */
  url: string;
  /** /metrics, /healthz and /readyz */
  telemetry: string;
  /** POSTs a JSON payload; returns the status and body. */
  post(path: string, body: object): Promise<{ status: number; text: string }>;
  stop(): Promise<void>;
}

/** `fledge loadtester` as its own process on loopback, as the chart runs it. */
export async function startLoadTester(options: {
  kubeconfigPath: string;
  gateNamespace: string;
  args?: string[];
}): Promise<LoadTesterProcess> {
  const group = await ProcessGroup.create('fledge-loadtester');
  try {
    await group.start('loadtester', process.execPath, [
      join(repoRoot, 'src/cli/main.ts'),
      'loadtester',
      `--kubeconfig=${options.kubeconfigPath}`,
      `--gate-namespace=${options.gateNamespace}`,
      '--listen-address=127.0.0.1:0',
      '--telemetry-address=127.0.0.1:0',
      ...(options.args ?? []),
    ]);
    let serving: Record<string, string> | undefined;
    await waitFor('the load tester to serve', async () => {
      group.assertRunning('loadtester');
      serving = (await readFile(group.logPath('loadtester'), 'utf8'))
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, string>)
        .find((line) => line.msg === 'load tester serving');
      return serving !== undefined;
    });
    const url = serving!.endpoint!;
    return {
      url,
      telemetry: serving!.telemetry!,
      post: async (path, body) => {
        const res = await fetch(`${url}${path}`, { method: 'POST', body: JSON.stringify(body) });
        return { status: res.status, text: await res.text() };
      },
      stop: () => group.stop(),
    };
  } catch (err) {
    await group.stop();
    throw err;
  }
}
