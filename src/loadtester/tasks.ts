import autocannon from 'autocannon';
import { execFile } from 'node:child_process';
import type { Counter } from 'prom-client';
import type { Logger } from '../telemetry/logger.ts';
import { CommandError, parseHey, type LoadPlan } from './hey.ts';

/** The webhook body Fledge and Flagger send: the Canary, and the hook's metadata. */
export interface TaskRequest {
  name: string;
  namespace: string;
  metadata?: Record<string, string>;
}

/** The HTTP answer to a task request. */
export interface TaskAnswer {
  status: number;
  body: string;
}

export interface TaskRunnerOptions {
  log: Logger;
  /** A shell command runs only when one of these matches it whole; none: no shell commands. */
  allowedCommands: readonly RegExp[];
  /** Longest a blocking shell command may take. */
  commandTimeoutMs: number;
  tasks: Counter<'type' | 'outcome'>;
  responses: Counter<'code'>;
  /** Sends the load; autocannon unless a test passes its own. */
  generate?: (plan: LoadPlan, onResponse: (code: number) => void) => Running;
}

/** A task in the background: `done` settles when it ends, `stop` ends it early. */
export interface Running {
  done: Promise<unknown>;
  stop(): void;
}

/**
 * Runs what a webhook's `metadata.cmd` asks, with Flagger's load tester's semantics: `cmd` tasks
 * (the default type) start in the background and keep running across analysis ticks, one per
 * Canary and command line, so the same hook called again is not a second load; `bash` tasks block
 * the call and answer with their output. `hey` command lines are generated in-process; any other
 * command needs a shell and must be allowed by --allow-command.
 */
export class TaskRunner {
  readonly #options: TaskRunnerOptions;
  readonly #running = new Map<string, Running>();

  constructor(options: TaskRunnerOptions) {
    this.#options = options;
  }

  /** Background tasks running now, by Canary and command. */
  get running(): number {
    return this.#running.size;
  }

  async run(request: TaskRequest): Promise<TaskAnswer> {
    const type = request.metadata?.type ?? 'cmd';
    const cmd = request.metadata?.cmd?.trim();
    const answer = (status: number, outcome: string, body: string): TaskAnswer => {
      this.#options.tasks.inc({ type, outcome });
      return { status, body };
    };
    if (!cmd) return answer(400, 'refused', 'metadata.cmd is missing: nothing to run\n');
    if (type !== 'cmd' && type !== 'bash') {
      return answer(
        400,
        'refused',
        `metadata.type "${type}" is not supported: use "cmd" (hey load) or "bash" (a command allowed by --allow-command)\n`,
      );
    }
    const isHey = /^hey(\s|$)/.test(cmd);
    if (type === 'bash' || !isHey) {
      if (!this.#options.allowedCommands.some((pattern) => pattern.test(cmd))) {
        return answer(
          403,
          'refused',
          `command not allowed: "${cmd}" matches no --allow-command pattern; start the load tester with one that matches it\n`,
        );
      }
    }
    const log = this.#options.log.child({ canary: `${request.namespace}/${request.name}`, type });
    if (type === 'bash') {
      const result = await this.#shell(cmd);
      if (request.metadata?.logCmdOutput === 'true')
        log.info({ cmd, output: result.output }, 'command output');
      if (result.code !== 0) {
        log.warn({ cmd, code: result.code }, 'command failed');
        return answer(500, 'failed', result.output);
      }
      return answer(200, 'succeeded', result.output);
    }

    const key = `${request.namespace}/${request.name}\n${cmd}`;
    if (this.#running.has(key)) return answer(202, 'duplicate', 'already running\n');
    let running: Running;
    try {
      running = isHey ? this.#load(parseHey(cmd)) : this.#background(cmd);
    } catch (err) {
      if (err instanceof CommandError) return answer(400, 'refused', `${err.message}\n`);
      throw err;
    }
    this.#running.set(key, running);
    log.info({ cmd }, 'task started');
    void running.done.then(
      () => log.info({ cmd }, 'task finished'),
      (err: unknown) => log.warn({ cmd, err }, 'task failed'),
    );
    void running.done.finally(() => this.#running.delete(key)).catch(() => undefined);
    return answer(202, 'started', 'started\n');
  }

  /** Ends every background task (on shutdown). */
  async stop(): Promise<void> {
    const all = [...this.#running.values()];
    for (const task of all) task.stop();
    await Promise.allSettled(all.map((task) => task.done));
  }

  #load(plan: LoadPlan): Running {
    const onResponse = (code: number) => this.#options.responses.inc({ code: String(code) });
    return (this.#options.generate ?? generateLoad)(plan, onResponse);
  }

  #background(cmd: string): Running {
    const child = execFile('bash', ['-c', cmd], { timeout: this.#options.commandTimeoutMs });
    child.stdout?.resume();
    child.stderr?.resume();
    return {
      done: new Promise<void>((done, fail) =>
        child.once('exit', (code) => (code === 0 ? done() : fail(new Error(`exit code ${code}`)))),
      ),
      stop: () => child.kill('SIGTERM'),
    };
  }

  #shell(cmd: string): Promise<{ code: number; output: string }> {
    return new Promise((done) => {
      execFile(
        'bash',
        ['-c', cmd],
        { timeout: this.#options.commandTimeoutMs, maxBuffer: 4 * 1024 * 1024 },
        (err, stdout, stderr) => {
          const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
          done({ code, output: `${stdout}${stderr}` });
        },
      );
    });
  }
}

/** Sends a load plan with autocannon: `-c` connections, each at `-q` requests per second. */
export function generateLoad(plan: LoadPlan, onResponse: (code: number) => void): Running {
  let settle!: (err: unknown) => void;
  const done = new Promise<void>((resolve, reject) => {
    settle = (err) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve());
  });
  const instance = autocannon(
    {
      url: plan.url,
      method: plan.method as autocannon.Request['method'],
      headers: plan.headers,
      ...(plan.body === undefined ? {} : { body: plan.body }),
      connections: plan.concurrency,
      ...(plan.ratePerWorker === undefined ? {} : { connectionRate: plan.ratePerWorker }),
      ...(plan.durationMs === undefined ? { amount: plan.requests } : { duration: plan.durationMs / 1000 }),
      timeout: plan.timeoutMs / 1000,
    },
    (err: unknown) => settle(err),
  );
  instance.on('response', (_client: unknown, statusCode: number) => onResponse(statusCode));
  return { done, stop: () => instance.stop() };
}
