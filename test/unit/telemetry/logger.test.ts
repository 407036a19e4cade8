import { Writable } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { createLogger, isLogLevel, reconcileLogger, redactUrls } from '../../../src/telemetry/logger.ts';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      callback();
    },
  });
  return { lines, logger: createLogger('debug', destination) };
}

describe('logger', () => {
  it('blanks credentials and webhook URLs wherever they sit', () => {
    const { lines, logger } = capture();
    logger.info(
      {
        token: 't',
        provider: { address: 'https://hooks.slack.com/services/T/B/X', password: 'p' },
        webhook: { spec: { url: 'https://example.com/hook?key=1' } },
      },
      'sending',
    );
    const text = JSON.stringify(lines[0]);
    expect(text).not.toContain('hooks.slack.com');
    expect(text).not.toContain('example.com');
    expect(lines[0]).toMatchObject({
      token: '[redacted]',
      provider: { address: '[redacted]', password: '[redacted]' },
    });
  });

  it('scrubs URLs inside error messages and drops error headers', () => {
    const { lines, logger } = capture();
    const error = Object.assign(
      new Error('POST https://user:pw@hooks.slack.com/services/T0/B0/SECRET failed'),
      {
        headers: { authorization: 'Bearer abc' },
      },
    );
    logger.error({ err: error }, 'delivery failed');
    const text = JSON.stringify(lines[0]);
    expect(text).not.toContain('SECRET');
    expect(text).not.toContain('Bearer abc');
    expect(text).not.toContain('pw@');
    expect((lines[0]?.err as { message: string }).message).toBe(
      'POST https://hooks.slack.com/[redacted] failed',
    );
  });

  it('keeps scheme and host of redacted URLs', () => {
    expect(redactUrls('see http://prometheus:9090/api/v1/query?q=up and https://x.io')).toBe(
      'see http://prometheus:9090/[redacted] and https://x.io/[redacted]',
    );
  });

  it('gives each reconcile a child logger with its own reconcileID', () => {
    const { lines, logger } = capture();
    const scope = { controller: 'canary', namespace: 'apps', name: 'podinfo' };
    reconcileLogger(logger, scope).info('one');
    reconcileLogger(logger, scope).info('two');
    expect(lines[0]).toMatchObject({ app: 'fledge', ...scope, msg: 'one' });
    expect(lines[0]?.reconcileID).toEqual(expect.stringMatching(/^[0-9a-f-]{36}$/));
    expect(lines[1]?.reconcileID).not.toBe(lines[0]?.reconcileID);
  });

  it('knows its levels', () => {
    expect(isLogLevel('debug')).toBe(true);
    expect(isLogLevel('verbose')).toBe(false);
  });
});
