import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../../harness/processes.ts';

const run = promisify(execFile);

describe('toolchain cache', () => {
  // make setup (and the global set-up) already ran it, so every entry is warm: a tool whose
  // cache check does not work with the real binary (Helm has no --version) shows up as a build.
  it('builds nothing on a second build-tools.sh all', async () => {
    const { stderr } = await run('bash', [join(repoRoot, 'hack/build-tools.sh'), 'all']);
    expect(stderr.split('\n').filter((line) => line.includes('building'))).toEqual([]);
  }, 60_000);
});
