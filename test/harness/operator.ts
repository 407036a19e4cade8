import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { NODE_FLAGS } from '../../src/cli/node-flags.ts';
import { ProcessGroup, repoRoot, waitFor } from './processes.ts';

export interface OperatorProcess {
  /** Base URL of /metrics, /healthz and /readyz. */
  url: string;
  pid: number;
  /** The JSON log lines written so far. */
  logs(): Promise<Record<string, unknown>[]>;
  /** SIGKILL: no clean shutdown, no lease release (a crash). */
  kill(): Promise<void>;
  /** SIGTERM and wait: a clean shutdown. */
  stop(): Promise<void>;
  exited(): boolean;
  /** The exit code once exited (null while running or when killed by a signal). */
  exitCode(): number | null;
  /** Everything the process wrote to stdout and stderr, JSON or not. */
  rawLog(): Promise<string>;
}

export interface OperatorProcessOptions {
  kubeconfigPath: string;
  /** The operator watches only this namespace, so test files never see each other's Canaries. */
  namespace: string;
  args?: string[];
  env?: NodeJS.ProcessEnv;
  /** Distinguishes log files when a test runs several replicas. */
  name?: string;
  /** The CLI's entry point; default src/cli/main.ts (the benchmark runs compiled JavaScript). */
  entry?: string;
}

/** Runs `fledge run` as a separate process, as it runs in a cluster. */
export async function startOperatorProcess(options: OperatorProcessOptions): Promise<OperatorProcess> {
  const group = await ProcessGroup.create('fledge-op');
  const name = options.name ?? 'fledge';
  const child = await group.start(
    name,
    process.execPath,
    [
      // As the image runs it.
      ...NODE_FLAGS,
      options.entry ?? join(repoRoot, 'src/cli/main.ts'),
      'run',
      `--kubeconfig=${options.kubeconfigPath}`,
      `--namespace=${options.namespace}`,
      '--listen-address=127.0.0.1:0',
      '--log-level=debug',
      ...(options.args ?? []),
    ],
    options.env ?? {},
  );
  const rawLog = async (): Promise<string> => readFile(group.logPath(name), 'utf8').catch(() => '');
  const logs = async (): Promise<Record<string, unknown>[]> => {
    const text = await rawLog();
    return text
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  };
  let url = '';
  try {
    await waitFor(`${name} to serve its telemetry`, async () => {
      group.assertRunning(name);
      const serving = (await logs()).find(
        (line) => typeof line.endpoint === 'string' && line.msg === 'serving /metrics, /healthz and /readyz',
      );
      url = (serving?.endpoint as string | undefined) ?? '';
      return url !== '';
    });
  } catch (err) {
    await group.stop({ keepWorkdir: true });
    throw err;
  }
  return {
    url,
    pid: child.pid as number,
    logs,
    exited: () => child.exitCode !== null || child.signalCode !== null,
    exitCode: () => child.exitCode,
    rawLog,
    kill: async () => {
      child.kill('SIGKILL');
      await group.stop();
    },
    stop: () => group.stop(),
  };
}
