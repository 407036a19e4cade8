import { GO_DURATION_PATTERN } from './schema-helpers.ts';

const UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};
const WHOLE = new RegExp(GO_DURATION_PATTERN);
const PART = /([0-9]+(?:[.][0-9]+)?)(ns|us|µs|ms|s|m|h)/g;

/**
 * Milliseconds in a Go duration string (`1m30s` -> 90000), the syntax the
 * schema admits. Throws an error naming `field` for anything else.
 */
export function parseGoDuration(text: string, field = 'duration'): number {
  if (!WHOLE.test(text)) {
    throw new Error(`${field}: "${text}" is not a Go duration such as 30s, 1m or 1h30m`);
  }
  let total = 0;
  for (const [, amount, unit] of text.matchAll(PART)) {
    total += Number(amount) * (UNIT_MS[unit as string] as number);
  }
  return total;
}
