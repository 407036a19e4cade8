import { createHash } from 'node:crypto';
import type { StoreContext } from './cluster.ts';
import { ProviderError, type MetricProvider, type ProviderConfig } from './provider.ts';
import type { ProviderFactory } from './store.ts';
import { metricStores } from './stores/index.ts';

export type { ProviderFactory } from './store.ts';

/** MetricTemplate spec.provider.type -> implementation, for the declared stores that have one. */
export const providerFactories: Readonly<Record<string, ProviderFactory>> = Object.fromEntries(
  metricStores.flatMap((store) => (store.factory ? [[store.type, store.factory]] : [])),
);

/** Builds a provider for config.type; a type without an implementation is a 'config' error naming the ones that have one. */
export function createProvider(
  config: ProviderConfig,
  factories: Readonly<Record<string, ProviderFactory>> = providerFactories,
  context: StoreContext = {},
): MetricProvider {
  const factory = Object.hasOwn(factories, config.type) ? factories[config.type] : undefined;
  if (!factory) {
    const declared = metricStores.some((store) => store.type === config.type);
    throw new ProviderError(
      'config',
      `${declared ? 'this version of Fledge cannot query' : 'unknown'} metric provider type "${config.type}" in spec.provider.type; known types: ${Object.keys(factories).join(', ')}`,
    );
  }
  return factory(config, context);
}

/**
 * One provider (and so one HTTP client with pooled connections) per distinct
 * config, kept for the life of the process and evicted least-recently-used.
 * Flagger built a new client on every tick; this keeps sockets warm instead.
 */
export class ProviderCache {
  readonly #entries = new Map<string, MetricProvider>();
  readonly #maxEntries: number;
  readonly #factories: Readonly<Record<string, ProviderFactory>>;
  readonly #context: StoreContext;

  constructor(
    options: {
      maxEntries?: number;
      factories?: Readonly<Record<string, ProviderFactory>>;
      context?: StoreContext;
    } = {},
  ) {
    this.#maxEntries = options.maxEntries ?? 64;
    this.#factories = options.factories ?? providerFactories;
    this.#context = options.context ?? {};
  }

  providerFor(config: ProviderConfig): MetricProvider {
    const key = cacheKey(config);
    const cached = this.#entries.get(key);
    if (cached) {
      // Re-insert to mark it most recently used.
      this.#entries.delete(key);
      this.#entries.set(key, cached);
      return cached;
    }
    const provider = createProvider(config, this.#factories, this.#context);
    this.#entries.set(key, provider);
    if (this.#entries.size > this.#maxEntries) {
      const [oldestKey, oldest] = this.#entries.entries().next().value as [string, MetricProvider];
      this.#entries.delete(oldestKey);
      oldest.close();
    }
    return provider;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Closes every provider; for shutdown. */
  close(): void {
    for (const provider of this.#entries.values()) provider.close();
    this.#entries.clear();
  }
}

// Hashed so credentials are not kept as readable map keys.
function cacheKey(config: ProviderConfig): string {
  return createHash('sha256').update(canonicalJson(config)).digest('hex');
}

// JSON with object keys sorted, so equal configs give equal keys whatever their key order.
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
