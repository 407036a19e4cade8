import { describe, expect, it } from '@jest/globals';
import { execFile, spawn } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const repo = fileURLToPath(new URL('../../', import.meta.url));
const buildTools = join(repo, 'hack/build-tools.sh');

describe('toolchain', () => {
  it('runs on Node 24', () => {
    expect(process.versions.node.split('.')[0]).toBe('24');
  });

  it('loads @kubernetes/client-node 2.x under Jest ESM', async () => {
    const k8s = await import('@kubernetes/client-node');
    expect(typeof k8s.KubeConfig).toBe('function');
  });

  it('has a lock npm ci accepts, so make deps never rewrites it', async () => {
    // npm ci refuses a lock that is out of step with package.json or misses any platform's
    // optional packages; --offline with an empty cache keeps the check to the lock itself.
    const dir = mkdtempSync(join(tmpdir(), 'fledge-lock-'));
    try {
      for (const file of ['package.json', 'package-lock.json'])
        copyFileSync(join(repo, file), join(dir, file));
      await run('npm', ['ci', '--dry-run', '--ignore-scripts', '--offline', '--cache', join(dir, 'cache')], {
        cwd: dir,
      });
      expect(readFileSync(join(dir, 'package-lock.json'), 'utf8')).toBe(
        readFileSync(join(repo, 'package-lock.json'), 'utf8'),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});

// A stand-in component for hack/build-tools.sh's ensure_entry: its binary is a shell script,
// so the cache's locking and promotion run for real without building any Go.
const fakeComponent = `
source "$BUILD_TOOLS"
check_fake() { [ -x "$1/bin/fake" ] && "$1/bin/fake"; }
build_fake() {
  echo "$1" >> "$WORK/builds"
  if [ -n "\${GATE:-}" ]; then : > "$GATE.started"; until [ -e "$GATE" ]; do sleep 0.05; done; fi
  [ -z "\${FAIL:-}" ] || exit 1
  mkdir -p "$1/bin"
  printf '#!/bin/sh\\nexit 0\\n' > "$1/bin/fake"
  chmod +x "$1/bin/fake"
}
ensure_entry "$WORK/cache/fake-v1" check_fake build_fake
`;

interface Run {
  stderr: () => string;
  done: Promise<{ code: number | null; stderr: string }>;
}

function ensureFake(work: string, env: Record<string, string> = {}): Run {
  const child = spawn('bash', ['-c', fakeComponent], {
    env: { ...process.env, BUILD_TOOLS: buildTools, WORK: work, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<{ code: number | null; stderr: string }>((resolve) =>
    child.on('close', (code) => resolve({ code, stderr })),
  );
  return { stderr: () => stderr, done };
}

async function until(what: string, ready: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 20));
  }
}

const builds = (work: string): number =>
  existsSync(join(work, 'builds')) ? readFileSync(join(work, 'builds'), 'utf8').trim().split('\n').length : 0;
const cacheEntries = (work: string): string[] => readdirSync(join(work, 'cache')).sort();

describe('build-tools cache entries', () => {
  const withWork = (test: (work: string) => Promise<void>) => async () => {
    const work = mkdtempSync(join(tmpdir(), 'fledge-cache-'));
    try {
      await test(work);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  };

  it(
    'builds a missing entry once, then uses it without building',
    withWork(async (work) => {
      const first = await ensureFake(work).done;
      expect(first).toEqual({ code: 0, stderr: '[build-tools] building fake-v1\n' });
      const second = await ensureFake(work).done;
      expect(second).toEqual({ code: 0, stderr: '' });
      expect(builds(work)).toBe(1);
    }),
    20_000,
  );

  it(
    'makes a second run wait for the build under way and use it',
    withWork(async (work) => {
      const gate = join(work, 'gate');
      const first = ensureFake(work, { GATE: gate });
      await until('the first build to start', () => existsSync(`${gate}.started`));
      const second = ensureFake(work);
      await until('the second run to wait', () => second.stderr().includes('waiting for another run'));
      writeFileSync(gate, '');
      expect((await first.done).code).toBe(0);
      expect(await second.done).toEqual({
        code: 0,
        stderr: '[build-tools] waiting for another run to finish fake-v1\n',
      });
      expect(builds(work)).toBe(1);
      expect(cacheEntries(work)).toEqual(['fake-v1', 'fake-v1.lock']);
    }),
    20_000,
  );

  it(
    'leaves no entry after a failed build, and the next run clears its remains away',
    withWork(async (work) => {
      expect((await ensureFake(work, { FAIL: '1' }).done).code).not.toBe(0);
      expect(cacheEntries(work)).toEqual(['fake-v1.lock', expect.stringMatching(/^fake-v1\.partial\./)]);
      expect((await ensureFake(work).done).code).toBe(0);
      expect(cacheEntries(work)).toEqual(['fake-v1', 'fake-v1.lock']);
    }),
    20_000,
  );

  it(
    'rebuilds an entry whose binary no longer works',
    withWork(async (work) => {
      mkdirSync(join(work, 'cache/fake-v1/bin'), { recursive: true });
      writeFileSync(join(work, 'cache/fake-v1/bin/fake'), '#!/bin/sh\nexit 1\n', { mode: 0o755 });
      const { code, stderr } = await ensureFake(work).done;
      expect({ code, stderr }).toEqual({ code: 0, stderr: '[build-tools] building fake-v1\n' });
      await expect(run(join(work, 'cache/fake-v1/bin/fake'))).resolves.toBeDefined();
    }),
    20_000,
  );
});
