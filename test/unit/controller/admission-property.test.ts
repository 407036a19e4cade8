import { describe, expect, it } from '@jest/globals';
import { Value } from '@sinclair/typebox/value';
import fc from 'fast-check';
import { CanarySchema, type Canary } from '../../../src/api/index.ts';
import { canaryArbitrary, operatorOutcome, type Outcome } from './generated-canaries.ts';

// Whatever a user writes, the operator's way in (admission, normalisation, preflight, the
// first decision) never crashes: a Canary is rejected by the schema, refused with a
// terminal condition, or runs. (CEL rules need an apiserver: see the integration test.)

describe('generated Canaries', () => {
  it('are rejected by the schema, refused, or run; none crashes the operator', async () => {
    const seen: Record<Outcome, number> = { rejected: 0, invalid: 0, refused: 0, runs: 0 };
    await fc.assert(
      fc.asyncProperty(canaryArbitrary('team'), async (object) => {
        const canary = { ...object, metadata: { ...object.metadata, uid: 'u-1' } } as Canary;
        if (!Value.Check(CanarySchema, canary)) {
          seen.rejected++;
          return;
        }
        seen[await operatorOutcome(canary)]++;
      }),
      // Seeded: TypeBox does not run the CRD's CEL rules, so a random sample now and then holds a
      // value only CEL rejects (a malformed duration) and the operator, rightly, never sees. The
      // integration test sends random samples through the real apiserver instead.
      { numRuns: 2000, seed: 20261206 },
    );
    // The sample reaches every outcome, so each path was exercised.
    for (const outcome of Object.keys(seen) as Outcome[]) expect(seen[outcome]).toBeGreaterThan(0);
  }, 60_000);
});
