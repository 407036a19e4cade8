// The local sandbox: a real control plane plus Prometheus, like `kind create
// cluster` for machines without Docker.
//   node hack/sandbox.ts run    start in the foreground; Ctrl-C or SIGTERM stops it
//   node hack/sandbox.ts up     start in the background, print the environment, return
//   node hack/sandbox.ts down   stop the background sandbox
import { spawn } from 'node:child_process';
import { existsSync, openSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { repoRoot, waitFor } from '../test/harness/processes.ts';
import { startSandbox } from '../test/harness/sandbox.ts';

const stateDir = join(repoRoot, '.sandbox');
const envFile = join(stateDir, 'env');
const pidFile = join(stateDir, 'pid');
const logFile = join(stateDir, 'sandbox.log');

const say = (message: string) => process.stderr.write(`[sandbox] ${message}\n`);

async function runForeground(): Promise<void> {
  await mkdir(stateDir, { recursive: true });
  const sandbox = await startSandbox(say);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    say('stopping');
    await rm(envFile, { force: true });
    await sandbox.stop();
    await rm(pidFile, { force: true });
    say('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
  await writeFile(pidFile, `${process.pid}\n`);
  await writeFile(envFile, sandbox.env.join('\n') + '\n');
  const { kubeVersion, etcdVersion } = sandbox.controlPlane.binaries;
  say(`ready: Kubernetes ${kubeVersion}, etcd ${etcdVersion}`);
}

async function runningPid(): Promise<number | undefined> {
  if (!existsSync(pidFile)) return undefined;
  const pid = Number((await readFile(pidFile, 'utf8')).trim());
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

async function up(): Promise<void> {
  if (await runningPid()) {
    say('already running');
  } else {
    await mkdir(stateDir, { recursive: true });
    await rm(envFile, { force: true });
    const out = openSync(logFile, 'w');
    const child = spawn(process.execPath, [join(repoRoot, 'hack/sandbox.ts'), 'run'], {
      detached: true,
      stdio: ['ignore', out, out],
    });
    child.unref();
    say(`starting in the background (log: ${logFile})`);
    await waitFor(
      'the sandbox to become ready',
      async () => {
        if (child.exitCode !== null) throw new Error(`sandbox exited early; see ${logFile}`);
        return existsSync(envFile);
      },
      45 * 60_000,
    );
  }
  const env = await readFile(envFile, 'utf8');
  process.stdout.write(
    `${env
      .trim()
      .split('\n')
      .map((line) => `export ${line}`)
      .join('\n')}\n# stop it with: make sandbox-down\n`,
  );
}

async function down(): Promise<void> {
  const pid = await runningPid();
  if (!pid) {
    say('not running');
    return;
  }
  process.kill(pid, 'SIGTERM');
  await waitFor('the sandbox to stop', async () => (await runningPid()) === undefined, 60_000);
  say('stopped');
}

const command = process.argv[2];
const commands: Record<string, () => Promise<void>> = { run: runForeground, up, down };
const action = command ? commands[command] : undefined;
if (!action) {
  say('usage: node hack/sandbox.ts run|up|down');
  process.exit(2);
}
action().catch((err: unknown) => {
  say(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
