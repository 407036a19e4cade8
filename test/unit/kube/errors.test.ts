import { describe, expect, it } from '@jest/globals';
import {
  ApiResponseError,
  KubeRequestError,
  describeKubeError,
  isAlreadyExists,
  isConflict,
  isNotFound,
  isRetriable,
  normalizeKubeError,
} from '../../../src/kube/errors.ts';

function apiException(code: number, body: unknown, headers: Record<string, string> = {}) {
  return new ApiResponseError(code, 'Unsuccessful HTTP Request', body, headers);
}

const statusBody = (code: number, reason: string, message: string, details?: object) =>
  JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message, details });

describe('normalizeKubeError', () => {
  it('reads reason and message from the raw Status text client-node 2.x leaves in the body', () => {
    const error = apiException(409, statusBody(409, 'AlreadyExists', 'configmaps "x" already exists'), {
      authorization: 'Bearer secret',
    });
    expect(normalizeKubeError(error)).toEqual({
      code: 409,
      reason: 'AlreadyExists',
      message: 'configmaps "x" already exists',
    });
    expect(isAlreadyExists(error)).toBe(true);
    expect(isConflict(error)).toBe(false);
    expect(JSON.stringify(normalizeKubeError(error))).not.toContain('secret');
  });

  it('tells a Conflict from an AlreadyExists although both are 409', () => {
    const error = apiException(409, statusBody(409, 'Conflict', 'the object has been modified'));
    expect(isConflict(error)).toBe(true);
    expect(isAlreadyExists(error)).toBe(false);
    expect(isRetriable(error)).toBe(true);
  });

  it('accepts an already-parsed Status body', () => {
    const error = apiException(404, { kind: 'Status', reason: 'NotFound', message: 'leases "x" not found' });
    expect(isNotFound(error)).toBe(true);
    expect(normalizeKubeError(error).message).toBe('leases "x" not found');
  });

  it('falls back to the HTTP status when the body is not a Status', () => {
    expect(normalizeKubeError(apiException(503, '<html>upstream down</html>'))).toEqual({
      code: 503,
      reason: 'ServiceUnavailable',
      message: '<html>upstream down</html>',
    });
    expect(normalizeKubeError(apiException(502, ''))).toEqual({
      code: 502,
      reason: 'InternalError',
      message: 'HTTP 502',
    });
  });

  it('keeps the retry delay from Status details or the Retry-After header', () => {
    const throttled = apiException(
      429,
      statusBody(429, 'TooManyRequests', 'slow down', { retryAfterSeconds: 3 }),
    );
    expect(normalizeKubeError(throttled).retryAfterSeconds).toBe(3);
    expect(isRetriable(throttled)).toBe(true);
    const header = apiException(429, 'Too many requests', { 'retry-after': '7' });
    expect(normalizeKubeError(header).retryAfterSeconds).toBe(7);
  });

  it('reads the status code of a failed watch', () => {
    const error = Object.assign(new Error('Gone'), { statusCode: 410 });
    expect(normalizeKubeError(error)).toEqual({ code: 410, reason: 'Expired', message: 'Gone' });
    expect(normalizeKubeError(Object.assign(new Error('Forbidden'), { statusCode: 403 })).reason).toBe(
      'Forbidden',
    );
  });

  it('recognises timeouts and aborts', () => {
    const timeout = new DOMException('The operation was aborted due to timeout', 'TimeoutError');
    expect(normalizeKubeError(timeout)).toEqual({ reason: 'Timeout', message: 'request timed out' });
    expect(isRetriable(timeout)).toBe(true);
    expect(normalizeKubeError(new DOMException('aborted', 'AbortError')).reason).toBe('Aborted');
  });

  it('finds socket and undici codes in the cause chain of fetch failures', () => {
    const reset = new TypeError('fetch failed', {
      cause: Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }),
    });
    expect(normalizeKubeError(reset)).toEqual({
      reason: 'NetworkError',
      message: 'ECONNRESET: read ECONNRESET',
    });
    expect(isRetriable(reset)).toBe(true);
    const socket = new TypeError('fetch failed', {
      cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }),
    });
    expect(normalizeKubeError(socket).reason).toBe('NetworkError');
  });

  it('does not retry requests that are wrong as sent', () => {
    for (const [code, reason] of [
      [400, 'BadRequest'],
      [403, 'Forbidden'],
      [404, 'NotFound'],
      [422, 'Invalid'],
    ] as const) {
      expect(isRetriable(apiException(code, statusBody(code, reason, 'no')))).toBe(false);
    }
    expect(isRetriable(new Error('something else'))).toBe(false);
  });

  it('passes its own KubeRequestError through', () => {
    const error = new KubeRequestError({ code: 409, reason: 'Conflict', message: 'changed' });
    expect(isConflict(error)).toBe(true);
    expect(describeKubeError(error)).toBe('Conflict (409): changed');
  });

  it('describes unknown errors by their message', () => {
    expect(describeKubeError(new Error('weird'))).toBe('Unknown: weird');
    expect(normalizeKubeError('plain string').message).toBe('plain string');
  });
});
