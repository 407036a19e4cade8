/**
 * A deep copy of JSON data (what the apiserver serves and Fledge's schemas describe), with JSON's
 * meaning: members whose value is undefined are left out. Every cached read and every decision
 * copies objects, and this is several times cheaper than structuredClone or a JSON round trip.
 */
export function cloneJson<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item: unknown) => cloneJson(item)) as T;
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const member = (value as Record<string, unknown>)[key];
    if (member !== undefined) copy[key] = cloneJson(member);
  }
  return copy as T;
}
