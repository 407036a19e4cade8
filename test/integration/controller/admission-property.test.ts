import { beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { Canary } from '../../../src/api/index.ts';
import { kubectl } from '../../harness/control-plane.ts';
import { createTestNamespace, integrationEnv } from '../../harness/env.ts';
import { canaryArbitrary, operatorOutcome, type Outcome } from '../../unit/controller/generated-canaries.ts';

// A seeded sample of generated Canaries sent to the real apiserver, whose CRD schema and
// CEL rules decide admission. Every Canary it admits must leave the operator's way in
// (normalisation, preflight, first decision) as a refusal or a run, never as a crash.
// FLEDGE_PROPERTY_SEED replays a sample.

const seed = Number(process.env.FLEDGE_PROPERTY_SEED ?? Date.now() % 2 ** 31);
const sampleSize = 40;

describe('generated Canaries on the real apiserver', () => {
  const { kubeconfigPath } = integrationEnv();
  let namespace: string;

  beforeAll(async () => {
    namespace = await createTestNamespace('admission-property');
  }, 60_000);

  it('are rejected at admission, refused, or run; none crashes the operator', async () => {
    console.log(`generated Canaries: seed ${seed} (FLEDGE_PROPERTY_SEED=${seed} replays this sample)`);
    const sample = fc.sample(canaryArbitrary(namespace, fc.constantFrom('web', 'api')), {
      seed,
      numRuns: sampleSize,
    });
    const seen: Record<Outcome, number> = { rejected: 0, invalid: 0, refused: 0, runs: 0 };
    const rejectedAt = new Map<string, number>();
    for (const [i, object] of sample.entries()) {
      let admitted: Canary;
      try {
        const out = await kubectl(
          kubeconfigPath,
          ['create', '--dry-run=server', '-o', 'json', '-f', '-'],
          JSON.stringify(object),
        );
        admitted = JSON.parse(out) as Canary;
      } catch (err) {
        // The apiserver names what it refused; anything else is a broken test set-up.
        const message = (err as Error).message;
        expect(message).toMatch(/Invalid value|Required value|Unsupported value|spec\./);
        const field = /spec\.[\w.[\]]+/.exec(message)?.[0] ?? 'other';
        rejectedAt.set(field, (rejectedAt.get(field) ?? 0) + 1);
        seen.rejected++;
        continue;
      }
      const outcome = await operatorOutcome({
        ...admitted,
        metadata: { ...admitted.metadata, uid: `u-${i}` },
      }).catch((err: unknown) => {
        throw new Error(`seed ${seed}, Canary ${i} crashed the operator: ${JSON.stringify(object)}`, {
          cause: err,
        });
      });
      seen[outcome]++;
    }
    console.log(
      `generated Canaries: ${JSON.stringify(seen)}; rejected at ${JSON.stringify([...rejectedAt])}`,
    );
    expect(seen.rejected).toBeGreaterThan(0);
    expect(sampleSize - seen.rejected).toBeGreaterThan(0);
  }, 180_000);
});
