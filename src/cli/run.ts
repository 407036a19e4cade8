import { startOperator } from '../controller/operator.ts';
import { parseRunOptions, runUsage } from '../controller/options.ts';
import { createLogger } from '../telemetry/logger.ts';
import type { Command } from './command.ts';

export const runCommand: Command = {
  summary: 'run the operator',
  run: async (argv) => {
    let options;
    try {
      options = parseRunOptions(argv, process.env);
    } catch (err) {
      process.stderr.write(`fledge run: ${(err as Error).message}\n${runUsage}`);
      return 2;
    }
    if (!options) {
      process.stdout.write(runUsage);
      return 0;
    }
    const log = createLogger(options.logLevel);
    const operator = await startOperator(options, log);
    const outcome = await new Promise<{ code: number; reason: string }>((done) => {
      process.once('SIGTERM', () => done({ code: 0, reason: 'SIGTERM' }));
      process.once('SIGINT', () => done({ code: 0, reason: 'SIGINT' }));
      // Like controller-runtime: a replica that lost its lease exits and comes back as a candidate.
      void operator.stopped.then(({ reason }) => done({ code: 1, reason }));
    });
    log.info({ reason: outcome.reason }, 'shutting down');
    await operator.stop();
    log.info('stopped');
    log.flush();
    return outcome.code;
  },
};
