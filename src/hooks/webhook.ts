import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import axios from 'axios';
import {
  DEFAULT_WEBHOOK_TIMEOUT,
  parseGoDuration,
  type CanaryStatus,
  type NormalizedWebhook,
  type Phase,
  type WebhookType,
} from '../api/index.ts';
import {
  exponentialDelay,
  assertBackoffPolicy,
  parseRetryAfter,
  type BackoffPolicy,
} from '../runtime/backoff.ts';
import { systemClock, type Clock } from '../runtime/clock.ts';
import type { Logger } from '../telemetry/logger.ts';
import { version } from '../version.ts';
import { redactWebhookUrl } from './redact.ts';
import { knownSecrets } from '../telemetry/secrets.ts';
import { describeTlsFailure } from '../telemetry/tls.ts';

// Calls one canary webhook the way Flagger does: a JSON POST, success when the
// status is at most 202, a timeout that bounds the whole call (retries included),
// and retries for connection errors, 429 and 5xx answers. It never throws: whatever
// happens becomes a WebhookResult whose message is safe to show in an event.

/**
 * The JSON body POSTed to every hook, field for field Flagger's CanaryWebhookPayload,
 * so existing receivers (Flagger's load tester among them) work unchanged.
 */
export interface WebhookPayload {
  /** Name of the Canary. */
  name: string;
  /** Namespace of the Canary. */
  namespace: string;
  /** The Canary's phase when the hook was asked for (e.g. Progressing for pre-rollout). */
  phase: Phase;
  /**
   * Identifies what is being analysed: a digest of the target revision (`status.lastAppliedSpec`)
   * and the tracked ConfigMap/Secret checksums (`status.trackedConfigs`). It changes exactly when
   * a new revision or config starts a new run, so receivers can key state (gates, load tests) on it.
   */
  checksum: string;
  /**
   * The hook's `metadata` map from the spec; always present (`{}` when empty). Event hooks add
   * `eventMessage`, `eventType` (Normal or Warning) and `timestamp` (Unix milliseconds, as a string).
   */
  metadata: Record<string, string>;
}

/** How one hook call ended; `ok` means an HTTP response with status <= 202 arrived in time. */
export interface WebhookResult {
  name: string;
  type: WebhookType;
  ok: boolean;
  /** HTTP status of the last attempt; absent when no response arrived. */
  status?: number;
  /**
   * One line for events and alerts: the response body (whitespace collapsed, truncated), or what
   * went wrong on the network. The webhook URL and its parts never appear in it.
   */
  message: string;
  /** Requests sent (1 + retries used). */
  attempts: number;
  durationMs: number;
}

export interface CanaryRef {
  readonly name: string;
  readonly namespace: string;
}

/** One hook call as the engine asks for it (`runHook { id, webhook, phase }`) plus the Canary it is for. */
export interface HookCall {
  /**
   * The engine's request id (canary uid, run, tick, hook): sent as the Idempotency-Key header, the
   * same on every retry, so a receiver can tell a repeated call from a new one.
   */
  readonly id: string;
  readonly canary: CanaryRef;
  readonly webhook: NormalizedWebhook;
  readonly phase: Phase;
  /** webhookChecksum(canary.status) */
  readonly checksum: string;
}

/** A Kubernetes event the controller recorded, forwarded to the `event` hooks. */
export interface CanaryEvent {
  readonly canary: CanaryRef;
  readonly phase: Phase;
  readonly checksum: string;
  readonly eventType: 'Normal' | 'Warning';
  readonly message: string;
  /** Names this delivery for good (the Event and the hook): sent as the Idempotency-Key header. */
  readonly id?: string;
}

export interface WebhookClientOptions {
  readonly logger: Logger;
  /** Pause before retry n is base * 2^(n-1), capped; default 1 s doubling up to 30 s. */
  readonly backoff?: BackoffPolicy;
  /** Times back-off pauses, durations and event timestamps. */
  readonly clock?: Clock;
  /** Event deliveries in flight at once; beyond this new events are dropped (and logged). Default 256. */
  readonly maxPendingEvents?: number;
}

export const defaultWebhookBackoff: BackoffPolicy = { baseMs: 1000, maxMs: 30_000 };

/** Longest body excerpt kept in a result message: it ends up in an event (1 KiB limit) and alerts. */
export const maxMessageLength = 256;
// Read no more of a response than this: only the status and an excerpt are used.
const maxBodyBytes = 64 * 1024;
const maxSocketsPerOrigin = 16;

