import {
  baseOf,
  checkStatus,
  createHttpStore,
  jsonErrorText,
  numberFrom,
  parseAddress,
  snippet,
} from '../http-store.ts';
import { noData, ProviderError, type MetricProvider, type NoData, type ProviderConfig } from '../provider.ts';
import { defineStore, TlsSecretKeys } from '../store.ts';
import { PlainQuery } from '../template.ts';

// Splunk Observability (SignalFx): the query is a SignalFlow program, run once
// through the SignalFlow API's HTTP form (POST /v2/signalflow/execute), whose
// answer is a Server-Sent Events stream that ends with the channel. As in
// Flagger the window is ten metric intervals and the value is the newest
// non-null point of the one time series the program publishes.

const tokenKey = 'sf_token_key';
const windowIntervals = 10;
const defaultIntervalMs = 60_000;

export function createSplunkProvider(config: ProviderConfig): MetricProvider {
  const where = baseOf(streamEndpoint(config.address));
  const token = config.secretValues?.[tokenKey];
  if (token === undefined) {
    throw new ProviderError('config', `Splunk needs ${tokenKey} in the provider Secret`);
  }
  const store = createHttpStore(config, { name: 'Splunk', where, authHeaders: { 'X-SF-Token': token } });

  return {
    async query(
      query: string,
      signal?: AbortSignal,
      intervalMs = defaultIntervalMs,
    ): Promise<number | NoData> {
      const stop = Date.now();
      const params = new URLSearchParams({
        start: String(stop - windowIntervals * intervalMs),
        stop: String(stop),
        immediate: 'true',
      });
      const res = await store.send(
        {
          method: 'POST',
          url: `${where}/v2/signalflow/execute?${params}`,
          body: query,
          headers: { 'Content-Type': 'text/plain', Accept: 'text/event-stream' },
        },
        signal,
      );
      checkStatus(res, {
        name: 'Splunk',
        where,
        credentials: `${tokenKey} in the Secret named by spec.provider.secretRef`,
        message: jsonErrorText((body) => body.message),
      });
      return readStream(res.body, where);
    },
    close: () => store.close(),
  };
}

/**
 * The SignalFlow endpoint for an address: the realm's stream host, as Flagger
 * derives it, so `https://api.<realm>.signalfx.com` and `wss://stream...` both work.
 */
export function streamEndpoint(address: string): URL {
  const url = parseAddress(
    address.replace(/^ws(s?):\/\//, 'http$1://'),
    'Splunk',
    'https://stream.us1.signalfx.com',
  );
  if (url.hostname.startsWith('api.')) url.hostname = `stream.${url.hostname.slice('api.'.length)}`;
  return url;
}

interface StreamEvent {
  readonly event: string;
  readonly data: string;
}

/** The events of a text/event-stream body: `event:` names it, `data:` lines join with newlines. */
export function parseEventStream(body: string): StreamEvent[] {
  const events: StreamEvent[] = [];
  for (const block of body.split(/\r?\n\r?\n/)) {
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split(/\r?\n/)) {
      if (line === '' || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      if (field === 'data') data.push(value);
    }
    if (data.length > 0) events.push({ event, data: data.join('\n') });
  }
  return events;
}

function readStream(body: string, where: string): number | NoData {
  const payload = (data: string): Record<string, unknown> => {
    try {
      const parsed: unknown = JSON.parse(data);
      if (typeof parsed === 'object' && parsed !== null) return parsed as Record<string, unknown>;
    } catch {
      // reported below
    }
    throw new ProviderError(
      'bad-response',
      `Splunk at ${where} sent an unreadable message: ${snippet(data)}`,
    );
  };
  const events = parseEventStream(body);
  if (events.length === 0) {
    throw new ProviderError(
      'bad-response',
      `Splunk at ${where} did not answer with a SignalFlow stream; is the address the SignalFlow API? Body: ${snippet(body)}`,
    );
  }
  /** The newest value of each time series, by tsId. */
  const latest = new Map<string, number>();
  let ended = false;
  for (const { event, data } of events) {
    if (event === 'error') {
      const { message, errorType } = payload(data);
      throw new ProviderError(
        'bad-query',
        `Splunk rejected the program: ${typeof message === 'string' ? message : snippet(data)}${typeof errorType === 'string' ? ` (${errorType})` : ''}`,
      );
    }
    if (event === 'control-message') {
      const control = payload(data);
      if (control.event === 'END_OF_CHANNEL') ended = true;
      if (control.event === 'CHANNEL_ABORT') {
        const info = control.abortInfo as { sf_job_abortReason?: unknown } | undefined;
        throw new ProviderError(
          'http-status',
          `Splunk aborted the computation: ${String(info?.sf_job_abortReason ?? 'no reason given')}`,
        );
      }
    }
    if (event === 'data') {
      const points = payload(data).data;
      if (!Array.isArray(points)) continue;
      for (const point of points as { tsId?: unknown; value?: unknown }[]) {
        const value = numberFrom(point.value);
        if (value !== undefined && typeof point.tsId === 'string') latest.set(point.tsId, value);
      }
    }
  }
  if (!ended) {
    throw new ProviderError(
      'bad-response',
      `Splunk at ${where} ended the stream before the end of the channel`,
    );
  }
  if (latest.size > 1) {
    throw new ProviderError(
      'unusable-result',
      `the program published ${latest.size} time series; aggregate it, e.g. .sum().publish(), so it publishes one`,
    );
  }
  const [value] = latest.values();
  if (value === undefined) return noData('the program published no values in the window');
  return Number.isNaN(value) ? noData('the newest value is NaN') : value;
}

export const splunk = defineStore({
  type: 'splunk',
  summary:
    'SignalFlow program run over ten metric intervals (`/v2/signalflow/execute`); the newest value of the one time series',
  address: { kind: 'required' },
  secretKeys: [
    { key: tokenKey, meaning: 'sent as `X-SF-Token`', credential: true, required: true },
    ...TlsSecretKeys,
  ],
  syntax: PlainQuery,
  factory: createSplunkProvider,
});
