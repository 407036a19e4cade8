import { describe, expect, it } from '@jest/globals';
import {
  KeyedBackoff,
  controllerBackoff,
  exponentialDelay,
  parseRetryAfter,
  withJitter,
} from '../../../src/runtime/backoff.ts';
import { keyOf, objectKey, parseObjectKey } from '../../../src/runtime/keys.ts';

describe('back-off', () => {
  it('doubles from the base up to the cap, like controller-runtime', () => {
    expect([1, 2, 3, 4].map((failures) => exponentialDelay(failures, controllerBackoff))).toEqual([
      5, 10, 20, 40,
    ]);
    expect(exponentialDelay(30, controllerBackoff)).toBe(1_000_000);
    expect(exponentialDelay(5_000, controllerBackoff)).toBe(1_000_000);
    expect(exponentialDelay(0, controllerBackoff)).toBe(0);
  });

  it('counts failures per key and forgets them on success', () => {
    const backoff = new KeyedBackoff({ baseMs: 100, maxMs: 1_000 });
    expect([backoff.nextDelay('a'), backoff.nextDelay('a'), backoff.nextDelay('b')]).toEqual([100, 200, 100]);
    backoff.forget('a');
    expect(backoff.failures('a')).toBe(0);
    expect(backoff.nextDelay('a')).toBe(100);
  });

  it('jitters upwards only, within the cap', () => {
    expect(withJitter(1_000, 0.5, () => 0)).toBe(1_000);
    expect(withJitter(1_000, 0.5, () => 0.5)).toBe(1_250);
    expect(withJitter(1_000, 0.5, () => 0.99, 1_100)).toBe(1_100);
  });

  it('rejects nonsense policies', () => {
    expect(() => new KeyedBackoff({ baseMs: 0, maxMs: 10 })).toThrow(/0 < baseMs <= maxMs/);
    expect(() => new KeyedBackoff({ baseMs: 10, maxMs: 5 })).toThrow(/baseMs=10 maxMs=5/);
  });
});

describe('object keys', () => {
  it('round-trips namespaced and cluster-scoped keys', () => {
    expect(objectKey('apps', 'podinfo')).toBe('apps/podinfo');
    expect(objectKey('', 'node-1')).toBe('node-1');
    expect(parseObjectKey('apps/podinfo')).toEqual({ namespace: 'apps', name: 'podinfo' });
    expect(parseObjectKey('node-1')).toEqual({ namespace: '', name: 'node-1' });
    expect(keyOf({ metadata: { namespace: 'a', name: 'b' } })).toBe('a/b');
  });

  it('rejects malformed keys', () => {
    for (const bad of ['', 'a/b/c', '/b', 'a/'])
      expect(() => parseObjectKey(bad)).toThrow(/is not a work-queue key/);
    expect(() => keyOf({ metadata: {} })).toThrow(/no metadata.name/);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.UTC(2025, 0, 2, 3, 4, 5);
  it('reads delta-seconds, fractional seconds and HTTP dates', () => {
    expect(parseRetryAfter('7', now)).toBe(7000);
    expect(parseRetryAfter(' 0.25 ', now)).toBe(250);
    expect(parseRetryAfter(new Date(now + 30_000).toUTCString(), now)).toBe(30_000);
    expect(parseRetryAfter(new Date(now - 30_000).toUTCString(), now)).toBe(0);
  });

  it('returns undefined for absent or garbled values', () => {
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('-5', now)).toBeUndefined();
  });
});