// No response and worth another try: the endpoint is starting, restarting or briefly unreachable.
const transientNetworkCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

const WEBHOOK_TRUST_FIX =
  "add its CA to the operator's NODE_EXTRA_CA_CERTS, or set disableTLS on the webhook";

type Attempt =
  | { kind: 'response'; status: number; body: string; retryAfterMs?: number }
  | { kind: 'network'; code: string | undefined; message: string };

/**
 * Digest for WebhookPayload.checksum: the target revision plus tracked configs. Same inputs, same
 * checksum, across restarts and replicas.
 */
export function webhookChecksum(
  status: Pick<CanaryStatus, 'lastAppliedSpec' | 'trackedConfigs'> | undefined,
): string {
  const configs = Object.entries(status?.trackedConfigs ?? {}).sort(([a], [b]) =>
    a < b ? -1 : a > b ? 1 : 0,
  );
  const material = JSON.stringify([status?.lastAppliedSpec ?? '', configs]);
  return createHash('sha256').update(material).digest('hex').slice(0, 16);
}

/** The payload for a lifecycle hook (every type but `event`). */
export function hookPayload(call: HookCall): WebhookPayload {
  return {
    name: call.canary.name,
    namespace: call.canary.namespace,
    phase: call.phase,
    checksum: call.checksum,
    metadata: { ...call.webhook.metadata },
  };
}

/** The payload for an `event` hook; the event's keys win over same-named spec metadata. */
export function eventPayload(
  webhook: NormalizedWebhook,
  event: CanaryEvent,
  timestampMs: number,
): WebhookPayload {
  return {
    name: event.canary.name,
    namespace: event.canary.namespace,
    phase: event.phase,
    checksum: event.checksum,
    metadata: {
      ...webhook.metadata,
      eventMessage: event.message,
      eventType: event.eventType,
      timestamp: String(Math.trunc(timestampMs)),
    },
  };
}

/**
 * Where a Canary's events go: its own `event` hooks, or else the controller-wide event webhook
 * (the `--event-webhook` setting), as in Flagger.
 */
export function eventWebhooksFor(
  webhooks: readonly NormalizedWebhook[],
  globalUrl: string | undefined,
): NormalizedWebhook[] {
  const own = webhooks.filter((hook) => hook.type === 'event');
  if (own.length > 0 || globalUrl === undefined) return own;
  return [
    {
      name: 'events',
      type: 'event',
      url: globalUrl,
      timeout: DEFAULT_WEBHOOK_TIMEOUT,
      retries: 0,
      disableTLS: false,
      muteAlert: false,
    },
  ];
}

/** Sends hook calls over keep-alive connections, one agent per origin and TLS mode. */
export class WebhookClient {
  readonly #logger: Logger;
  readonly #backoff: BackoffPolicy;
  readonly #clock: Clock;
  readonly #maxPendingEvents: number;
  readonly #agents = new Map<string, http.Agent>();
  readonly #pendingEvents = new Set<Promise<void>>();
  readonly #closing = new AbortController();

