// Shared plumbing for the cluster-facing subcommands: where output goes, how a
// mistake on the command line becomes exit code 2, and how everything else that
// goes wrong becomes exit code 1 with one readable line.

/** Where a command writes; tests pass their own to capture output. */
export interface CliIO {
  stdout(text: string): void;
  stderr(text: string): void;
}

export const processIO: CliIO = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

export const EXIT_OK = 0;
/** The command was understood but could not do its job (not found, refused, forbidden, timed out). */
export const EXIT_FAILED = 1;
/** The command line itself is wrong. */
export const EXIT_USAGE = 2;

/** A mistake in how the command was called (unknown flag, missing NAME, bad value): exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/**
 * Runs parseArgs (or any parser) and turns its errors, which already name the
 * offending flag, into UsageErrors.
 */
export function parseCommandLine<R>(parse: () => R): R {
  try {
    return parse();
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_')) {
      throw new UsageError((err as Error).message, { cause: err });
    }
    throw err;
  }
}

/** Exactly one positional argument, named `what` in the error (e.g. NAME). */
export function singlePositional(positionals: readonly string[], what: string): string {
  const [first, ...rest] = positionals;
  if (first === undefined) throw new UsageError(`missing ${what}`);
  if (rest.length > 0) {
    throw new UsageError(`expected one ${what}, got ${positionals.length}: ${positionals.join(' ')}`);
  }
  return first;
}

/**
 * Runs a command body: UsageError -> 2 with a pointer to --help, any other
 * error -> 1 with its message. Nothing escapes to main's catch-all.
 */
export async function runCli(io: CliIO, command: string, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (err instanceof UsageError) {
      io.stderr(`fledge ${command}: ${message}\nRun "fledge ${command} --help" for usage.\n`);
      return EXIT_USAGE;
    }
    io.stderr(`fledge ${command}: ${message}\n`);
    return EXIT_FAILED;
  }
}
