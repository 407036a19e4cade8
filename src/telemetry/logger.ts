import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

export const LogLevels = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

// Paths pino blanks out wherever they appear, so credentials never reach a log line.
const redactPaths = [
  'token',
  'password',
  'authorization',
  'headers.authorization',
  'headers.Authorization',
  '*.token',
  '*.password',
  '*.url',
  '*.address',
  'err.headers',
];

export function isLogLevel(value: string): value is LevelWithSilent {
  return (LogLevels as readonly string[]).includes(value);
}

/** JSON logger on stdout; one per process, with children per component and reconcile. */
export function createLogger(level: LevelWithSilent = 'info', destination?: pino.DestinationStream): Logger {
  const options = {
    level,
    base: { app: 'fledge' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: redactPaths, censor: '[redacted]' },
    serializers: { err: pino.stdSerializers.err },
  };
  return destination ? pino(options, destination) : pino(options);
}
