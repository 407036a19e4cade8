import { isNoData, type NoData } from './provider.ts';

// The verdict on one measured value. Four outcomes, kept apart on purpose:
// a value outside the range is a failed check; no data (an empty result or
// NaN) and an error (the store could not be asked or answered nonsense) are
// not failures, so the engine can halt instead of rolling back.

export const MeasurementOutcomes = ['pass', 'fail', 'noData', 'error'] as const;
export type MeasurementOutcome = (typeof MeasurementOutcomes)[number];

/** One metric measurement as the engine sees it. */
export interface Measurement {
  /** spec.analysis.metrics[].name */
  readonly name: string;
  /** The query as sent to the store; absent when it could not be built. */
  readonly query?: string;
  readonly outcome: MeasurementOutcome;
  /** The measured value; absent for noData, error, and infinite results. */
  readonly value?: number;
  /** One line for status, events and alerts: the value against the range, or what went wrong. */
  readonly message: string;
  /** RFC 3339 time the measurement finished. */
  readonly measuredAt: string;
}

export interface ThresholdRange {
  readonly min?: number;
  readonly max?: number;
}

export type Verdict = Pick<Measurement, 'outcome' | 'value' | 'message'>;

/** Judges a query result against thresholdRange: inside [min, max] passes, either bound may be open. */
export function judge(result: number | NoData, range: ThresholdRange | undefined): Verdict {
  if (isNoData(result)) return { outcome: 'noData', message: `no data: ${result.reason}` };
  const measured = Number.isFinite(result) ? { value: result } : {};
  const shown = formatValue(result);
  const min = range?.min;
  const max = range?.max;
  if (min === undefined && max === undefined) {
    return {
      outcome: 'error',
      ...measured,
      message: `measured ${shown}, but the metric has no thresholdRange to judge it: set thresholdRange.min, max or both`,
    };
  }
  if (min !== undefined && max !== undefined && min > max) {
    return {
      outcome: 'error',
      ...measured,
      message: `measured ${shown}, but thresholdRange.min ${min} is greater than max ${max}, so nothing could pass`,
    };
  }
  if (min !== undefined && result < min) {
    return { outcome: 'fail', ...measured, message: `${shown} is below the minimum ${min}` };
  }
  if (max !== undefined && result > max) {
    return { outcome: 'fail', ...measured, message: `${shown} is above the maximum ${max}` };
  }
  const bounds =
    min !== undefined && max !== undefined
      ? `is within [${min}, ${max}]`
      : min !== undefined
        ? `is at least the minimum ${min}`
        : `is at most the maximum ${max}`;
  return { outcome: 'pass', ...measured, message: `${shown} ${bounds}` };
}

/** Six significant digits: enough to compare with a threshold, short enough for a status line. */
export function formatValue(value: number): string {
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(Number(value.toPrecision(6)));
}
