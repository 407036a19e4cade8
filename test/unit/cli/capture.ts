import type { CliIO } from '../../../src/cli/cli-support.ts';

export interface CapturedIO {
  /** Pass this to the command. */
  io: CliIO;
  /** Everything written to stdout so far. */
  out(): string;
  /** Everything written to stderr so far. */
  err(): string;
}

/** A CliIO that keeps what a command writes, for assertions. */
export function captureIO(): CapturedIO {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return {
    io: { stdout: (text) => void stdout.push(text), stderr: (text) => void stderr.push(text) },
    out: () => stdout.join(''),
    err: () => stderr.join(''),
  };
}
