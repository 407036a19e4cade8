import { parseGoDuration } from '../api/index.ts';

// Canary intervals are Go durations (Flagger's syntax: 30s, 1.5m, 1h30m);
// PromQL range selectors take Prometheus durations (no fractions, no ns/us).

/**
 * The Prometheus form of a Go duration (1.5m -> 1m30s), or undefined when it
 * is not a Go duration, is zero, or is not a whole number of milliseconds.
 */
export function goDurationToPrometheus(value: string): string | undefined {
  let total: number;
  try {
    total = parseGoDuration(value);
  } catch {
    return undefined;
  }
  // Rounding absorbs float noise such as 0.1h; a genuine fraction of a millisecond stays and is refused.
  const ms = Math.round(total * 1e6) / 1e6;
  if (ms <= 0 || !Number.isInteger(ms)) return undefined;
  const parts: [number, string][] = [
    [Math.floor(ms / 3_600_000), 'h'],
    [Math.floor(ms / 60_000) % 60, 'm'],
    [Math.floor(ms / 1000) % 60, 's'],
    [ms % 1000, 'ms'],
  ];
  return parts
    .filter(([n]) => n > 0)
    .map(([n, unit]) => `${n}${unit}`)
    .join('');
}
