#!/usr/bin/env -S node --max-semi-space-size=4
import type { Command } from './command.ts';
import { runCommand } from './run.ts';
import { abortCommand, pauseCommand, promoteCommand, resumeCommand, retryCommand } from './controls.ts';
import { loadtesterCommand } from './loadtester.ts';
import { migrateCommand } from './migrate-command.ts';
import { statusCommand } from './status.ts';
import { version } from '../version.ts';

const versionCommand: Command = {
  summary: 'print the version',
  run: async () => {
    process.stdout.write(`fledge ${version}\n`);
    return 0;
  },
};

// Every subcommand, in the order `fledge --help` lists them.
const commands: Record<string, Command> = {
  run: runCommand,
  status: statusCommand,
  promote: promoteCommand,
  abort: abortCommand,
  retry: retryCommand,
  pause: pauseCommand,
  resume: resumeCommand,
  migrate: migrateCommand,
  loadtester: loadtesterCommand,
  version: versionCommand,
};

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((name) => name.length));
  const lines = Object.entries(commands).map(([name, c]) => `  fledge ${name.padEnd(width)}  ${c.summary}`);
  return `fledge: progressive delivery for Kubernetes\n\nUsage:\n${lines.join('\n')}\n\nRun "fledge <command> --help" for a command's flags.\n`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '-h' || name === '--help' || name === 'help') {
    process.stdout.write(usage());
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
    return await command.run(rest);
  } catch (err) {
    process.stderr.write(`fledge ${name}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }
}

process.exitCode = await main(process.argv.slice(2));
