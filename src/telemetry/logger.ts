import { randomUUID } from 'node:crypto';
import { pino, type Logger, type LevelWithSilent } from 'pino';
import { knownSecrets } from './secrets.ts';

export type { Logger };

export const LogLevels = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

const censor = '[redacted]';

// Paths pino blanks out wherever they appear, so credentials and webhook URLs never reach a log line.
// Webhook URLs carry their secret in the path (Slack, Teams, Discord), so any url/address field goes.
const secretFields = [
  'token',
  'password',
  'secret',
  'authorization',
  'url',
  'address',
  'webhookUrl',
  'headers',
];
const redactPaths = [
  ...secretFields,
  ...secretFields.map((field) => `*.${field}`),
  ...secretFields.map((field) => `*.*.${field}`),
  'err.config',
  'err.request',
  'err.response',
  'err.body',
];

export function isLogLevel(value: string): value is LevelWithSilent {
  return (LogLevels as readonly string[]).includes(value);
}

/** JSON logger on stdout; one per process, with children per component and reconcile. */
export function createLogger(level: LevelWithSilent = 'info', destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { app: 'fledge' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: redactPaths, censor },
    serializers: { err: serializeError },
    // The last word on every line: no credential Fledge holds leaves in a log, whatever field carries it.
    hooks: { streamWrite: (line) => knownSecrets.redact(line) },
  };
  return destination ? pino(options, destination) : pino(options);
}

/**
 * pino's error serializer, plus URL scrubbing of the message and stack: HTTP
 * clients put the request URL (and with it a webhook's secret path) in messages.
 */
export function serializeError(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  const serialized = pino.stdSerializers.err(error);
  serialized.message = redactUrls(serialized.message);
  serialized.stack = redactUrls(serialized.stack);
  return serialized;
}

/** Replaces the path, query and credentials of every http(s) URL in `text` with a marker, keeping scheme and host. */
export function redactUrls(text: string): string {
  return text.replace(
    /\b(https?:\/\/)(?:[^\s/@]+@)?([^\s/?#'"]+)[^\s'"]*/gi,
    (_match, scheme: string, host: string) => {
      return `${scheme}${host}/${censor}`;
    },
  );
}

export interface ReconcileScope {
  controller: string;
  namespace: string;
  name: string;
}

/** A child logger for one reconcile: every line carries controller, namespace, name and a fresh reconcileID. */
export function reconcileLogger(parent: Logger, scope: ReconcileScope): Logger {
  return parent.child({ ...scope, reconcileID: randomUUID() });
}
