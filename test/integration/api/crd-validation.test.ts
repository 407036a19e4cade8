import { beforeAll, describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { migrateDocuments } from '../../../src/cli/migrate.ts';
import { kubectl } from '../../harness/control-plane.ts';
import { createTestNamespace, integrationEnv } from '../../harness/env.ts';
import { repoRoot } from '../../harness/processes.ts';

// Every fixture goes through the real apiserver with the generated CRDs
// installed: invalid manifests must be rejected with the documented message,
// valid ones (and migrated Flagger manifests) accepted with nothing pruned.

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
