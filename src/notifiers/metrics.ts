import { Counter, type Registry } from 'prom-client';
import { AlertProviderTypes } from '../api/index.ts';

export const FailureReasons = ['rejected', 'exhausted', 'rate-limited', 'invalid'] as const;
/**
 * rejected: the service refused the message (4xx, or an error flag in a 2xx reply);
 * exhausted: every attempt failed with a retryable error; rate-limited: Retry-After asked for
 * longer than the dispatcher will wait; invalid: the payload could not be built.
 */
export type FailureReason = (typeof FailureReasons)[number];

export interface AlertMetrics {
  sent: Counter<'provider'>;
  failed: Counter<'provider' | 'reason'>;
  retried: Counter<'provider'>;
  dropped: Counter<'provider'>;
  deduplicated: Counter<'provider'>;
}

/** Registers the alert delivery counters, labelled by provider type (never by destination URL). */
export function createAlertMetrics(registry: Registry): AlertMetrics {
  const registers = [registry];
  const metrics: AlertMetrics = {
    sent: new Counter({
      name: 'fledge_alerts_sent_total',
      help: 'Alerts accepted by the chat service.',
      labelNames: ['provider'],
      registers,
    }),
    failed: new Counter({
      name: 'fledge_alerts_failed_total',
      help: 'Alerts given up on, by reason.',
      labelNames: ['provider', 'reason'],
      registers,
    }),
    retried: new Counter({
      name: 'fledge_alert_retries_total',
      help: 'Delivery attempts repeated after a retryable failure or a 429.',
      labelNames: ['provider'],
      registers,
    }),
    dropped: new Counter({
      name: 'fledge_alerts_dropped_total',
      help: 'Alerts discarded because a destination queue was full or the dispatcher was closing.',
      labelNames: ['provider'],
      registers,
    }),
    deduplicated: new Counter({
      name: 'fledge_alerts_deduplicated_total',
      help: 'Alerts suppressed as repeats of one already sent to the same destination.',
      labelNames: ['provider'],
      registers,
    }),
  };
  // Start every series at 0 so rate() and absence alerts work before the first alert.
  for (const provider of AlertProviderTypes) {
    metrics.sent.inc({ provider }, 0);
    metrics.retried.inc({ provider }, 0);
    metrics.dropped.inc({ provider }, 0);
    metrics.deduplicated.inc({ provider }, 0);
    for (const reason of FailureReasons) metrics.failed.inc({ provider, reason }, 0);
  }
  return metrics;
}
