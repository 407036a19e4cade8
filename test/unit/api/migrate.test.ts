import { describe, expect, it } from '@jest/globals';
import { Value } from '@sinclair/typebox/value';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import {
  AlertProviderSchema,
  CanarySchema,
  MetricTemplateSchema,
  normalizeCanary,
  type Canary,
} from '../../../src/api/index.ts';
import {
  migrateDocuments,
  runMigrate,
  type MigrateIO,
  type MigrationNote,
} from '../../../src/cli/migrate.ts';

const flaggerDir = fileURLToPath(new URL('../../fixtures/api/flagger/', import.meta.url));
const rewrittenDir = fileURLToPath(new URL('../../fixtures/api/flagger-rewritten/', import.meta.url));

function yamlFilesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => /\.ya?ml$/.test(f) && statSync(join(dir, f)).isFile())
    .sort();
}

const fixtures = yamlFilesUnder(flaggerDir).map((file) => ({
  file,
  text: readFileSync(join(flaggerDir, file), 'utf8'),
}));
// The one Flagger fixture whose deprecated forms migrate also rewrites (see its own test).
const LEGACY = 'legacy-aliases.yaml';
const current = fixtures.filter((f) => f.file !== LEGACY);
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

  it.each(current)(
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

  it.each(current)('$file parses to the same objects apart from the rewritten names', ({ file, text }) => {
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

  it('rewrites the deprecated forms of the legacy manifest in place and names the one it cannot', () => {
    const legacy = fixtures.find((f) => f.file === LEGACY)?.text ?? '';
    const { output, notes } = migrateDocuments(legacy, LEGACY);
    const expected = legacy
      .replace('"apiVersion": "flagger.app/v1beta1"', '"apiVersion": "fledge.dev/v1beta1"')
      .replace('  canaryAnalysis:', '  analysis:')
      .replace('      threshold: 99\n', '      thresholdRange:\n        min: 99\n')
      .replace('      threshold: 500\n', '      thresholdRange:\n        max: 500\n')
      .replace('      threshold: 5\n', '      thresholdRange:\n        max: 5\n')
      .replace('type: ""', 'type: rollout')
      .replace('severity: ""', 'severity: info');
    expect(output).toBe(expected);
    expect(fields(notes, 'rewritten')).toEqual([
      'apiVersion',
      'spec.canaryAnalysis.metrics[0].threshold',
      'spec.canaryAnalysis.metrics[1].threshold',
      'spec.canaryAnalysis.metrics[2].threshold',
      'spec.canaryAnalysis.webhooks[0].type',
      'spec.canaryAnalysis.alerts[0].severity',
      'spec.canaryAnalysis',
    ]);
    expect(notes.find((n) => n.field === 'spec.canaryAnalysis.metrics[0].threshold')?.message).toContain(
      'below 99; written as thresholdRange.min: 99',
    );
    // An inline query needs a MetricTemplate of the user's making.
    expect(fields(notes, 'deprecated')).toEqual(['spec.analysis.metrics[2].query']);
    expect(notes.every((n) => n.source === LEGACY && n.document === 1 && n.object === 'Canary/legacy')).toBe(
      true,
    );
  });
});

// Each file of flagger-rewritten/ is a Canary that Flagger v1.44 accepts and
// Fledge's admission rejects as it is (the integration test checks both
// against the real CRDs), with a header naming what migrate rewrites:
//   # fix: <fields with a rewritten or semantics note>
//   # as-is: rejected: <apiserver message> | accepted
//   # then: <field> = <JSON value> | absent      (in the migrated manifest)
const rewritten = readdirSync(rewrittenDir)
  .filter((f) => f.endsWith('.yaml'))
  .sort()
  .map((file) => {
    const text = readFileSync(join(rewrittenDir, file), 'utf8');
    const header = (key: string) =>
      [...text.matchAll(new RegExp(`^# ${key}: ?(.*)$`, 'gm'))].map((m) => m[1] ?? '');
    return {
      file,
      text,
      fix: (header('fix')[0] ?? '').split(', ').filter(Boolean),
      then: header('then').map((line) => {
        const [path = '', value = ''] = line.split(' = ');
        return { path, value: value === 'absent' ? undefined : (JSON.parse(value) as unknown) };
      }),
    };
  });

/** The value at a field path such as `spec.analysis.metrics[0].name`. */
function at(object: unknown, path: string): unknown {
  return path
    .split(/\.|(?=\[)/)
    .map((p) => (p.startsWith('[') ? Number(p.slice(1, -1)) : p))
    .reduce<unknown>((value, key) => (value as Record<string | number, unknown> | undefined)?.[key], object);
}

describe('migrateDocuments on Flagger manifests that Fledge rejects as they are', () => {
  it('has a corpus with a header for each file', () => {
    expect(rewritten.length).toBeGreaterThanOrEqual(30);
    for (const r of rewritten) expect([r.file, r.then.length > 0]).toEqual([r.file, true]);
  });

  it.each(rewritten)(
    '$file: notes exactly the fields its header names, and nothing rejected',
    ({ file, text, fix }) => {
      const { notes } = migrateDocuments(text, file);
      expect(fields(notes, 'rejected')).toEqual([]);
      const changed = notes
        .filter((n) => (n.kind === 'rewritten' || n.kind === 'semantics') && n.field !== 'apiVersion')
        .map((n) => n.field)
        .filter((field) => field !== 'spec.analysis.metrics');
      expect(changed.sort()).toEqual([...fix].sort());
    },
  );

  it.each(rewritten)('$file: the migrated Canary holds what its header says', ({ file, text, then }) => {
    const [migrated] = toObjects(migrateDocuments(text, file).output);
    for (const { path, value } of then) expect([path, at(migrated, path)]).toEqual([path, value]);
  });

  it.each(rewritten)('$file: the migrated Canary fits the schema and normalises', ({ file, text }) => {
    const migrated = toObjects(migrateDocuments(text, file).output)[0] as Canary;
    expect([...Value.Errors(CanarySchema, migrated)].map((e) => `${e.path}: ${e.message}`)).toEqual([]);
    const { metadata, spec } = migrated;
    expect(() => normalizeCanary({ metadata: { ...metadata, namespace: 'test' }, spec })).not.toThrow();
  });

  it.each(rewritten)(
    '$file: migrating the result again as Flagger input changes only the apiVersion',
    ({ file, text }) => {
      const once = migrateDocuments(text, file).output.replace('fledge.dev/v1beta1', 'flagger.app/v1beta1');
      const twice = migrateDocuments(once, file);
      expect(twice.output).toBe(once.replace('flagger.app/v1beta1', 'fledge.dev/v1beta1'));
      expect(twice.notes.filter((n) => n.kind === 'rewritten').map((n) => n.field)).toEqual(['apiVersion']);
    },
  );

  it('drops a canaryAnalysis that Flagger pruned next to spec.analysis', () => {
    const notes = notesOf(
      canaryYaml('    stepWeight: 10\n').replace(
        '  analysis:\n',
        '  canaryAnalysis:\n    iterations: 3\n  analysis:\n',
      ),
    );
    expect(notes).toContainEqual(
      expect.objectContaining({
        field: 'spec.canaryAnalysis',
        kind: 'rewritten',
        message: expect.stringContaining('pruned'),
      }),
    );
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
    // Flagger capped the weight at 100 too: 30, 60, 90, 100 in both.
    expect(fields(notesOf(canaryYaml('    stepWeight: 30\n')), 'semantics')).not.toContain(
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

  it('leaves what Fledge cannot express as it is, with a rejected note saying why', () => {
    const rejected = (analysis: string, provider = 'istio') =>
      notesOf(canaryYaml(analysis).replace('provider: istio', `provider: ${provider}`)).filter(
        (n) => n.kind === 'rejected',
      );
    const match = '    match:\n      - headers:\n          x:\n            exact: "1"\n';
    expect(rejected(`    stepWeight: 10\n${match}`)[0]).toMatchObject({
      field: 'spec.analysis.match',
      message: expect.stringContaining('limit it to matching requests'),
    });
    expect(rejected(`    iterations: 5\n${match}`, 'linkerd')[0]?.message).toContain(
      'sent all traffic to the canary',
    );
    // smi:v1alpha2 is admitted with match, but its TrafficSplit cannot match requests.
    expect(rejected(`    iterations: 5\n${match}`, 'smi:v1alpha2')[0]?.message).toContain(
      'sent all traffic to the canary',
    );
    expect(rejected('    stepWeights: [10, 10, 20]\n').map((n) => n.message)).toEqual([
      expect.stringContaining('stalled at weight 10'),
    ]);
    expect(
      rejected(
        '    stepWeight: 10\n    metrics:\n      - name: e\n        query: up\n        templateRef:\n          name: e\n        thresholdRange:\n          max: 1\n',
      ).map((n) => n.field),
    ).toEqual(['spec.analysis.metrics[0].query']);
    expect(
      rejected(
        '    stepWeight: 10\n    metrics:\n      - name: request-duration\n        thresholdRange: {min: 5, max: 1}\n',
      ).map((n) => n.field),
    ).toEqual(['spec.analysis.metrics[0].thresholdRange']);
    // Bounds the schema sets and Flagger did not: reported from the schema, not rewritten.
    expect(rejected('    stepWeight: 10\n    maxWeight: 150\n').map((n) => n.field)).toEqual([
      'spec.analysis.maxWeight',
    ]);
  });

  it('says that an unset provider means the controller default, naming its real flag', () => {
    const note = notesOf(canaryYaml('    stepWeight: 20\n').replace('  provider: istio\n', '')).find(
      (n) => n.field === 'spec.provider',
    );
    expect(note).toMatchObject({ kind: 'semantics', message: expect.stringContaining('--mesh-provider') });
  });

  it('says plainly which providers, target kinds and metric stores this version cannot run', () => {
    const unsupported = (text: string) =>
      notesOf(text)
        .filter((n) => n.kind === 'unsupported')
        .map((n) => `${n.field}: ${n.message}`);
    expect(unsupported(canaryYaml('    stepWeight: 20\n'))).toEqual([]);
    expect(
      unsupported(canaryYaml('    stepWeight: 20\n').replace('provider: istio', 'provider: kuma')),
    ).toEqual([]);
    expect(
      unsupported(canaryYaml('    stepWeight: 20\n').replace('provider: istio', 'provider: appmesh')),
    ).toEqual([expect.stringContaining('AWS discontinued App Mesh')]);
    const gateway = canaryYaml('    stepWeight: 20\n').replace('provider: istio', 'provider: gatewayapi:v1');
    expect(unsupported(gateway)).toEqual([]);
    const serviceTarget = gateway.replace(
      'apiVersion: apps/v1\n    kind: Deployment',
      'apiVersion: v1\n    kind: Service',
    );
    // Every target kind Flagger knows runs in this version, a Service target through a router.
    expect(unsupported(serviceTarget)).toEqual([]);
    expect(unsupported(serviceTarget.replace('provider: gatewayapi:v1', 'provider: kubernetes'))).toEqual([
      expect.stringMatching(
        /^spec\.provider: a Service target .* provider kubernetes only switches the apex Service's selector/,
      ),
    ]);
    const template = (type: string) => `apiVersion: flagger.app/v1beta1
kind: MetricTemplate
metadata:
  name: errors
spec:
  provider:
    type: ${type}
    address: https://api.datadoghq.com
  query: avg:requests.error.rate{*}
`;
    // Every metric store Flagger has runs in this version; only an unknown type is noted.
    expect(unsupported(template('externalmetrics'))).toEqual([]);
    expect(unsupported(template('statsd'))).toEqual([
      expect.stringMatching(
        /^spec\.provider\.type: this version of Fledge queries prometheus, .*, not statsd/,
      ),
    ]);
    expect(unsupported(template('prometheus'))).toEqual([]);
    expect(unsupported(template('datadog'))).toEqual([]);
    expect(
      migrateDocuments(template('stackdriver'), 'mt.yaml').notes.map(
        (n) => `${n.kind} ${n.field}: ${n.message}`,
      ),
    ).toContainEqual(
      expect.stringMatching(/^semantics spec\.query: Flagger ran this query as MQL; Fledge runs PromQL/),
    );
  });

  it('notes that a builtin-named template metric runs only its template', () => {
    const notes = notesOf(
      canaryYaml(
        '    stepWeight: 10\n    metrics:\n      - name: request-success-rate\n        templateRef:\n          name: rate\n        thresholdRange:\n          min: 99\n',
      ),
    );
    expect(notes).toContainEqual(
      expect.objectContaining({ field: 'spec.analysis.metrics[0].templateRef', kind: 'semantics' }),
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
    const { io, err } = memoryIO(canaryYaml('    stepWeight: 20\n    maxWeight: 150\n'));
    expect(await runMigrate(['-'], io)).toBe(1);
    expect(err()).toContain('spec.analysis.maxWeight: rejected:');
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
