/** Kubernetes MicroTime (Lease renewTime, Event eventTime): RFC 3339 with exactly six fractional digits. */
export function microTime(epochMs: number): string {
  return new Date(epochMs).toISOString().replace(/Z$/, '000Z');
}

/** Parses an RFC 3339 timestamp from the API to epoch ms; undefined when absent or malformed. */
export function parseApiTime(value: string | null | undefined): number | undefined {
  if (!value) return undefined;
  const parsed = Date.parse(value);
  return Number.isNaN(parsed) ? undefined : parsed;
}
