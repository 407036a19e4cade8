import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const buildTools = fileURLToPath(new URL('../../hack/build-tools.sh', import.meta.url));

/** Runs carry_directives on an upstream go.mod into a fresh wrapper; returns the wrapper's directives. */
async function carry(upstream: string, module = '') {
  const dir = mkdtempSync(join(tmpdir(), 'fledge-wrapper-'));
  try {
    writeFileSync(join(dir, 'upstream.mod'), upstream);
    writeFileSync(join(dir, 'go.mod'), 'module local/wrapper\n\ngo 1.26.0\n');
    const { stderr } = await run(
      'bash',
      ['-c', `source "${buildTools}" && carry_directives upstream.mod ${module}`],
      {
        cwd: dir,
        env: { ...process.env, GOFLAGS: '', GOTOOLCHAIN: 'local' },
      },
    );
    const { stdout } = await run('go', ['mod', 'edit', '-json'], { cwd: dir });
    const mod = JSON.parse(stdout) as {
      Replace?: { Old: { Path: string; Version?: string }; New: { Path: string; Version?: string } }[];
      Exclude?: { Path: string; Version: string }[];
    };
    const at = (m: { Path: string; Version?: string }) => (m.Version ? `${m.Path}@${m.Version}` : m.Path);
    return {
      stderr,
      replace: (mod.Replace ?? []).map((r) => `${at(r.Old)} => ${at(r.New)}`),
      exclude: (mod.Exclude ?? []).map(at),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('build-tools: a wrapper module carries its upstream go.mod directives', () => {
  it('copies replace and exclude lines, in blocks or alone, with or without versions and comments', async () => {
    const result = await carry(`module github.com/example/app

go 1.25.0

require github.com/a/b v1.0.0

replace (
\tgithub.com/abbot/go-http-auth => github.com/containous/go-http-auth v0.4.1-0.20200324110947-a37a7636d23e
\t// a comment line
\tgithub.com/gorilla/mux v1.8.0 => github.com/containous/mux v0.0.0-20250523120546-41b6ec3aed59 // pinned

)

replace github.com/mailgun/minheap => github.com/containous/minheap v0.0.0-20190809180810-6e71eb837595

exclude github.com/tencentcloud/tencentcloud-sdk-go v3.0.83+incompatible

exclude (
\tgithub.com/x/y v1.2.3
)
`);
    expect(result.replace).toEqual([
      'github.com/abbot/go-http-auth => github.com/containous/go-http-auth@v0.4.1-0.20200324110947-a37a7636d23e',
      'github.com/gorilla/mux@v1.8.0 => github.com/containous/mux@v0.0.0-20250523120546-41b6ec3aed59',
      'github.com/mailgun/minheap => github.com/containous/minheap@v0.0.0-20190809180810-6e71eb837595',
    ]);
    expect(result.exclude).toEqual([
      'github.com/tencentcloud/tencentcloud-sdk-go@v3.0.83+incompatible',
      'github.com/x/y@v1.2.3',
    ]);
    expect(result.stderr).toBe('[build-tools] carried 5 replace/exclude directives\n');
  });

  it('refuses a replace by a local path, which the module proxy cannot serve', async () => {
    await expect(
      carry('module m\n\nreplace github.com/traefik/traefik/dynamic/ext => ./pkg/config/dynamic/ext\n'),
    ).rejects.toThrow(/replaces a module by a local path/);
  });

  it("lets go of the named module's own submodules by local path, whose published versions it requires", async () => {
    const flux = 'github.com/fluxcd/source-controller';
    const upstream = `module ${flux}\n\nreplace ${flux}/api => ./api\n\nreplace github.com/a/b => github.com/c/b v1.0.0\n`;
    const result = await carry(upstream, flux);
    expect(result.replace).toEqual(['github.com/a/b => github.com/c/b@v1.0.0']);
    expect(result.stderr).toBe('[build-tools] carried 1 replace/exclude directives\n');
    // Another module's local folder is still refused.
    await expect(carry(upstream, 'github.com/fluxcd/kustomize-controller')).rejects.toThrow(
      /replaces a module by a local path/,
    );
  });
});
