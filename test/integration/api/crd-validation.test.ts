import { beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments, stringify } from 'yaml';
import { migrateDocuments } from '../../../src/cli/migrate.ts';
import { kubectl } from '../../harness/control-plane.ts';
import { createTestNamespace, integrationEnv } from '../../harness/env.ts';
import { repoRoot, waitFor } from '../../harness/processes.ts';

// Every fixture goes through the real apiserver with the generated CRDs
// installed: invalid manifests must be rejected with the documented message,
// valid ones (and migrated Flagger manifests) accepted with nothing pruned.
// The Flagger manifests that only `fledge migrate` makes admissible are also
// checked against Flagger v1.44's own CRDs, so each really is one Flagger accepts.

const fixtureDir = join(repoRoot, 'test/fixtures/api');
const exampleDir = join(repoRoot, 'docs/examples');
const yamlFiles = (dir: string) =>
  readdirSync(join(fixtureDir, dir))
    .filter((f) => f.endsWith('.yaml'))
    .sort();

interface KubeObject {
  kind: string;
  metadata: { name: string };
  spec?: unknown;
}

function inputObjects(text: string): KubeObject[] {
  return parseAllDocuments(text)
    .map((doc) => doc.toJS() as KubeObject | null)
    .filter((obj): obj is KubeObject => obj !== null);
}

/** Server-side dry-run apply; returns the objects as the apiserver would store them. */
async function dryRunApply(namespace: string, manifest: string): Promise<KubeObject[]> {
  const { kubeconfigPath } = integrationEnv();
  const out = await kubectl(
    kubeconfigPath,
    ['apply', '--dry-run=server', '--validate=strict', '-n', namespace, '-o', 'json', '-f', '-'],
    manifest,
  );
  const parsed = JSON.parse(out) as KubeObject & { items?: KubeObject[] };
  return parsed.kind === 'List' ? (parsed.items ?? []) : [parsed];
}

const fledgeKinds = ['Canary', 'MetricTemplate', 'AlertProvider'];

