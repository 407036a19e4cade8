import { startFakeApi, type FakeAnswer } from './fake-api.ts';

// Dynatrace's metrics API v2 (GET /api/v2/metrics/query) on a loopback HTTPS
// server, in its documented shapes: `Authorization: Api-Token` checked (401
// {"error": {"code", "message"}}), selector errors as 400, a result per metric
// with data per dimension tuple, and 429 with X-RateLimit-Reset (microseconds
// since the epoch).

export interface FakeDynatrace {
  readonly url: string;
  readonly ca: string;
  readonly requests: URLSearchParams[];
  /** The series (dimension tuple -> values) for a selector; unknown selectors have none. */
  answer(selector: string, series: Record<string, (number | null)[]> | 'rate-limited'): void;
  close(): Promise<void>;
}

export async function startFakeDynatrace(token: string): Promise<FakeDynatrace> {
  const answers = new Map<string, Record<string, (number | null)[]> | 'rate-limited'>();
  const requests: URLSearchParams[] = [];
  const error = (code: number, message: string): FakeAnswer => ({
    status: code,
    body: { error: { code, message } },
  });
  const api = await startFakeApi(({ url, headers }): FakeAnswer => {
    if (url.pathname !== '/api/v2/metrics/query') return error(404, 'Not found');
    if (headers.authorization !== `Api-Token ${token}`) return error(401, 'Token Authentication failed');
    const selector = url.searchParams.get('metricSelector') ?? '';
    const depth = [...selector].reduce(
      (d, ch) => (d < 0 ? d : d + (ch === '(' ? 1 : ch === ')' ? -1 : 0)),
      0,
    );
    if (selector === '' || /\s/.test(selector) || depth !== 0) {
      return error(
        400,
        `Constraints violated: metricSelector: The metric selector '${selector}' is invalid.`,
      );
    }
    requests.push(url.searchParams);
    const answer = answers.get(selector) ?? {};
    if (answer === 'rate-limited') {
      return {
        ...error(429, 'Too Many Requests'),
        headers: { 'x-ratelimit-reset': String((Date.now() + 30_000) * 1000) },
      };
    }
    const to = Number(url.searchParams.get('to'));
    return {
      status: 200,
      body: {
        totalCount: 1,
        nextPageKey: null,
        resolution: 'Inf',
        result: [
          {
            metricId: selector,
            dataPointCountRatio: 0.0001,
            dimensionCountRatio: 0.001,
            data: Object.entries(answer).map(([tuple, values]) => ({
              dimensions: tuple === '' ? [] : tuple.split('/'),
              dimensionMap: {},
              timestamps: values.map(() => to),
              values,
            })),
          },
        ],
      },
    };
  });
  return { ...api, requests, answer: (selector, series) => void answers.set(selector, series) };
}
