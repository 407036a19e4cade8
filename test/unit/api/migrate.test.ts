import { describe, expect, it } from '@jest/globals';
import { Value } from '@sinclair/typebox/value';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { AlertProviderSchema, CanarySchema, MetricTemplateSchema } from '../../../src/api/index.ts';
import {
  migrateDocuments,
  runMigrate,
  type MigrateIO,
  type MigrationNote,
} from '../../../src/cli/migrate.ts';

const flaggerDir = fileURLToPath(new URL('../../fixtures/api/flagger/', import.meta.url));

function yamlFilesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => /\.ya?ml$/.test(f) && statSync(join(dir, f)).isFile())
    .sort();
}

const fixtures = yamlFilesUnder(flaggerDir).map((file) => ({
  file,
  text: readFileSync(join(flaggerDir, file), 'utf8'),
}));
const schemas = {
  Canary: CanarySchema,
  MetricTemplate: MetricTemplateSchema,
  AlertProvider: AlertProviderSchema,
};

/** What the parsed input must look like after migration: only apiVersion and known annotation keys differ. */
function expectedAfterMigration(value: unknown): unknown {
  const object = structuredClone(value) as {
    apiVersion?: string;
    metadata?: { annotations?: Record<string, string> };
  };
  if (object?.apiVersion === 'flagger.app/v1beta1') object.apiVersion = 'fledge.dev/v1beta1';
  const annotations = object?.metadata?.annotations;
  if (annotations?.['flagger.app/config-tracking'] !== undefined) {
    annotations['fledge.dev/config-tracking'] = annotations['flagger.app/config-tracking'];
    delete annotations['flagger.app/config-tracking'];
  }
  return object;
}

const toObjects = (text: string) => parseAllDocuments(text).map((d) => d.toJS() as unknown);
const notesOf = (text: string) => migrateDocuments(text, 'inline.yaml').notes;
const fields = (notes: MigrationNote[], kind: MigrationNote['kind']) =>
  notes.filter((n) => n.kind === kind).map((n) => n.field);

describe('migrateDocuments round trip over the Flagger fixture directory', () => {
  it('has fixtures, including a nested directory', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(5);
    expect(fixtures.some((f) => f.file.includes('/'))).toBe(true);
  });

  it.each(fixtures)(
    '$file changes only apiVersion and annotation-key lines, byte for byte elsewhere',
    ({ file, text }) => {
      const { output } = migrateDocuments(text, file);
      const before = text.split('\n');
      const after = output.split('\n');
      expect(after).toHaveLength(before.length);
      const changed = before.flatMap((line, i) => (line === after[i] ? [] : [[line, after[i]]]));
      expect(changed.length).toBeGreaterThan(0);
      for (const [from, to] of changed) {
        expect(to).toBe(from?.replace('flagger.app/', 'fledge.dev/'));
        expect(from).toMatch(/apiVersion|config-tracking/);
      }
    },
  );

  it.each(fixtures)('$file parses to the same objects apart from the rewritten names', ({ file, text }) => {
    const { output } = migrateDocuments(text, file);
    expect(toObjects(output)).toEqual(toObjects(text).map(expectedAfterMigration));
  });

  it.each(fixtures)('$file yields Fledge objects that fit the schema', ({ file, text }) => {
    for (const object of toObjects(migrateDocuments(text, file).output) as { kind: keyof typeof schemas }[]) {
      const schema = schemas[object.kind];
      if (schema === undefined) continue;
      expect([...Value.Errors(schema, object)].map((e) => `${e.path}: ${e.message}`)).toEqual([]);
    }
  });

  it.each(fixtures)('$file is stable: migrating the output again changes nothing', ({ file, text }) => {
    const once = migrateDocuments(text, file);
    const twice = migrateDocuments(once.output, file);
    expect(twice.output).toBe(once.output);
    expect(fields(twice.notes, 'rewritten')).toEqual([]);
  });

  it('reports one rewrite per Flagger object and per annotation key', () => {
    const notes = fixtures.flatMap(({ file, text }) => migrateDocuments(text, file).notes);
    const rewritten = notes.filter((n) => n.kind === 'rewritten');
    expect(rewritten.filter((n) => n.field === 'apiVersion')).toHaveLength(8);
    expect(rewritten.filter((n) => n.field.startsWith('metadata.annotations.')).map((n) => n.object)).toEqual(
      ['ConfigMap/podinfo-env', 'Secret/on-call-url'],
    );
  });

  it('reports every deprecated alias in the legacy manifest with its replacement', () => {
    const legacy = fixtures.find((f) => f.file === 'legacy-aliases.yaml');
    const notes = migrateDocuments(legacy?.text ?? '', 'legacy-aliases.yaml').notes;
    expect(fields(notes, 'deprecated')).toEqual([
      'spec.canaryAnalysis',
      'spec.canaryAnalysis.metrics[0].threshold',
      'spec.canaryAnalysis.metrics[1].threshold',
      'spec.canaryAnalysis.metrics[2].threshold',
      'spec.canaryAnalysis.metrics[2].query',
      'spec.canaryAnalysis.webhooks[0].type',
      'spec.canaryAnalysis.alerts[0].severity',
    ]);
    expect(notes.find((n) => n.field === 'spec.canaryAnalysis.metrics[0].threshold')?.message).toContain(
      'thresholdRange.min: 99',
    );
    expect(notes.find((n) => n.field === 'spec.canaryAnalysis.metrics[1].threshold')?.message).toContain(
      'thresholdRange.max: 500',
    );
    expect(
      notes.every(
        (n) => n.source === 'legacy-aliases.yaml' && n.document === 1 && n.object === 'Canary/legacy',
      ),
    ).toBe(true);
  });
});

