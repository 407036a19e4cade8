import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  createSplunkProvider,
  parseEventStream,
  streamEndpoint,
} from '../../../src/analysis/stores/splunk.ts';
import { startFakeSplunk, type FakeSplunk } from '../../harness/splunk.ts';
import { providerFailure } from './loopback.ts';

// The splunk store against a loopback HTTPS server speaking the SignalFlow
// API's HTTP form.

const token = 'sf-Qm4vXz8pTn2c';
const program = "data('requests.success', filter=filter('app', 'podinfo')).mean().publish()";

describe('splunk store', () => {
  let splunk: FakeSplunk;
  beforeAll(async () => {
    splunk = await startFakeSplunk(token);
  });
  afterAll(async () => splunk.close());

  const provider = (secret = token, address = splunk.url) =>
    createSplunkProvider({
      type: 'splunk',
      address,
      timeoutMs: 2000,
      tls: { ca: splunk.ca },
      secretValues: { sf_token_key: secret },
    });

  it('runs the program over ten metric intervals and reads the newest value of the one series', async () => {
    splunk.answer(program, { AAAAAKxOjeY: [97, 98.5, null] });
    const p = provider();
    await expect(p.query(program, undefined, 30_000)).resolves.toBe(98.5);
    p.close();
    const sent = splunk.requests.at(-1);
    expect(sent?.get('immediate')).toBe('true');
    expect(Number(sent?.get('stop')) - Number(sent?.get('start'))).toBe(300_000);
  });

  it('has no data without values, and refuses several series', async () => {
    splunk.answer('data("gap").publish()', { AAAAAKxOjeY: [null, null] });
    splunk.answer('data("split").publish()', { AAAAAKxOjeY: [1], AAAAAJ7pQzc: [2] });
    const p = provider();
    await expect(p.query('data("none").publish()')).resolves.toEqual({
      noData: true,
      reason: 'the program published no values in the window',
    });
    await expect(p.query('data("gap").publish()')).resolves.toMatchObject({ noData: true });
    const several = await providerFailure(p.query('data("split").publish()'));
    p.close();
    expect(several.kind).toBe('unusable-result');
    expect(several.message).toMatch(/^the program published 2 time series/);
  });

  it("reports Splunk's own message for a refused token, a bad program and an aborted job, and waits out a 429", async () => {
    const wrong = provider('sf-wrong-00000');
    const auth = await providerFailure(wrong.query(program));
    wrong.close();
    expect(auth.kind).toBe('auth');
    expect(auth.message).toContain('answered 401 Unauthorized (Unauthorized); check sf_token_key');

    const p = provider();
    const bad = await providerFailure(p.query("data('x')"));
    expect(bad.kind).toBe('bad-query');
    expect(bad.message).toBe(
      'Splunk rejected the program: The program does not publish any stream. (ANALYTICS_PROGRAM_NAME_ERROR)',
    );
    splunk.answer('data("big").publish()', 'aborted');
    const aborted = await providerFailure(p.query('data("big").publish()'));
    expect(aborted.message).toBe(
      'Splunk aborted the computation: Job exceeded the maximum number of time series',
    );

    splunk.answer('data("busy").publish()', 'rate-limited');
    const limited = await providerFailure(p.query('data("busy").publish()'));
    expect(limited.kind).toBe('rate-limited');
    const sent = splunk.requests.length;
    const held = await providerFailure(p.query(program));
    expect(held.message).toMatch(/no query was sent/);
    expect(splunk.requests.length).toBe(sent);
    p.close();
  });

  it('takes the stream host of a realm for its api host or a wss address, and refuses credentials in it', () => {
    expect(streamEndpoint('https://api.us1.signalfx.com').href).toBe('https://stream.us1.signalfx.com/');
    expect(streamEndpoint('wss://stream.eu0.signalfx.com').href).toBe('https://stream.eu0.signalfx.com/');
    expect(() => streamEndpoint('https://user:pw@stream.us1.signalfx.com')).toThrow(
      /must not embed credentials/,
    );
  });

  it('reads Server-Sent Events with multi-line data and comments', () => {
    expect(
      parseEventStream(': keep-alive\n\nevent: data\ndata: {\ndata:  "a": 1\ndata: }\n\ndata: x\n'),
    ).toEqual([
      { event: 'data', data: '{\n "a": 1\n}' },
      { event: 'message', data: 'x' },
    ]);
  });
});
