import { describe, expect, it } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { NODE_FLAGS } from '../../../src/cli/node-flags.ts';
import { repoRoot } from '../../harness/processes.ts';

describe('the V8 flags fledge runs with', () => {
  it('are the ones the image entry point passes, before the script', async () => {
    const dockerfile = await readFile(join(repoRoot, 'Dockerfile'), 'utf8');
    const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(dockerfile)?.[1];
    expect(entrypoint).toBeDefined();
    expect(JSON.parse(entrypoint as string)).toEqual(['node', ...NODE_FLAGS, 'dist/cli/main.js']);
  });

  it('are the ones the installed `fledge` command starts node with, and it points at the built entry point', async () => {
    const pkg = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as {
      bin: { fledge: string };
    };
    expect(pkg.bin.fledge).toBe('dist/cli/main.js');
    const shebang = (await readFile(join(repoRoot, 'src/cli/main.ts'), 'utf8')).split('\n')[0];
    expect(shebang).toBe(`#!/usr/bin/env -S node ${NODE_FLAGS.join(' ')}`);
  });
});