/** Accepted with every object kept and nothing pruned from Fledge's kinds (built-in kinds get defaults). */
async function expectAcceptedUnchanged(namespace: string, manifest: string): Promise<void> {
  const stored = await dryRunApply(namespace, manifest);
  const sent = inputObjects(manifest);
  expect(stored.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual(
    sent.map((o) => `${o.kind}/${o.metadata.name}`),
  );
  sent.forEach((object, i) => {
    if (fledgeKinds.includes(object.kind)) expect(stored[i]?.spec).toEqual(object.spec);
  });
}

/** Fledge's own kinds, without the namespaces fixtures name (the test namespace replaces them). */
function fledgeKindsOnly(manifest: string): string {
  return inputObjects(manifest)
    .filter((o) => fledgeKinds.includes(o.kind))
    .map((o) => stringify({ ...o, metadata: { ...o.metadata, namespace: undefined } }))
    .join('---\n');
}

describe('CRD validation at admission', () => {
  let namespace = '';
  beforeAll(async () => {
    namespace = await createTestNamespace('api-crd');
  });

  const invalid = yamlFiles('invalid');
  it('has a corpus of at least 40 invalid manifests', () => {
    expect(invalid.length).toBeGreaterThanOrEqual(40);
  });

  it.each(invalid)('rejects invalid/%s with its documented message', async (file) => {
    const text = readFileSync(join(fixtureDir, 'invalid', file), 'utf8');
    const expected = /^# expect: (.+)$/m.exec(text.split('\n', 1)[0] ?? '')?.[1];
    expect(expected).toBeDefined();
    const outcome = await dryRunApply(namespace, text).then(
      () => 'accepted',
      (err: Error) => err.message,
    );
    expect(outcome).toContain(expected);
  });

  it.each(yamlFiles('valid'))('accepts valid/%s unchanged', async (file) => {
    await expectAcceptedUnchanged(namespace, readFileSync(join(fixtureDir, 'valid', file), 'utf8'));
  });

  it.each(yamlFiles('flagger'))('accepts flagger/%s once migrated, unchanged', async (file) => {
    const { output } = migrateDocuments(readFileSync(join(fixtureDir, 'flagger', file), 'utf8'), file);
    await expectAcceptedUnchanged(namespace, fledgeKindsOnly(output));
  });

  // The samples users copy (and `make demo` applies) must stay valid as the API evolves.
  it.each(readdirSync(exampleDir).filter((f) => f.endsWith('.yaml')))(
    'accepts docs/examples/%s unchanged',
    async (file) => {
      const text = readFileSync(join(exampleDir, file), 'utf8');
      expect(inputObjects(text).length).toBeGreaterThan(0);
      await expectAcceptedUnchanged(namespace, text);
    },
  );
});

const FLAGGER_MODULE = 'github.com/fluxcd/flagger@v1.44.0';
/** Flagger's kinds under names of their own, so they can sit next to anything else in the cluster. */
const asFlaggerKind = (kind: string) => `Flagger${kind}`;

interface CrdNames {
  kind: string;
  listKind: string;
  plural: string;
  singular: string;
  shortNames?: string[];
  categories?: string[];
}
interface Crd {
  metadata: { name: string };
  spec: { group: string; names: CrdNames };
}

/** Flagger v1.44's CRDs, read from its Go module (fetched once through the module proxy), with renamed kinds. */
async function flaggerCrds(kubeconfigPath: string): Promise<{ manifest: string; names: string[] }> {
  const scratch = mkdtempSync(join(tmpdir(), 'fledge-flagger-crd-'));
  try {
    const { stdout } = await promisify(execFile)('go', ['mod', 'download', '-json', FLAGGER_MODULE], {
      cwd: scratch,
      env: { ...process.env, GOFLAGS: '-mod=mod', GOTOOLCHAIN: 'local' },
    });
    const { Dir } = JSON.parse(stdout) as { Dir: string };
    // kubectl reads the file as Flagger's users' kubectl does, and writes it out in plain YAML.
    const file = join(Dir, 'artifacts/flagger/crd.yaml');
    const out = await kubectl(kubeconfigPath, ['create', '--dry-run=client', '-o', 'yaml', '-f', file]);
    const crds = parseAllDocuments(out).map((d) => d.toJS() as Crd);
    for (const crd of crds) {
      const { names } = crd.spec;
      names.kind = asFlaggerKind(names.kind);
      names.listKind = asFlaggerKind(names.listKind);
      names.plural = `flagger${names.plural}`;
      names.singular = `flagger${names.singular}`;
      delete names.shortNames;
      delete names.categories;
      crd.metadata.name = `${names.plural}.${crd.spec.group}`;
    }
    return { manifest: crds.map((c) => stringify(c)).join('---\n'), names: crds.map((c) => c.metadata.name) };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

const rewrittenDir = join(fixtureDir, 'flagger-rewritten');
const rewritten = readdirSync(rewrittenDir)
  .filter((f) => f.endsWith('.yaml'))
  .sort()
  .map((file) => {
    const text = readFileSync(join(rewrittenDir, file), 'utf8');
    const asIs = /^# as-is: (.+)$/m.exec(text)?.[1] ?? '';
    return { file, text, asIs };
  });
const asFlagger = (text: string) =>
  text.replace(/^kind: (\w+)$/m, (_, kind: string) => `kind: ${asFlaggerKind(kind)}`);
const asFledge = (text: string) =>
  text.replace('apiVersion: flagger.app/v1beta1', 'apiVersion: fledge.dev/v1beta1');

describe('Flagger manifests that only fledge migrate makes admissible', () => {
  let namespace = '';
  beforeAll(async () => {
    const { kubeconfigPath } = integrationEnv();
    const { manifest, names } = await flaggerCrds(kubeconfigPath);
    await kubectl(kubeconfigPath, ['apply', '--server-side', '--force-conflicts', '-f', '-'], manifest);
    const crds = names.map((n) => `crd/${n}`);
    await kubectl(kubeconfigPath, ['wait', '--for=condition=Established', '--timeout=60s', ...crds]);
    // Established is not enough: storage for a new kind answers 429 for a moment.
    await waitFor('the renamed Flagger kinds to be served', async () => {
      await kubectl(kubeconfigPath, ['get', names.join(','), '--all-namespaces']);
      return true;
    });
    namespace = await createTestNamespace('api-flagger');
  }, 180_000);

  it('has a corpus, each file saying how Fledge takes it as it is', () => {
    expect(rewritten.length).toBeGreaterThanOrEqual(30);
    for (const { file, asIs } of rewritten)
      expect([file, asIs]).toEqual([file, expect.stringMatching(/^(accepted|rejected: .+)$/)]);
  });

  it.each(rewritten)('Flagger v1.44 accepts flagger-rewritten/$file', async ({ text }) => {
    await dryRunApply(namespace, asFlagger(text));
  });

  it.each(rewritten)(
    'Fledge takes flagger-rewritten/$file as it is as its header says',
    async ({ text, asIs }) => {
      const outcome = await dryRunApply(namespace, asFledge(text)).then(
        () => 'accepted',
        (err: Error) => `rejected: ${err.message}`,
      );
      if (asIs === 'accepted') expect(outcome).toBe('accepted');
      else expect(outcome).toMatch(/^rejected: /);
      expect(outcome).toContain(asIs.replace(/^rejected: /, ''));
    },
  );

  it.each(rewritten)('accepts flagger-rewritten/$file once migrated, unchanged', async ({ file, text }) => {
    await expectAcceptedUnchanged(namespace, fledgeKindsOnly(migrateDocuments(text, file).output));
  });

  // Two schedules at once is no Flagger manifest: its CRD takes exactly one (a oneOf), so migrate need not choose.
  it.each([
    ['stepWeight and stepWeights', 'stepWeight: 10\n    stepWeights: [10, 50]'],
    ['iterations and stepWeight', 'iterations: 5\n    stepWeight: 10'],
  ])('Flagger v1.44 rejects %s together', async (_what, schedule) => {
    const manifest = `apiVersion: flagger.app/v1beta1
kind: FlaggerCanary
metadata:
  name: two-schedules
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
  service: {port: 9898}
  analysis:
    interval: 1m
    threshold: 5
    ${schedule}
`;
    await expect(dryRunApply(namespace, manifest)).rejects.toThrow('oneOf');
  });
});
