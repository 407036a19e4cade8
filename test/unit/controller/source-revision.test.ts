import { describe, expect, it } from '@jest/globals';
import { Writable } from 'node:stream';
import { SourceRevisions, type TargetMetadata } from '../../../src/controller/source-revision.ts';
import type { ObjectRef } from '../../../src/kube/client.ts';
import { ApiResponseError } from '../../../src/kube/errors.ts';
import { createLogger } from '../../../src/telemetry/logger.ts';

// Where a run's commit comes from: the target's annotation, else the Flux Kustomization that applied it,
// read once per target revision; anything unreadable gives no commit rather than a wrong one.

const COMMIT = `main@sha1:${'3f9c2ab'.padEnd(40, '0')}`;
const NEXT = `main@sha1:${'a1b2c3d'.padEnd(40, '0')}`;
const fluxLabels = {
  'kustomize.toolkit.fluxcd.io/name': 'apps',
  'kustomize.toolkit.fluxcd.io/namespace': 'flux-system',
};

function setUp(answer: (ref: ObjectRef) => unknown) {
  const asked: ObjectRef[] = [];
  const warnings: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n'))
        if (line) warnings.push((JSON.parse(line) as { problem: string }).problem);
      done();
    },
  });
  const client = {
    get: async <T>(ref: ObjectRef): Promise<T> => {
      asked.push(ref);
      const value = answer(ref);
      if (value instanceof Error) throw value;
      return value as T;
    },
  };
  const revisions = new SourceRevisions({
    client: client as never,
    annotation: 'fledge.dev/revision',
    log: createLogger('info', sink),
  });
  return { revisions, asked, warnings };
}

const target = (
  labels: Record<string, string>,
  annotations: Record<string, string> = {},
): TargetMetadata => ({
  labels,
  annotations,
});
const kustomization = (attempted: string, applied?: string) => ({
  status: {
    lastAttemptedRevision: attempted,
    ...(applied === undefined ? {} : { lastAppliedRevision: applied }),
  },
});
const httpError = (code: number) => new ApiResponseError(code, 'GET', JSON.stringify({ code }), {});
const flushLogs = () => new Promise((done) => setImmediate(done));

describe('SourceRevisions', () => {
  it('takes the annotation first, without asking Flux', async () => {
    const { revisions, asked } = setUp(() => kustomization(NEXT));
    const value = await revisions.read(
      'ns/app',
      'r1',
      target(fluxLabels, { 'fledge.dev/revision': ` ${COMMIT} ` }),
    );
    expect(value).toBe(COMMIT);
    expect(asked).toEqual([]);
  });

  it('names nothing for a target without the annotation or Flux labels', async () => {
    const { revisions, asked } = setUp(() => kustomization(NEXT));
    expect(await revisions.read('ns/app', 'r1', target({ app: 'x' }))).toBeUndefined();
    expect(asked).toEqual([]);
  });

  it("reads the Kustomization's attempted revision, once per target revision", async () => {
    let status = kustomization(COMMIT, NEXT);
    const { revisions, asked } = setUp(() => status);
    // lastAppliedRevision still names the commit before: the attempted one is the commit being applied.
    expect(await revisions.read('ns/app', 'r1', target(fluxLabels))).toBe(COMMIT);
    expect(asked).toEqual([
      {
        apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
        kind: 'Kustomization',
        namespace: 'flux-system',
        name: 'apps',
      },
    ]);
    status = kustomization(NEXT);
    expect(await revisions.read('ns/app', 'r1', target(fluxLabels))).toBe(COMMIT);
    expect(asked).toHaveLength(1);
    expect(await revisions.read('ns/app', 'r2', target(fluxLabels))).toBe(NEXT);
    expect(asked).toHaveLength(2);
  });

  it.each([
    ['a 403', httpError(403)],
    ['a missing Kustomization or CRD', httpError(404)],
    ['an unserved kind', new Error('Kustomization is not served by kustomize.toolkit.fluxcd.io/v1')],
  ])('gives no commit on %s, logs it once and does not ask again for the same revision', async (_, error) => {
    const { revisions, asked, warnings } = setUp(() => error);
    expect(await revisions.read('ns/app', 'r1', target(fluxLabels))).toBeUndefined();
    expect(await revisions.read('ns/app', 'r1', target(fluxLabels))).toBeUndefined();
    expect(asked).toHaveLength(1);
    await flushLogs();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /^Kustomization flux-system\/apps not read \(.+\): let Fledge get kustomizations/,
    );
    // Reported in Ready until a read has no problem, never only in the log.
    expect(revisions.problems('ns/app')).toEqual([
      { field: 'status.sourceRevision', message: `no commit recorded: ${warnings[0]}` },
    ]);
    expect(revisions.problems('ns/other')).toEqual([]);
    expect(await revisions.read('ns/app', 'r2', target(fluxLabels, { 'fledge.dev/revision': COMMIT }))).toBe(
      COMMIT,
    );
    expect(revisions.problems('ns/app')).toEqual([]);
  });

  it('asks again after a transient error, logging it once and clearing it once read', async () => {
    let answer: unknown = httpError(503);
    const { revisions, asked, warnings } = setUp(() => answer);
    expect(await revisions.read('ns/app', 'r1', target(fluxLabels))).toBeUndefined();
    expect(await revisions.read('ns/app', 'r1', target(fluxLabels))).toBeUndefined();
    expect(revisions.problems('ns/app')).toHaveLength(1);
    answer = kustomization(COMMIT);
    expect(await revisions.read('ns/app', 'r1', target(fluxLabels))).toBe(COMMIT);
    expect(asked).toHaveLength(3);
    expect(revisions.problems('ns/app')).toEqual([]);
    await flushLogs();
    expect(warnings).toHaveLength(1);
  });

  it('ignores a value status could not hold', async () => {
    const { revisions, warnings } = setUp(() => kustomization(NEXT));
    const annotated = (value: string) => target({}, { 'fledge.dev/revision': value });
    expect(await revisions.read('ns/app', 'r1', annotated('two words'))).toBeUndefined();
    expect(await revisions.read('ns/app', 'r1', annotated('x'.repeat(257)))).toBeUndefined();
    expect(await revisions.read('ns/app', 'r1', annotated(''))).toBeUndefined();
    await flushLogs();
    expect(warnings[0]).toMatch(/annotation fledge.dev\/revision: ignoring/);
    expect(revisions.problems('ns/app')[0]?.message).toMatch(/^no commit recorded: annotation fledge.dev/);
  });
});
