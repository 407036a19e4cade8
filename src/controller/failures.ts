import { ProviderError } from '../analysis/index.ts';
import { normalizeKubeError } from '../kube/errors.ts';
import { RouterConfigError } from '../routers/index.ts';
import { WorkloadConfigError } from '../workloads/index.ts';
import type { RefusalReason } from './refusals.ts';

// The error taxonomy of a reconcile. Terminal errors are ones retrying cannot fix
// until the Canary or an object it names changes: the Canary gets Ready=False with
// the reason, one Warning event, and a long requeue instead of back-off retries.
// Everything else is transient and retried with back-off.

export { RefusalReasons, type RefusalReason } from './refusals.ts';

/** An error retrying cannot fix: the Canary is refused with this reason until something changes. */
export class TerminalError extends Error {
  readonly reason: RefusalReason;

  constructor(reason: RefusalReason, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'TerminalError';
    this.reason = reason;
  }
}

export type Classified =
  | { terminal: true; reason: RefusalReason; message: string }
  | { terminal: false; reason: string; message: string };

/** Terminal with a refusal reason, or transient with the kind of failure (a metric label). */
export function classifyError(err: unknown): Classified {
  if (err instanceof TerminalError) return { terminal: true, reason: err.reason, message: err.message };
  if (err instanceof RouterConfigError) return { terminal: true, reason: err.reason, message: err.message };
  if (err instanceof WorkloadConfigError) return { terminal: true, reason: err.reason, message: err.message };
  if (err instanceof ProviderError && err.kind === 'config')
    return { terminal: true, reason: 'MetricProviderUnavailable', message: err.message };
  const kube = normalizeKubeError(err);
  return { terminal: false, reason: transientReason(kube.reason, kube.code), message: kube.message };
}

/** A bounded label for the transient-error metric. */
function transientReason(reason: string, code: number | undefined): string {
  if (reason === 'Conflict') return 'conflict';
  if (reason === 'Timeout' || reason === 'ServerTimeout' || reason === 'Aborted') return 'timeout';
  if (reason === 'NetworkError') return 'network';
  if (reason === 'TooManyRequests') return 'throttled';
  if (code !== undefined && code >= 500) return 'server_error';
  if (reason === 'NotFound') return 'not_found';
  if (reason === 'Forbidden' || reason === 'Unauthorized') return 'forbidden';
  return 'other';
}

export const TransientReasons = [
  'conflict',
  'timeout',
  'network',
  'throttled',
  'server_error',
  'not_found',
  'forbidden',
  'other',
] as const;
