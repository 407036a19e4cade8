/**
 * One shape for every failure a request to the apiserver can end in: API responses,
 * watch failures, timeouts and network errors. It never carries headers (they
 * hold bearer tokens) nor the raw response.
 */
export interface KubeError {
  /** HTTP status when the apiserver answered. */
  code?: number;
  /**
   * The apiserver's Status reason (NotFound, Conflict, AlreadyExists, Invalid, ...),
   * or one of Timeout / Aborted / NetworkError / Unknown when no Status was received.
   */
  reason: string;
  message: string;
  /** Seconds the apiserver asked us to wait (429 and some 5xx), when it said. */
  retryAfterSeconds?: number;
  /** Per-field reasons of an Invalid answer (Status details.causes). */
  causes?: { field?: string; message?: string }[];
}

/** An error Fledge itself raises in KubeError terms (e.g. a failed JSON-patch guard reported as a Conflict). */
export class KubeRequestError extends Error implements KubeError {
  readonly code: number | undefined;
  readonly reason: string;
  readonly retryAfterSeconds: number | undefined;
  readonly causes: KubeError['causes'];

  constructor(details: KubeError, options?: { cause?: unknown }) {
    super(details.message, options);
    this.name = 'KubeRequestError';
    this.code = details.code;
    this.reason = details.reason;
    this.retryAfterSeconds = details.retryAfterSeconds;
    this.causes = details.causes;
  }
}

/**
 * An answer outside 2xx: its status, its body (a Status, usually) and the headers worth keeping.
 */
export class ApiResponseError extends Error {
  readonly code: number;
  readonly body: unknown;
  readonly headers: Record<string, string>;

  constructor(code: number, request: string, body: unknown, headers: Record<string, string>) {
    super(`${request}: HTTP ${code}`);
    this.name = 'ApiResponseError';
    this.code = code;
    this.body = body;
    this.headers = headers;
  }
}

/** Socket and undici failures worth retrying: the request may not have reached the server. */
const networkErrorCodes = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
]);

const reasonByStatus: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  406: 'NotAcceptable',
  409: 'Conflict',
  410: 'Expired',
  413: 'RequestEntityTooLarge',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

const retriableStatus = new Set([409, 429, 500, 502, 503, 504]);

export function normalizeKubeError(error: unknown): KubeError {
  if (error instanceof KubeRequestError) {
    const normalized: KubeError = { reason: error.reason, message: error.message };
    if (error.code !== undefined) normalized.code = error.code;
    if (error.causes !== undefined) normalized.causes = error.causes;
    if (error.retryAfterSeconds !== undefined) normalized.retryAfterSeconds = error.retryAfterSeconds;
    return normalized;
  }
  if (isKubeError(error)) return error;
  if (error instanceof ApiResponseError) return fromApiResponse(error.code, error.body, error.headers);
  if (error instanceof Error || isRecord(error)) {
    const statusCode = numberField(error, 'statusCode');
    if (statusCode !== undefined) {
      // A watch that got a non-200 response: only the status line is available.
      return { code: statusCode, reason: reasonFor(statusCode), message: messageOf(error) };
    }
  }
  for (const cause of causeChain(error)) {
    const name = stringField(cause, 'name');
    if (name === 'TimeoutError') return { reason: 'Timeout', message: 'request timed out' };
    if (name === 'AbortError') return { reason: 'Aborted', message: 'request aborted' };
    const code = stringField(cause, 'code');
    if (code !== undefined && (networkErrorCodes.has(code) || code.startsWith('UND_ERR_'))) {
      return { reason: 'NetworkError', message: `${code}: ${messageOf(cause)}` };
    }
  }
  return { reason: 'Unknown', message: messageOf(error) };
}

export function isNotFound(error: unknown): boolean {
  return normalizeKubeError(error).reason === 'NotFound';
}

/** An optimistic-concurrency clash: the object changed since it was read. */
export function isConflict(error: unknown): boolean {
  return normalizeKubeError(error).reason === 'Conflict';
}

export function isAlreadyExists(error: unknown): boolean {
  return normalizeKubeError(error).reason === 'AlreadyExists';
}

/**
 * True when the same request may succeed later: network failures, timeouts,
 * throttling, server errors and conflicts (after re-reading the object).
 * False for requests that are wrong as sent (invalid, forbidden, not found, ...).
 */
