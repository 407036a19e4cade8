import { describe, expect, it } from '@jest/globals';
import { TokenBucket } from '../../../src/kube/rate-limit.ts';

describe('TokenBucket', () => {
  it('lets a burst through at once, then spaces requests at the rate', () => {
    let now = 0;
    const bucket = new TokenBucket({ qps: 10, burst: 3 }, () => now);
    expect([bucket.reserve(), bucket.reserve(), bucket.reserve()]).toEqual([0, 0, 0]);
    // Out of tokens: each next one waits its turn, 100 ms apart at 10 per second.
    expect(bucket.reserve()).toBeCloseTo(100);
    expect(bucket.reserve()).toBeCloseTo(200);
    // A quiet spell refills the bucket, never beyond the burst.
    now = 10_000;
    expect([bucket.reserve(), bucket.reserve(), bucket.reserve()]).toEqual([0, 0, 0]);
    expect(bucket.reserve()).toBeGreaterThan(0);
  });

  it('refuses a limit that would stop every request', () => {
    expect(() => new TokenBucket({ qps: 0, burst: 1 })).toThrow(/qps > 0/);
    expect(() => new TokenBucket({ qps: 1, burst: 0 })).toThrow(/burst >= 1/);
  });

  it('gives up waiting when the request is aborted', async () => {
    const bucket = new TokenBucket({ qps: 0.001, burst: 1 });
    await bucket.take();
    await expect(bucket.take(AbortSignal.timeout(10))).rejects.toThrow();
  });
});