  constructor(options: WebhookClientOptions) {
    this.#logger = options.logger;
    this.#backoff = options.backoff ?? defaultWebhookBackoff;
    assertBackoffPolicy(this.#backoff, 'WebhookClient');
    this.#clock = options.clock ?? systemClock;
    this.#maxPendingEvents = options.maxPendingEvents ?? 256;
    if (!Number.isInteger(this.#maxPendingEvents) || this.#maxPendingEvents < 1) {
      throw new Error(
        `WebhookClient: maxPendingEvents must be a positive integer, got ${options.maxPendingEvents}`,
      );
    }
  }

  /** Runs a lifecycle hook; `signal` cancels it (the result then says so). Never throws. */
  call(hook: HookCall, signal?: AbortSignal): Promise<WebhookResult> {
    return this.#post(hook.webhook, hookPayload(hook), hook.canary, signal, hook.id);
  }

  /**
   * Fire-and-forget delivery of an event to one `event` hook: returns at once; a failure is
   * logged and otherwise ignored (events never affect the analysis).
   */
  sendEvent(webhook: NormalizedWebhook, event: CanaryEvent): void {
    const scope = { canary: event.canary.name, namespace: event.canary.namespace, hook: webhook.name };
    if (this.#closing.signal.aborted) {
      this.#logger.warn(scope, 'event webhook not sent: the webhook client is closed');
      return;
    }
    if (this.#pendingEvents.size >= this.#maxPendingEvents) {
      this.#logger.warn(
        { ...scope, pending: this.#pendingEvents.size },
        'event webhook dropped: too many event deliveries in flight (is the endpoint down?)',
      );
      return;
    }
    const payload = eventPayload(webhook, event, this.#clock.now());
    const delivery = this.#post(webhook, payload, event.canary, this.#closing.signal, event.id).then(
      (result) => {
        if (!result.ok && !this.#closing.signal.aborted)
          this.#logger.warn({ ...scope, status: result.status }, `event webhook failed: ${result.message}`);
      },
    );
    this.#pendingEvents.add(delivery);
    void delivery.finally(() => this.#pendingEvents.delete(delivery));
  }

  /** Resolves once every event delivery in flight has ended (graceful shutdown: drain, then close). */
  async drainEvents(): Promise<void> {
    while (this.#pendingEvents.size > 0) await Promise.all(this.#pendingEvents);
  }

  /** Cancels event deliveries in flight, waits for them to end, and closes idle connections. */
  async close(): Promise<void> {
    this.#closing.abort();
    await Promise.all(this.#pendingEvents);
    for (const agent of this.#agents.values()) agent.destroy();
    this.#agents.clear();
  }

  async #post(
    webhook: NormalizedWebhook,
    payload: WebhookPayload,
    canary: CanaryRef,
    signal: AbortSignal | undefined,
    idempotencyKey?: string,
  ): Promise<WebhookResult> {
    const startedAt = this.#clock.now();
    const finish = (ok: boolean, message: string, attempts: number, status?: number): WebhookResult => ({
      name: webhook.name,
      type: webhook.type,
      ok,
      ...(status !== undefined && { status }),
      message: redactWebhookUrl(message, webhook.url),
      attempts,
      durationMs: this.#clock.now() - startedAt,
    });

    let timeoutMs: number;
    let url: URL;
    try {
      timeoutMs = parseGoDuration(webhook.timeout, `webhook "${webhook.name}" timeout`);
      url = parseHookUrl(webhook);
    } catch (error) {
      return finish(false, (error as Error).message, 0);
    }

    const deadline = AbortSignal.timeout(timeoutMs);
    const combined = signal ? AbortSignal.any([signal, deadline]) : deadline;
    const deadlineAt = startedAt + timeoutMs;
    const body = JSON.stringify(payload);
    const scope = {
      canary: canary.name,
      namespace: canary.namespace,
      hook: webhook.name,
      type: webhook.type,
    };

    let attempts = 0;
    let last: Attempt;
    for (;;) {
      attempts++;
      last = await this.#attempt(url, webhook.disableTLS, body, combined, idempotencyKey);
      if (combined.aborted || attempts > webhook.retries || !isRetryable(last)) break;
      // A 429's Retry-After is a floor: the endpoint said when it will take the call again.
      const retryAfterMs = last.kind === 'response' ? (last.retryAfterMs ?? 0) : 0;
      const delayMs = Math.max(exponentialDelay(attempts, this.#backoff), retryAfterMs);
      // A pause that would outlive the timeout only turns the real cause into "timed out".
      if (this.#clock.now() + delayMs >= deadlineAt) break;
      this.#logger.debug(
        { ...scope, attempt: attempts, delayMs, ...describeForLog(last) },
        'webhook attempt failed; retrying',
      );
      if (!(await this.#pause(delayMs, combined))) break;
    }

    if (last.kind === 'response') {
      const ok = last.status <= 202;
      // Redact before truncating, so a cut can never leave part of a secret behind.
      const body = redactWebhookUrl(last.body, webhook.url);
      return finish(ok, responseMessage(last.status, body, ok, attempts), attempts, last.status);
    }
    const cause = signal?.aborted
      ? 'cancelled before it completed'
      : deadline.aborted
        ? `no answer within the ${webhook.timeout} timeout`
        : last.code !== undefined && !last.message.includes(last.code)
          ? `${last.code}: ${last.message}`
          : last.message;
    return finish(false, `request failed: ${cause}${attemptsNote(attempts)}`, attempts);
  }

  async #attempt(
    url: URL,
    disableTLS: boolean,
    body: string,
    signal: AbortSignal,
    idempotencyKey: string | undefined,
  ): Promise<Attempt> {
    const agent = this.#agentFor(url, disableTLS);
    try {
      const response = await axios.request<Readable>({
        method: 'POST',
        url: url.href,
        data: body,
        headers: {
          'Content-Type': 'application/json',
          'User-Agent': `fledge/${version}`,
          ...(idempotencyKey === undefined ? {} : { 'Idempotency-Key': idempotencyKey }),
        },
        signal,
        ...(url.protocol === 'https:' ? { httpsAgent: agent } : { httpAgent: agent }),
        // A 3xx is reported, not followed: Flagger's receivers answer directly.
        maxRedirects: 0,
        responseType: 'stream',
        validateStatus: () => true,
      });
      const retryAfter: unknown = response.headers['retry-after'];
      const retryAfterMs =
        typeof retryAfter === 'string' ? parseRetryAfter(retryAfter, this.#clock.now()) : undefined;
      return {
        kind: 'response',
        status: response.status,
        body: await readPrefix(response.data, maxBodyBytes),
        ...(retryAfterMs !== undefined && { retryAfterMs }),
      };
    } catch (error) {
      const tlsLine = describeTlsFailure(error, url.host, WEBHOOK_TRUST_FIX);
      if (tlsLine !== undefined) return { kind: 'network', code: undefined, message: tlsLine };
      // Keep only code and message: axios errors carry the request config, URL included.
      if (axios.isAxiosError(error)) return { kind: 'network', code: error.code, message: error.message };
      return {
        kind: 'network',
        code: undefined,
        message: error instanceof Error ? error.message : String(error),
      };
    }
  }

  #agentFor(url: URL, disableTLS: boolean): http.Agent {
    const key = `${url.origin}|${disableTLS ? 'insecure' : 'verify'}`;
    let agent = this.#agents.get(key);
    if (agent === undefined) {
      agent =
        url.protocol === 'https:'
          ? new https.Agent({
              keepAlive: true,
              maxSockets: maxSocketsPerOrigin,
              rejectUnauthorized: !disableTLS,
            })
          : new http.Agent({ keepAlive: true, maxSockets: maxSocketsPerOrigin });
      this.#agents.set(key, agent);
    }
    return agent;
  }

  /** Waits `ms` on the clock; false when `signal` aborted first. */
  #pause(ms: number, signal: AbortSignal): Promise<boolean> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve(false);
      const onAbort = () => {
        timer.cancel();
        resolve(false);
      };
      const timer = this.#clock.setTimer(() => {
        signal.removeEventListener('abort', onAbort);
        resolve(true);
      }, ms);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}

function parseHookUrl(webhook: NormalizedWebhook): URL {
  let url: URL | undefined;
  try {
    url = new URL(webhook.url);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new Error(`webhook "${webhook.name}" url is not an absolute http:// or https:// URL`);
  }
  // User info becomes a Basic header, and keys ride in the query: an echo of either stays unwritten.
  knownSecrets.remember(webhook.url);
  return url;
}

function isRetryable(attempt: Attempt): boolean {
  if (attempt.kind === 'response') {
    return attempt.status === 429 || (attempt.status >= 500 && attempt.status !== 501);
  }
  return attempt.code !== undefined && transientNetworkCodes.has(attempt.code);
}

function responseMessage(status: number, body: string, ok: boolean, attempts: number): string {
  const excerpt = body.replace(/\s+/g, ' ').trim();
  let text: string;
  if (status >= 300 && status < 400) {
    text = `HTTP ${status}: redirects are not followed; point the webhook url at the final address`;
  } else if (excerpt === '') {
    text = ok ? `HTTP ${status}` : `HTTP ${status} with an empty body`;
  } else {
    text = excerpt;
  }
  return truncate(text) + (ok ? '' : attemptsNote(attempts));
}

function attemptsNote(attempts: number): string {
  return attempts > 1 ? ` (after ${attempts} attempts)` : '';
}

function truncate(text: string): string {
  return text.length <= maxMessageLength ? text : `${text.slice(0, maxMessageLength - 1)}…`;
}

function describeForLog(attempt: Attempt): Record<string, unknown> {
  return attempt.kind === 'response' ? { status: attempt.status } : { code: attempt.code };
}

/** Up to `limit` bytes of the body as text; a body cut short still leaves the status to judge by. */
async function readPrefix(stream: Readable, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream) {
      const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
      chunks.push(buffer);
      size += buffer.length;
      // Leaving the loop destroys the stream, so a huge body is never downloaded.
      if (size >= limit) break;
    }
  } catch {
    // Reset or deadline mid-body: keep what arrived.
  }
  return Buffer.concat(chunks).subarray(0, limit).toString('utf8');
}
