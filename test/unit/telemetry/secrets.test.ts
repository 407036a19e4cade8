import { describe, expect, it } from '@jest/globals';
import { Writable } from 'node:stream';
import { createLogger } from '../../../src/telemetry/logger.ts';
import { KnownSecrets, knownSecrets } from '../../../src/telemetry/secrets.ts';

const token = 'tok-3f9a1c77e2b94d0f8a6c';
const pieces = (value: string) =>
  Array.from({ length: value.length - KnownSecrets.piece + 1 }, (_, i) =>
    value.slice(i, i + KnownSecrets.piece),
  );

/** No 8-character piece of `secret` is left in `text`. */
function expectNoPieceOf(secret: string, text: string): void {
  expect(pieces(secret).filter((piece) => text.includes(piece))).toEqual([]);
}

describe('KnownSecrets', () => {
  it('blanks a value wherever it appears, and leaves other text alone', () => {
    const secrets = new KnownSecrets();
    secrets.remember(token);
    expect(secrets.redact(`401: bad token "${token}" sent to /api/v1/query`)).toBe(
      '401: bad token "[redacted]" sent to /api/v1/query',
    );
  });

  it('blanks a value cut short or quoted in part, down to any 8-character piece', () => {
    const secrets = new KnownSecrets();
    secrets.remember(token);
    const cut = `error: ${token.slice(0, 13)}`;
    expectNoPieceOf(token, secrets.redact(cut));
    const middle = `got ...${token.slice(5, 15)}... instead`;
    expect(secrets.redact(middle)).toBe('got ...[redacted]... instead');
  });

  it('blanks the forms a credential travels in: base64 (Basic auth), URL- and JSON-encoded', () => {
    const secrets = new KnownSecrets();
    secrets.rememberBasic('fledge', 'p@ss w"rd/42');
    const basic = Buffer.from('fledge:p@ss w"rd/42').toString('base64');
    expect(secrets.redact(`echo: Authorization: Basic ${basic}`)).toBe(
      'echo: Authorization: Basic [redacted]',
    );
    expect(secrets.redact(`?password=${encodeURIComponent('p@ss w"rd/42')}`)).toBe('?password=[redacted]');
    expect(secrets.redact(JSON.stringify({ echoed: 'p@ss w"rd/42' }))).toBe('{"echoed":"[redacted]"}');
  });

  it('keeps the scheme and host of a secret URL, blanking its user info, keys and query values', () => {
    const secrets = new KnownSecrets();
    secrets.remember(
      'https://alice:s3cr3t-pw@hooks.example.com/services/T0001/B0002/XyZ0123456789abc?key=k-98765432',
    );
    const text = secrets.redact(
      'POST https://hooks.example.com/services/T0001/B0002/XyZ0123456789abc?key=k-98765432 failed for alice:s3cr3t-pw',
    );
    expect(text).toContain('https://hooks.example.com/services/');
    for (const secret of ['XyZ0123456789abc', 'k-98765432', 's3cr3t-pw']) expect(text).not.toContain(secret);
  });

  it('ignores values too short to tell from ordinary words', () => {
    const secrets = new KnownSecrets();
    secrets.remember('true');
    expect(secrets.redact('ready: true')).toBe('ready: true');
  });

  it('walks objects and arrays, leaving numbers and booleans', () => {
    const secrets = new KnownSecrets();
    secrets.remember(token);
    expect(secrets.redactDeep({ metrics: [{ message: `echo ${token}`, value: 1 }], ok: true })).toEqual({
      metrics: [{ message: 'echo [redacted]', value: 1 }],
      ok: true,
    });
  });

  it('forgets the oldest value once it holds the most it may', () => {
    const secrets = new KnownSecrets(2);
    for (const value of ['alpha-11111111', 'bravo-22222222', 'charlie-33333333']) secrets.remember(value);
    expect(secrets.redact('alpha-11111111 bravo-22222222 charlie-33333333')).toBe(
      'alpha-11111111 [redacted] [redacted]',
    );
  });
});

describe('the logger', () => {
  it('writes no known credential, in whatever field or message it comes', () => {
    const secret = 'log-secret-5c1e0a7b9d';
    knownSecrets.remember(secret);
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    });
    const log = createLogger('debug', stream);
    log.warn(
      { reason: `prometheus said: token ${secret} rejected`, body: secret.slice(0, 12) },
      `saw ${secret}`,
    );
    expect(lines).toHaveLength(1);
    expectNoPieceOf(secret, lines[0]!);
    expect(lines[0]).toContain('prometheus said: token [redacted] rejected');
  });
});
