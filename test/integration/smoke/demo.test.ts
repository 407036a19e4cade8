import { describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { POD_NETWORK_WAIT_MS } from '../../harness/data-plane.ts';
import { ProcessGroup, repoRoot, waitFor } from '../../harness/processes.ts';

// `make demo` is one of the README's two commands, so it is tested like the
// rest: its own sandbox (beside the suite's control plane), the sample canary
// walked to promotion, and Ctrl-C leaving no control plane behind.

/** Whether something accepts TCP connections on host:port. */
function listening(host: string, port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}

describe('make demo', () => {
  it(
    'walks the sample canary to promotion and stops cleanly on SIGINT',
    async () => {
      const group = await ProcessGroup.create('fledge-demo-test');
      try {
        const demo = await group.start('demo', process.execPath, [join(repoRoot, 'hack/demo.ts')]);
        const output = () => readFile(group.logPath('demo'), 'utf8');
        const exited = new Promise<number | null>((done) => demo.once('exit', (code) => done(code)));

        await waitFor(
          'the demo to report the promotion',
          async () => {
            group.assertRunning('demo');
            // The demo's last line of the walk, printed after what the primary runs.
            return (await output()).includes('still running; Ctrl-C stops');
          },
          // The demo waits for the pod network while a parallel test file holds it.
          240_000 + POD_NETWORK_WAIT_MS,
        );
        const text = await output();
        const steps = ['initialised', 'new revision', 'canary 25%', 'canary 50%', 'succeeded'];
        const positions = steps.map((step) => text.indexOf(step));
        expect(positions.every((p) => p >= 0)).toBe(true);
        expect([...positions].sort((a, b) => a - b)).toEqual(positions);
        expect(text).toContain('podinfo-primary now runs ghcr.io/stefanprodan/podinfo:6.7.1');

        const kubeconfig = /export KUBECONFIG=(\S+)/.exec(text)?.[1];
        if (!kubeconfig) throw new Error(`the demo printed no KUBECONFIG:\n${text}`);
        const server = /"?server"?:\s*"?https:\/\/([\d.]+):(\d+)/.exec(await readFile(kubeconfig, 'utf8'));
        if (!server) throw new Error(`no server address in ${kubeconfig}`);
        const [, host = '', port = ''] = server;
        expect(await listening(host, Number(port))).toBe(true);

        demo.kill('SIGINT');
        expect(await exited).toBe(0);
        expect(await output()).toContain('stopped; nothing left running');
        expect(existsSync(kubeconfig)).toBe(false);
        expect(await listening(host, Number(port))).toBe(false);
      } finally {
        await group.stop();
      }
    },
    300_000 + POD_NETWORK_WAIT_MS,
  );
});
