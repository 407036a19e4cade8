// `make demo`: the local sandbox plus the Fledge operator running against it.
// Ctrl-C stops the operator, then the sandbox; nothing is left running.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../test/harness/processes.ts';
import { startSandbox } from '../test/harness/sandbox.ts';

const say = (message: string) => process.stderr.write(`[demo] ${message}\n`);

const sandbox = await startSandbox(say);
say(`sandbox ready; in another shell: export KUBECONFIG=${sandbox.controlPlane.kubeconfigPath}`);
const operator = spawn(
  process.execPath,
  [join(repoRoot, 'src/cli/main.ts'), 'run', `--kubeconfig=${sandbox.controlPlane.kubeconfigPath}`],
  { stdio: 'inherit' },
);

let stopping = false;
const stop = async (reason: string) => {
  if (stopping) return;
  stopping = true;
  say(`stopping (${reason})`);
  if (operator.exitCode === null) {
    operator.kill('SIGTERM');
    await new Promise((done) => operator.once('exit', done));
  }
  await sandbox.stop();
  say('stopped; nothing left running');
  process.exit(0);
};
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
operator.once('exit', (code) => void stop(`operator exited with ${code}`));
