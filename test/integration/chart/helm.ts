import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../../harness/processes.ts';

const run = promisify(execFile);

export const chartPath = join(repoRoot, 'charts/fledge');

/** The Helm binary hack/build-tools.sh built and cached (HELM_BIN). */
export async function helmBinary(): Promise<string> {
  const { stdout } = await run('bash', [join(repoRoot, 'hack/build-tools.sh'), 'paths']);
  const dir = /^HELM_BIN=(.*)$/m.exec(stdout)?.[1];
  if (!dir) throw new Error('build-tools.sh paths printed no HELM_BIN');
  return join(dir, 'helm');
}

/** Runs helm and returns its stdout; rejects with helm's stderr. */
export async function helm(args: string[]): Promise<string> {
  try {
    const { stdout } = await run(await helmBinary(), args, { maxBuffer: 32 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr;
    throw new Error(`helm ${args.join(' ')}: ${stderr || (err as Error).message}`, { cause: err });
  }
}
