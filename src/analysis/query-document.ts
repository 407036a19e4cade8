import { parse as parseYaml } from 'yaml';
import { ProviderError } from './provider.ts';

// Stores whose query describes a request rather than being one (web, job)
// take it as a small YAML (or JSON) mapping with a fixed set of keys.

/**
 * The query as a mapping holding only `keys`; `store` and `shape` ("a mapping
 * with ...") word the bad-query errors.
 */
export function queryDocument(
  query: string,
  store: string,
  keys: readonly string[],
  shape: string,
): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = parseYaml(query);
  } catch (err) {
    throw new ProviderError(
      'bad-query',
      `the ${store} query is not YAML: ${(err as Error).message.split('\n')[0]}`,
    );
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new ProviderError('bad-query', `the ${store} query must be ${shape}`);
  }
  const extra = Object.keys(doc).filter((key) => !keys.includes(key));
  if (extra.length > 0) {
    throw new ProviderError(
      'bad-query',
      `the ${store} query has unknown keys ${extra.join(', ')}; it takes ${keys.join(', ')}`,
    );
  }
  return doc as Record<string, unknown>;
}
