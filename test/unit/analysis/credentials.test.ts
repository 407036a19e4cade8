import { describe, expect, it } from '@jest/globals';
import { settingsFromSecret } from '../../../src/analysis/credentials.ts';

const secret = 'Secret monitoring/prom';

describe('settingsFromSecret', () => {
  it('reads a bearer token', () => {
    expect(settingsFromSecret({ token: 'abc' }, secret)).toEqual({
      credentials: { type: 'bearer', token: 'abc' },
    });
  });

  it('reads basic credentials and TLS material', () => {
    expect(
      settingsFromSecret(
        { username: 'u', password: 'p', 'ca.crt': 'CA', 'tls.crt': 'C', 'tls.key': 'K' },
        secret,
      ),
    ).toEqual({
      credentials: { type: 'basic', username: 'u', password: 'p' },
      tls: { ca: 'CA', cert: 'C', key: 'K' },
    });
  });

  it('accepts a Secret with only a CA', () => {
    expect(settingsFromSecret({ 'ca.crt': 'CA' }, secret)).toEqual({ tls: { ca: 'CA' } });
  });

  it.each([
    [{ token: 't', username: 'u', password: 'p' }, 'both token and username/password'],
    [{ username: 'u' }, 'username without password'],
    [{ password: 'p' }, 'password without username'],
    [{ 'tls.crt': 'C' }, 'both tls.crt and tls.key'],
    [{ user: 'u', pass: 'p' }, 'none of the keys'],
    [{ token: '' }, 'none of the keys'],
  ])('refuses %j naming the Secret', (data, problem) => {
    expect(() => settingsFromSecret(data, secret)).toThrow(new RegExp(`^${secret} .*${problem}`));
  });
});
