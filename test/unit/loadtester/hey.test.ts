import { describe, expect, it } from '@jest/globals';
import { CommandError, parseHey, splitWords } from '../../../src/loadtester/hey.ts';
import { knownSecrets } from '../../../src/telemetry/secrets.ts';

describe('hey command lines', () => {
  it("reads Flagger's documented load test", () => {
    expect(parseHey('hey -z 1m -q 10 -c 2 http://podinfo-canary.test:9898/')).toEqual({
      url: 'http://podinfo-canary.test:9898/',
      method: 'GET',
      headers: {},
      body: undefined,
      concurrency: 2,
      ratePerWorker: 10,
      durationMs: 60_000,
      requests: 200,
      timeoutMs: 20_000,
    });
  });

  it('reads method, quoted headers and a body', () => {
    const plan = parseHey(
      `hey -z 30s -c 5 -m post -H 'Cookie: canary=always' -H "X-Trace: a b" -T application/json -d '{"a": 1}' http://app/api`,
    );
    expect(plan).toMatchObject({
      method: 'POST',
      headers: { cookie: 'canary=always', 'x-trace': 'a b', 'content-type': 'application/json' },
      body: '{"a": 1}',
      concurrency: 5,
      durationMs: 30_000,
    });
  });

  it('sends -n requests when no duration is given', () => {
    expect(parseHey('hey -n 50 -c 1 http://app/')).toMatchObject({ requests: 50, durationMs: undefined });
  });

  it.each([
    ['hey -z 1m', /needs a URL/],
    ['hey -z 1minute http://app/', /hey -z: "1minute" is not a Go duration/],
    ['hey -q fast http://app/', /-q needs a positive number/],
    ['hey -c 0 http://app/', /-c needs a positive number/],
    ['hey -x http://proxy http://app/', /flag -x is not supported/],
    ['hey -H nocolon http://app/', /"Name: value"/],
    ['hey http://a/ http://b/', /one URL/],
    ['hey ftp://app/', /must be http or https/],
    ['wrk http://app/', /not a hey command/],
    ['hey -z 1m http://app/ | tee out', /needs a shell/],
    ['hey -z 1m http://app/ && curl http://x', /needs a shell/],
    ['hey -H "X: $SECRET" http://app/', /shell expansion/],
    ["hey -H 'X: y http://app/", /unterminated '/],
  ])('refuses %s', (line, message) => {
    expect(() => parseHey(line)).toThrow(CommandError);
    expect(() => parseHey(line)).toThrow(message);
  });

  it('splits words as a shell does for quotes and escapes', () => {
    expect(splitWords(`a 'b c' "d \\"e\\"" f\\ g ''`)).toEqual(['a', 'b c', 'd "e"', 'f g', '']);
  });

  it('remembers the credentials a command carries, so the logged command line is blanked', () => {
    const token = 'x7Qp2Lr9Vt4Kw8Zm3Nc6';
    const password = 'u5Hy8Rj2Pq7Lx4Tb';
    const line = `hey -n 1 -H 'Authorization: Bearer ${token}' -H 'X-Trace: visible-value' http://load:${password}@podinfo-canary.test:9898/`;
    parseHey(line);
    const logged = knownSecrets.redact(line);
    expect(logged).not.toContain(token);
    expect(logged).not.toContain(password);
    expect(logged).toContain('X-Trace: visible-value');
  });
});
