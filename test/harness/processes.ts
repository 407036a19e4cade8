import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');

interface Managed {
  name: string;
  child: ChildProcess;
  exited: Promise<void>;
}

/**
 * Owns a temporary work directory and the processes started in it. A detached
 * reaper kills them and removes the directory if this process dies without
 * calling stop(), so an interrupted run leaves no process, port or directory.
 */
export class ProcessGroup {
  readonly workdir: string;
  private readonly pidfile: string;
  private readonly managed: Managed[] = [];
  private reaper: ChildProcess | undefined;

  private constructor(workdir: string) {
    this.workdir = workdir;
    this.pidfile = join(workdir, 'pids');
  }

  static async create(prefix: string): Promise<ProcessGroup> {
    const group = new ProcessGroup(await mkdtemp(join(tmpdir(), `${prefix}-`)));
    await writeFile(group.pidfile, '');
    group.reaper = spawn(
      'bash',
      [join(repoRoot, 'hack/reaper.sh'), String(process.pid), group.pidfile, group.workdir],
      {
        detached: true,
        stdio: 'ignore',
      },
    );
    group.reaper.unref();
    return group;
  }

  /** Starts a process whose output goes to <workdir>/<name>.log. */
  async start(
    name: string,
    command: string,
    args: string[],
    env: NodeJS.ProcessEnv = {},
  ): Promise<ChildProcess> {
    const log = createWriteStream(join(this.workdir, `${name}.log`));
    const child = spawn(command, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    const exited = new Promise<void>((done) => child.once('exit', () => done()));
    child.once('error', (err) => log.write(`spawn failed: ${err.message}\n`));
    if (child.pid === undefined) throw new Error(`could not start ${name} (${command})`);
    await appendFile(this.pidfile, `${child.pid}\n`);
    this.managed.push({ name, child, exited });
    return child;
  }

  /** Throws with the tail of the process log when a process has already exited. */
  assertRunning(name: string): void {
    const entry = this.managed.find((m) => m.name === name);
    if (!entry) throw new Error(`no process named ${name}`);
    if (entry.child.exitCode !== null || entry.child.signalCode !== null) {
      const tail = readFileSync(this.logPath(name), 'utf8').trimEnd().split('\n').slice(-15).join('\n');
      throw new Error(
        `${name} exited (${entry.child.exitCode ?? entry.child.signalCode}); last log lines:\n${tail}`,
      );
    }
  }

  logPath(name: string): string {
    return join(this.workdir, `${name}.log`);
  }

  /** Stops one process (SIGTERM, then SIGKILL after 10 s) and forgets it; its name can be started again. */
  async stopOne(name: string): Promise<void> {
    const entry = this.managed.find((m) => m.name === name);
    if (!entry) throw new Error(`no process named ${name}`);
    await stopProcess(entry);
    this.managed.splice(this.managed.indexOf(entry), 1);
  }

  /** Stops processes in reverse start order, then removes the work directory. */
  async stop(options: { keepWorkdir?: boolean } = {}): Promise<void> {
    for (const entry of [...this.managed].reverse()) await stopProcess(entry);
    this.managed.length = 0;
    this.reaper?.kill('SIGKILL');
    if (!options.keepWorkdir) await rm(this.workdir, { recursive: true, force: true });
  }
}

async function stopProcess(entry: Managed): Promise<void> {
  if (entry.child.exitCode !== null || entry.child.signalCode !== null) return;
  entry.child.kill('SIGTERM');
  const timeout = new Promise<'timeout'>((done) => setTimeout(() => done('timeout'), 10_000).unref());
  if ((await Promise.race([entry.exited, timeout])) === 'timeout') {
    entry.child.kill('SIGKILL');
    await entry.exited;
  }
}

/** A managed process died: waiting longer cannot help. */
export class ProcessExitedError extends Error {}

/** Asks the kernel for a free loopback port. */
export async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? done(address.port) : fail(new Error('no port')),
      );
    });
  });
}

/** Polls `check` until it returns true, failing with `what` after `timeoutMs`. */
export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (err) {
      if (err instanceof ProcessExitedError) throw err;
      lastError = err;
    }
    await new Promise((done) => setTimeout(done, 250));
  }
  const detail = lastError instanceof Error ? `: ${lastError.message}` : '';
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
}

export { repoRoot };
