import { ApiException, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { parseArgs } from 'node:util';
import { createLogger, isLogLevel, type Logger } from '../telemetry/logger.ts';
import type { Command } from './command.ts';

const usage = `Usage: fledge run [flags]

Runs the operator.

Flags:
  --kubeconfig PATH         kubeconfig to use (default: $KUBECONFIG, then in-cluster, then ~/.kube/config)
  --namespace NAME          watch only this namespace (default: all namespaces)
  --log-level LEVEL         trace|debug|info|warn|error|fatal|silent (default: info, or $LOG_LEVEL)
  -h, --help                show this help
`;

export const runCommand: Command = {
  summary: 'run the operator',
  run: async (argv) => {
    const { values } = parseArgs({
      args: argv,
      options: {
        kubeconfig: { type: 'string' },
        namespace: { type: 'string' },
        'log-level': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    });
    if (values.help) {
      process.stdout.write(usage);
      return 0;
    }
    return runOperator({
      kubeconfig: values.kubeconfig ?? process.env.KUBECONFIG,
      namespace: values.namespace,
      logLevel: values['log-level'] ?? process.env.LOG_LEVEL ?? 'info',
    });
  },
};

export interface RunOptions {
  kubeconfig: string | undefined;
  namespace: string | undefined;
  logLevel: string;
}

/** Connects, lists Canaries and keeps running until SIGTERM or SIGINT. */
export async function runOperator(options: RunOptions): Promise<number> {
  if (!isLogLevel(options.logLevel)) {
    throw new Error(
      `--log-level "${options.logLevel}" is not one of trace, debug, info, warn, error, fatal, silent`,
    );
  }
  const log = createLogger(options.logLevel);
  const kc = new KubeConfig();
  if (options.kubeconfig) kc.loadFromFile(options.kubeconfig);
  else kc.loadFromDefault();
  const cluster = kc.getCurrentCluster();
  log.info({ server: cluster?.server, namespace: options.namespace ?? '(all)' }, 'connecting');

  const api = kc.makeApiClient(CustomObjectsApi);
  const group = 'fledge.dev';
  const version = 'v1beta1';
  const plural = 'canaries';
  const list = await retrying(log, 'list canaries', () =>
    options.namespace
      ? api.listNamespacedCustomObject({ group, version, plural, namespace: options.namespace })
      : api.listClusterCustomObject({ group, version, plural }),
  );
  log.info({ canaries: (list as { items?: unknown[] }).items?.length ?? 0 }, 'watching canaries');

  await new Promise<void>((done) => {
    // Signal handlers alone do not keep Node's event loop alive.
    const keepAlive = setInterval(() => undefined, 60_000);
    const stop = (signal: string) => {
      log.info({ signal }, 'shutting down');
      clearInterval(keepAlive);
      done();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  log.flush();
  return 0;
}

/** Retries API errors the server marks as temporary (429, 5xx, connection), for up to a minute. */
async function retrying<T>(log: Logger, what: string, call: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 60_000;
  for (let delay = 500; ; delay = Math.min(delay * 2, 8_000)) {
    try {
      return await call();
    } catch (err) {
      const code = err instanceof ApiException ? err.code : undefined;
      const temporary = code === undefined || code === 429 || code >= 500;
      const reason = code === undefined ? (err as Error).message : `HTTP ${code}`;
      if (!temporary || Date.now() + delay > deadline) throw new Error(`${what}: ${reason}`, { cause: err });
      log.warn({ reason, retryInMs: delay }, `${what} failed; retrying`);
      await new Promise((done) => setTimeout(done, delay));
    }
  }
}
