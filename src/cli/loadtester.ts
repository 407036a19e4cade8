import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { parseGoDuration } from '../api/duration.ts';
import { createKubeClients, loadKubeConfig } from '../kube/client.ts';
import { ConfigMapGateStore } from '../loadtester/gates.ts';
import { startLoadTesterServer } from '../loadtester/server.ts';
import { TaskRunner } from '../loadtester/tasks.ts';
import { createLogger, isLogLevel, LogLevels } from '../telemetry/logger.ts';
import { startTelemetryServer } from '../telemetry/server.ts';
import { version } from '../version.ts';
import { parseCommandLine, processIO, runCli, UsageError } from './cli-support.ts';
import type { Command } from './command.ts';

export const loadtesterUsage = `Usage: fledge loadtester [flags]

Serves Flagger's load tester webhook API, so Canaries written for Flagger's load tester work
unchanged: POST / runs metadata.cmd (hey command lines generate load in-process), and the
/gate/{approve,halt,check,open,close} and /rollback/{check,open,close} endpoints answer
confirm and rollback hooks. Gates are kept in ConfigMaps, so a restart keeps them.

Flags:
  --listen-address ADDR      webhook API (default :8080)
  --telemetry-address ADDR   /metrics, /healthz and /readyz (default :8081)
  --gate-namespace NS        where gate ConfigMaps live (default: POD_NAMESPACE, else the
                             service account's namespace)
  --allow-command REGEX      a bash or non-hey cmd command runs only if it matches REGEX whole;
                             repeatable; without it no shell command runs
  --command-timeout DURATION longest a shell command may run (default 1h)
  --kubeconfig PATH          kubeconfig file (default: KUBECONFIG, ~/.kube/config, in-cluster)
  --log-level LEVEL          ${LogLevels.join('|')} (default info)
  -h, --help                 show this help
`;

const serviceAccountNamespace = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

export interface LoadTesterOptions {
  listenAddress: string;
  telemetryAddress: string;
  gateNamespace: string;
  allowedCommands: RegExp[];
  commandTimeoutMs: number;
  kubeconfig: string | undefined;
  logLevel: (typeof LogLevels)[number];
}

/** Parses `fledge loadtester` flags; undefined means --help. Throws UsageError naming the flag. */
export function parseLoadTesterOptions(
  argv: string[],
  env: Readonly<Record<string, string | undefined>>,
  readNamespaceFile: () => string | undefined = () => readOptional(serviceAccountNamespace),
): LoadTesterOptions | undefined {
  const { values } = parseCommandLine(() =>
    parseArgs({
      args: argv,
      strict: true,
      options: {
        'listen-address': { type: 'string', default: ':8080' },
        'telemetry-address': { type: 'string', default: ':8081' },
        'gate-namespace': { type: 'string' },
        'allow-command': { type: 'string', multiple: true, default: [] },
        'command-timeout': { type: 'string', default: '1h' },
        kubeconfig: { type: 'string' },
        'log-level': { type: 'string', default: env.LOG_LEVEL ?? 'info' },
        help: { type: 'boolean', short: 'h' },
      },
    }),
  );
  if (values.help) return undefined;
  const logLevel = values['log-level'];
  if (!isLogLevel(logLevel))
    throw new UsageError(`--log-level "${logLevel}" must be one of ${LogLevels.join(', ')}`);
  const allowedCommands = values['allow-command'].map((source) => {
    try {
      return new RegExp(`^(?:${source})$`);
    } catch (err) {
      throw new UsageError(
        `--allow-command "${source}" is not a regular expression: ${(err as Error).message}`,
      );
    }
  });
  let commandTimeoutMs: number;
  try {
    commandTimeoutMs = parseGoDuration(values['command-timeout'], '--command-timeout');
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const gateNamespace = values['gate-namespace'] ?? env.POD_NAMESPACE ?? readNamespaceFile()?.trim();
  if (!gateNamespace) {
    throw new UsageError(
      '--gate-namespace is needed outside a cluster: the namespace to keep gate ConfigMaps in',
    );
  }
  return {
    listenAddress: values['listen-address'],
    telemetryAddress: values['telemetry-address'],
    gateNamespace,
    allowedCommands,
    commandTimeoutMs,
    kubeconfig: values.kubeconfig ?? env.KUBECONFIG,
    logLevel,
  };
}

function readOptional(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

export const loadtesterCommand: Command = {
  summary: "serve Flagger's load tester webhook API, with gates kept in the cluster",
  run: (argv) =>
    runCli(processIO, 'loadtester', async () => {
      const options = parseLoadTesterOptions(argv, process.env);
      if (!options) {
        processIO.stdout(loadtesterUsage);
        return 0;
      }
      const log = createLogger(options.logLevel).child({ component: 'loadtester' });
      const registry = new Registry();
      collectDefaultMetrics({ register: registry });
      const registers = [registry];
      new Gauge({
        name: 'fledge_info',
        help: 'Fledge version; always 1',
        labelNames: ['version'],
        registers,
      }).set({ version }, 1);
      const runner = new TaskRunner({
        log,
        allowedCommands: options.allowedCommands,
        commandTimeoutMs: options.commandTimeoutMs,
        tasks: new Counter({
          name: 'fledge_loadtester_tasks_total',
          help: 'Webhook tasks by type and outcome (started, duplicate, succeeded, failed, refused)',
          labelNames: ['type', 'outcome'] as const,
          registers,
        }),
        responses: new Counter({
          name: 'fledge_loadtester_responses_total',
          help: 'Responses to the load the load tester generated, by status code',
          labelNames: ['code'] as const,
          registers,
        }),
      });
      new Gauge({
        name: 'fledge_loadtester_running_tasks',
        help: 'Background tasks running now',
        registers,
        collect() {
          this.set(runner.running);
        },
      });
      const kube = createKubeClients(loadKubeConfig({ kubeconfigPath: options.kubeconfig }));
      const server = await startLoadTesterServer({
        listenAddress: options.listenAddress,
        runner,
        gates: new ConfigMapGateStore(kube.objects, options.gateNamespace),
        log,
        gateRequests: new Counter({
          name: 'fledge_loadtester_gate_requests_total',
          help: 'Gate requests by gate (gate, rollback), action and answer',
          labelNames: ['gate', 'action', 'code'] as const,
          registers,
        }),
      });
      const telemetry = await startTelemetryServer({
        listenAddress: options.telemetryAddress,
        registry,
        liveness: [],
        readiness: [],
        log,
      });
      log.info(
        { endpoint: server.url, telemetry: telemetry.url, gateNamespace: options.gateNamespace },
        'load tester serving',
      );
      const signal = await new Promise<string>((done) => {
        process.once('SIGTERM', () => done('SIGTERM'));
        process.once('SIGINT', () => done('SIGINT'));
      });
      log.info({ reason: signal }, 'shutting down');
      await server.close();
      await runner.stop();
      await telemetry.close();
      log.flush();
      return 0;
    }),
};
