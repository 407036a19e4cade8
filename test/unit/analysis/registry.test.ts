import { describe, expect, it } from '@jest/globals';
import {
  createProvider,
  ProviderCache,
  providerFactories,
  type ProviderFactory,
} from '../../../src/analysis/registry.ts';
import { ProviderError, type MetricProvider, type ProviderConfig } from '../../../src/analysis/provider.ts';

const base: ProviderConfig = { type: 'fake', address: 'http://a', timeoutMs: 1000 };

// A factory that counts what it builds and which providers were closed.
function countingFactory() {
  const built: ProviderConfig[] = [];
  const closed: ProviderConfig[] = [];
  const factory: ProviderFactory = (config) => {
    built.push(config);
    const provider: MetricProvider = { query: async () => built.length, close: () => closed.push(config) };
    return provider;
  };
  return { built, closed, factories: { fake: factory } };
}

describe('createProvider', () => {
  it('names the unknown type and the known ones', () => {
    let caught: unknown;
    try {
      createProvider({ ...base, type: 'statsd' });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ProviderError);
    expect((caught as ProviderError).kind).toBe('config');
    expect((caught as ProviderError).message).toBe(
      `unknown metric provider type "statsd" in spec.provider.type; known types: ${Object.keys(providerFactories).join(', ')}`,
    );
  });

  it('does not treat Object.prototype members as types', () => {
    expect(() => createProvider({ ...base, type: 'toString' })).toThrow(
      /unknown metric provider type "toString"/,
    );
  });

  it('builds a prometheus provider', () => {
    const p = createProvider({ ...base, type: 'prometheus' });
    expect(typeof p.query).toBe('function');
    p.close();
  });
});

describe('ProviderCache', () => {
  it('returns the same provider for an equal config, whatever the key order', () => {
    const { built, factories } = countingFactory();
    const cache = new ProviderCache({ factories });
    const a = cache.providerFor({
      ...base,
      headers: { A: '1', B: '2' },
      credentials: { type: 'bearer', token: 't' },
    });
    const b = cache.providerFor({
      timeoutMs: 1000,
      credentials: { token: 't', type: 'bearer' },
      address: 'http://a',
      type: 'fake',
      headers: { B: '2', A: '1' },
    });
    expect(b).toBe(a);
    expect(built).toHaveLength(1);
  });

  it('builds a separate provider when address, credentials, TLS or timeout differ', () => {
    const { built, factories } = countingFactory();
    const cache = new ProviderCache({ factories });
    cache.providerFor(base);
    cache.providerFor({ ...base, address: 'http://b' });
    cache.providerFor({ ...base, credentials: { type: 'basic', username: 'u', password: 'p' } });
    cache.providerFor({ ...base, credentials: { type: 'basic', username: 'u', password: 'q' } });
    cache.providerFor({ ...base, tls: { insecureSkipVerify: true } });
    cache.providerFor({ ...base, timeoutMs: 5 });
    expect(built).toHaveLength(6);
    expect(cache.size).toBe(6);
  });

  it('evicts and closes the least recently used provider beyond its size', () => {
    const { closed, factories } = countingFactory();
    const cache = new ProviderCache({ factories, maxEntries: 2 });
    const a = { ...base, address: 'http://a' };
    const b = { ...base, address: 'http://b' };
    const c = { ...base, address: 'http://c' };
    cache.providerFor(a);
    cache.providerFor(b);
    cache.providerFor(a); // a is now the most recent
    cache.providerFor(c);
    expect(closed).toEqual([b]);
    expect(cache.size).toBe(2);
    cache.close();
    expect(closed).toEqual([b, a, c]);
    expect(cache.size).toBe(0);
  });
});
