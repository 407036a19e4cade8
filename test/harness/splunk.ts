import { startFakeApi, type FakeAnswer } from './fake-api.ts';

// Splunk Observability's SignalFlow API in its HTTP form (POST
// /v2/signalflow/execute, the program as text/plain) on a loopback HTTPS
// server: `X-SF-Token` checked (401 {"code", "message"}), the answer a
// text/event-stream of control, metadata and data messages ending with
// END_OF_CHANNEL, a program error as an `error` message, and 429 with
// Retry-After.

export type SplunkAnswer =
  /** Per time series id, its values, oldest first; null is a missing point. */
  Record<string, (number | null)[]> | 'rate-limited' | 'aborted';

export interface FakeSplunk {
  readonly url: string;
  readonly ca: string;
  /** The query parameters of each accepted execute request. */
  readonly requests: URLSearchParams[];
  answer(program: string, answer: SplunkAnswer): void;
  close(): Promise<void>;
}

const message = (event: string, data: unknown) =>
  `event: ${event}\n${JSON.stringify(data, null, 2)
    .split('\n')
    .map((line) => `data: ${line}`)
    .join('\n')}\n\n`;

export async function startFakeSplunk(token: string): Promise<FakeSplunk> {
  const answers = new Map<string, SplunkAnswer>();
  const requests: URLSearchParams[] = [];
  const api = await startFakeApi(({ method, url, headers, body }): FakeAnswer => {
    if (method !== 'POST' || url.pathname !== '/v2/signalflow/execute') {
      return { status: 404, body: { code: 404, message: 'Not Found' } };
    }
    if (headers['x-sf-token'] !== token) return { status: 401, body: { code: 401, message: 'Unauthorized' } };
    const answer = answers.get(body);
    if (answer === 'rate-limited') {
      return {
        status: 429,
        body: { code: 429, message: 'Too many requests' },
        headers: { 'retry-after': '30' },
      };
    }
    requests.push(url.searchParams);
    const start = Number(url.searchParams.get('start'));
    let stream = message('control-message', { event: 'STREAM_START', timestampMs: Date.now() });
    if (!/\.publish\(/.test(body)) {
      stream += message('error', {
        error: 400,
        errorType: 'ANALYTICS_PROGRAM_NAME_ERROR',
        message: 'The program does not publish any stream.',
      });
      return { status: 200, body: stream, headers: { 'content-type': 'text/event-stream' } };
    }
    stream += message('control-message', {
      event: 'JOB_START',
      handle: 'Fk2XbLmAgAA',
      timestampMs: Date.now(),
    });
    if (answer === 'aborted') {
      stream += message('control-message', {
        event: 'CHANNEL_ABORT',
        abortInfo: {
          sf_job_abortReason: 'Job exceeded the maximum number of time series',
          sf_job_abortState: 'FAILED',
        },
      });
      return { status: 200, body: stream, headers: { 'content-type': 'text/event-stream' } };
    }
    const series = Object.entries(answer ?? {});
    for (const [tsId] of series) {
      stream += message('metadata', {
        tsId,
        properties: { sf_type: 'MetricTimeSeries', sf_metric: '_SF_COMP_' },
      });
    }
    const length = Math.max(0, ...series.map(([, values]) => values.length));
    for (let i = 0; i < length; i++) {
      const data = series
        .filter(([, values]) => values[i] !== undefined && values[i] !== null)
        .map(([tsId, values]) => ({ tsId, value: values[i] }));
      stream += message('data', { data, logicalTimestampMs: start + (i + 1) * 60_000 });
    }
    stream += message('control-message', { event: 'END_OF_CHANNEL', timestampMs: Date.now() });
    return { status: 200, body: stream, headers: { 'content-type': 'text/event-stream' } };
  });
  return { ...api, requests, answer: (program, answer) => void answers.set(program, answer) };
}
