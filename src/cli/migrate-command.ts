import type { Command } from './command.ts';
import { runMigrate, type MigrateIO } from './migrate.ts';

// `fledge migrate`: the conversion and its flags live in migrate.ts (the API
// area); this only exposes it as a subcommand.

/** `io` defaults to the process's stdin, stdout and stderr. */
export function createMigrateCommand(io?: MigrateIO): Command {
  return {
    summary: 'convert Flagger manifests (files, directories, stdin) to fledge.dev/v1beta1',
    run: (argv) => runMigrate(argv, io),
  };
}

export const migrateCommand = createMigrateCommand();