const canaryYaml = (analysis: string, extra = '') => `apiVersion: flagger.app/v1beta1
kind: Canary
metadata:
  name: app
spec:
  provider: istio
${extra}  targetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: app
  service:
    port: 80
  analysis:
${analysis}`;

describe('migrateDocuments notes on meaning that differs', () => {
  it('explains that the weight no longer overshoots maxWeight', () => {
    const notes = notesOf(canaryYaml('    maxWeight: 50\n    stepWeight: 20\n'));
    expect(notes.find((n) => n.field === 'spec.analysis.maxWeight')?.message).toContain(
      'Fledge steps 20, 40, 50 where Flagger stepped 20, 40, 60',
    );
    expect(fields(notesOf(canaryYaml('    maxWeight: 60\n    stepWeight: 20\n')), 'semantics')).not.toContain(
      'spec.analysis.maxWeight',
    );
  });

  it('explains the no-data semantics once per canary with metrics', () => {
    const notes = notesOf(
      canaryYaml(
        '    stepWeight: 20\n    metrics:\n      - name: request-duration\n        thresholdRange:\n          max: 1\n',
      ),
    );
    expect(notes.filter((n) => n.message.includes('no data'))).toHaveLength(1);
    expect(notesOf(canaryYaml('    stepWeight: 20\n')).some((n) => n.message.includes('no data'))).toBe(
      false,
    );
  });

  it('flags what Flagger silently reinterpreted and Fledge rejects, with the fix', () => {
    const rejected = (analysis: string, extra = '') =>
      notesOf(canaryYaml(analysis, extra)).filter((n) => n.kind === 'rejected');
    expect(rejected('    interval: 5s\n    stepWeight: 20\n')[0]?.message).toContain(
      'Flagger silently used 10s',
    );
    expect(rejected('    iterations: 5\n    maxWeight: 50\n').map((n) => n.field)).toEqual([
      'spec.analysis.maxWeight',
    ]);
    expect(rejected('    stepWeight: 10\n    match:\n      - headers: {}\n').map((n) => n.field)).toEqual([
      'spec.analysis.match',
    ]);
    const kube = notesOf(
      canaryYaml('    stepWeight: 20\n').replace('provider: istio', 'provider: kubernetes'),
    );
    expect(kube.find((n) => n.kind === 'rejected')?.message).toContain('write iterations: 10');
    expect(
      rejected('    stepWeight: 20\n    metrics:\n      - name: request-duration\n').map((n) => n.field),
    ).toEqual(['spec.analysis.metrics[0].thresholdRange']);
    expect(
      rejected(
        '    stepWeight: 20\n    metrics:\n      - name: e\n        threshold: 1\n        templateRef:\n          name: e\n',
      ).map((n) => n.field),
    ).toEqual(['spec.analysis.metrics[0].threshold']);
    expect(notesOf(canaryYaml('    stepWeight: 20\n').replace('  provider: istio\n', ''))).toContainEqual(
      expect.objectContaining({ field: 'spec.provider', kind: 'semantics' }),
    );
  });

  it('leaves other flagger.app versions and kinds unchanged and says so', () => {
    const text = 'apiVersion: flagger.app/v1alpha3\nkind: Canary\nmetadata:\n  name: old\n';
    const { output, notes } = migrateDocuments(text, 'old.yaml');
    expect(output).toBe(text);
    expect(notes).toEqual([
      expect.objectContaining({ field: 'apiVersion', kind: 'rejected', object: 'Canary/old' }),
    ]);
  });

  it('passes non-Flagger documents and empty input through untouched', () => {
    const text =
      '# just a comment\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: x\n  annotations:\n    flagger.app/other: "1"\n';
    const { output, notes } = migrateDocuments(text, 'svc.yaml');
    expect(output).toBe(text);
    expect(notes).toEqual([
      expect.objectContaining({ kind: 'semantics', field: 'metadata.annotations.flagger.app/other' }),
    ]);
    expect(migrateDocuments('', 'empty.yaml')).toEqual({ output: '', notes: [] });
  });

  it('throws on broken YAML, naming the source and document', () => {
    expect(() => migrateDocuments('a: 1\n---\nb: [1, 2\n', 'broken.yaml')).toThrow(
      'broken.yaml: document 2:',
    );
  });
});

