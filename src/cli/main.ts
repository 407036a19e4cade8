#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { runOperator } from './run.ts';
import { version } from '../version.ts';

const usage = `fledge: progressive delivery for Kubernetes

Usage:
  fledge run [flags]        run the operator
  fledge version            print the version

Flags for run:
  --kubeconfig PATH         kubeconfig to use (default: $KUBECONFIG, then in-cluster, then ~/.kube/config)
  --namespace NAME          watch only this namespace (default: all namespaces)
  --log-level LEVEL         trace|debug|info|warn|error|fatal|silent (default: info, or $LOG_LEVEL)
  -h, --help                show this help
`;

type Command = (argv: string[]) => Promise<number>;

const commands: Record<string, Command> = {
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
  version: async () => {
    process.stdout.write(`fledge ${version}\n`);
    return 0;
  },
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '-h' || name === '--help' || name === 'help') {
    process.stdout.write(usage);
    return name ? 0 : 2;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(
      `fledge: unknown command "${name}"; known commands: ${Object.keys(commands).join(', ')}\n`,
    );
    return 2;
  }
  try {
    return await command(rest);
  } catch (err) {
    process.stderr.write(`fledge ${name}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }
}

process.exitCode = await main(process.argv.slice(2));
