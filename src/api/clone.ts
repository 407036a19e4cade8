/**
 * A deep copy of JSON data (what the apiserver serves and Fledge's schemas describe), with JSON's
 * meaning: members whose value is undefined are left out, and -0 becomes 0. Every cached read and every decision
 * copies objects, and this is several times cheaper than structuredClone or a JSON round trip.
 */
export function cloneJson<T>(value: T): T {
  // `=== 0` holds for -0 too; JSON writes it as 0.
  if (value === null || typeof value !== 'object') return (value === 0 ? 0 : value) as T;
  if (Array.isArray(value)) return value.map((item: unknown) => cloneJson(item)) as T;
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const member = (value as Record<string, unknown>)[key];
    if (member === undefined) continue;
    // An own "__proto__" member (a label key may be one) must stay data, not set the copy's prototype.
    if (key === '__proto__') {
      Object.defineProperty(copy, key, {
        value: cloneJson(member),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    } else copy[key] = cloneJson(member);
  }
  return copy as T;
}