function memoryIO(stdin = '') {
  const out: string[] = [];
  const err: string[] = [];
  const io: MigrateIO = {
    readStdin: async () => stdin,
    stdout: (t) => void out.push(t),
    stderr: (t) => void err.push(t),
  };
  return { io, out: () => out.join(''), err: () => err.join('') };
}

describe('runMigrate', () => {
  it('converts standard input to standard output and prints notes to stderr', async () => {
    const { io, out, err } = memoryIO(canaryYaml('    stepWeight: 20\n'));
    expect(await runMigrate(['-'], io)).toBe(0);
    expect(out()).toContain('apiVersion: fledge.dev/v1beta1');
    expect(err()).toContain(
      '<stdin> document 1 Canary/app: apiVersion: rewritten: flagger.app/v1beta1 -> fledge.dev/v1beta1',
    );
  });

  it('rewrites a directory tree in place with --write and leaves unrelated files alone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fledge-migrate-'));
    try {
      cpSync(flaggerDir, dir, { recursive: true });
      writeFileSync(join(dir, 'notes.txt'), 'flagger.app/v1beta1\n');
      const { io, out } = memoryIO();
      expect(await runMigrate(['--write', dir], io)).toBe(0);
      expect(out()).toBe('');
      for (const file of yamlFilesUnder(dir)) {
        const migrated = readFileSync(join(dir, file), 'utf8');
        expect([file, migrated]).toEqual([
          file,
          migrateDocuments(readFileSync(join(flaggerDir, file), 'utf8'), file).output,
        ]);
        expect(migrated).not.toContain('flagger.app/v1beta1');
      }
      expect(readFileSync(join(dir, 'notes.txt'), 'utf8')).toBe('flagger.app/v1beta1\n');
      expect(yamlFilesUnder(dir).map((f) => relative(dir, join(dir, f)))).toContain(
        'nested/team-b/canary.yml',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('prints several files one after another, each under its source name', async () => {
    const { io, out } = memoryIO();
    const files = ['kubernetes-blue-green.yaml', 'nginx-ab-testing.yaml'].map((f) => join(flaggerDir, f));
    expect(await runMigrate(files, io)).toBe(0);
    const printed = out();
    expect(printed.match(/^# Source: /gm)).toHaveLength(2);
    expect(toObjects(printed).filter((o) => o !== null)).toHaveLength(2);
  });

  it('exits 1 when a manifest needs manual changes', async () => {
    const { io, err } = memoryIO(canaryYaml('    interval: 1s\n    stepWeight: 20\n'));
    expect(await runMigrate(['-'], io)).toBe(1);
    expect(err()).toContain('spec.analysis.interval: rejected:');
  });

  it.each([
    [[], 'name at least one file'],
    [['--force'], 'unknown option --force'],
    [['--write', '-'], '--write cannot rewrite standard input'],
    [['/nonexistent/fledge'], 'ENOENT'],
  ])('exits 2 for %j', async (args, message) => {
    const { io, err } = memoryIO();
    expect(await runMigrate(args, io)).toBe(2);
    expect(err()).toContain(message);
  });

  it('prints usage for --help', async () => {
    const { io, out } = memoryIO();
    expect(await runMigrate(['--help'], io)).toBe(0);
    expect(out()).toContain('Usage: fledge migrate');
  });
});