export function isRetriable(error: unknown): boolean {
  const normalized = normalizeKubeError(error);
  if (normalized.reason === 'NetworkError' || normalized.reason === 'Timeout') return true;
  if (normalized.reason === 'ServerTimeout' || normalized.reason === 'TooManyRequests') return true;
  if (normalized.reason === 'AlreadyExists') return false;
  return normalized.code !== undefined && retriableStatus.has(normalized.code);
}

/** One line for logs and status messages. */
export function describeKubeError(error: unknown): string {
  const { code, reason, message } = normalizeKubeError(error);
  return code === undefined ? `${reason}: ${message}` : `${reason} (${code}): ${message}`;
}

function fromApiResponse(
  code: number,
  body: unknown,
  headers: Record<string, string> | undefined,
): KubeError {
  const status = parseStatus(body);
  const reason = status?.reason || reasonFor(code);
  const message =
    status?.message ||
    (typeof body === 'string' && body.trim() ? truncate(body.trim(), 512) : `HTTP ${code}`);
  const result: KubeError = { code, reason, message };
  const retryAfter = retryAfterSeconds(status, headers);
  if (retryAfter !== undefined) result.retryAfterSeconds = retryAfter;
  if (status?.causes?.length) result.causes = status.causes;
  return result;
}

interface StatusBody {
  reason?: string;
  message?: string;
  details?: { retryAfterSeconds?: number };
  causes?: { field?: string; message?: string }[];
}

/** client-node 2.x hands over the raw response text for non-2xx answers; older paths give an object. */
function parseStatus(body: unknown): StatusBody | undefined {
  let parsed: unknown = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      return undefined;
    }
  }
  if (!isRecord(parsed)) return undefined;
  const details = isRecord(parsed.details) ? parsed.details : undefined;
  const status: StatusBody = {};
  if (typeof parsed.reason === 'string') status.reason = parsed.reason;
  if (typeof parsed.message === 'string') status.message = parsed.message;
  if (details && typeof details.retryAfterSeconds === 'number') {
    status.details = { retryAfterSeconds: details.retryAfterSeconds };
  }
  if (details && Array.isArray(details.causes)) {
    status.causes = details.causes.filter(isRecord).map((cause) => ({
      ...(typeof cause.field === 'string' ? { field: cause.field } : {}),
      ...(typeof cause.message === 'string' ? { message: cause.message } : {}),
    }));
  }
  return status;
}

function retryAfterSeconds(
  status: StatusBody | undefined,
  headers: Record<string, string> | undefined,
): number | undefined {
  if (status?.details?.retryAfterSeconds !== undefined) return status.details.retryAfterSeconds;
  const header = headers?.['retry-after'] ?? headers?.['Retry-After'];
  if (header === undefined) return undefined;
  const seconds = Number(header);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds : undefined;
}

function reasonFor(code: number): string {
  return reasonByStatus[code] ?? (code >= 500 ? 'InternalError' : 'Unknown');
}

function isKubeError(value: unknown): value is KubeError {
  return (
    isRecord(value) &&
    !(value instanceof Error) &&
    typeof value.reason === 'string' &&
    typeof value.message === 'string' &&
    Object.keys(value).every((key) =>
      ['code', 'reason', 'message', 'retryAfterSeconds', 'causes'].includes(key),
    )
  );
}

function* causeChain(error: unknown): Generator<unknown> {
  const seen = new Set<unknown>();
  let current: unknown = error;
  while (current !== undefined && current !== null && !seen.has(current)) {
    seen.add(current);
    yield current;
    current =
      isRecord(current) || current instanceof Error ? (current as { cause?: unknown }).cause : undefined;
  }
}

function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  if (isRecord(error) && typeof error.message === 'string') return error.message;
  return String(error);
}

function stringField(value: unknown, field: string): string | undefined {
  if (!isRecord(value) && !(value instanceof Error)) return undefined;
  const found = (value as Record<string, unknown>)[field];
  return typeof found === 'string' ? found : undefined;
}

function numberField(value: unknown, field: string): number | undefined {
  const found = (value as Record<string, unknown>)[field];
  return typeof found === 'number' ? found : undefined;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}
