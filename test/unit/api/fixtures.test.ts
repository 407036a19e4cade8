import { describe, expect, it } from '@jest/globals';
import type { TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import {
  AlertProviderSchema,
  AlertProviderTypes,
  AutoscalerKinds,
  CanarySchema,
  MetricProviderTypes,
  MetricTemplateSchema,
  RouterProviders,
  Strategies,
  TargetKinds,
  WebhookTypes,
  normalizeCanary,
  type AlertProvider,
  type Canary,
  type MetricTemplate,
} from '../../../src/api/index.ts';

// Checks on the admission corpus that need no cluster: every valid manifest
// fits the TypeScript schema and normalises; together they cover every
// provider, strategy and enum value; every invalid manifest documents its
// expected error. The integration test sends the same files to a real apiserver.

const dir = (name: string) => fileURLToPath(new URL(`../../fixtures/api/${name}/`, import.meta.url));
const files = (name: string) =>
  readdirSync(dir(name))
    .filter((f) => f.endsWith('.yaml'))
    .sort();
const load = (name: string, file: string) => {
  const text = readFileSync(`${dir(name)}${file}`, 'utf8');
  return { text, objects: parseAllDocuments(text).map((d) => d.toJS() as { kind: string }) };
};

const schemas: Record<string, TSchema> = {
  Canary: CanarySchema,
  MetricTemplate: MetricTemplateSchema,
  AlertProvider: AlertProviderSchema,
};
const valid = files('valid').flatMap((file) =>
  load('valid', file).objects.map((object) => ({ file, object })),
);
const ofKind = <T>(kind: string) => valid.filter((v) => v.object.kind === kind).map((v) => v.object as T);

describe('valid corpus', () => {
  it.each(valid.map((v) => [v.file, v.object] as const))('%s fits the TypeScript schema', (_file, object) => {
    const schema = schemas[object.kind];
    expect(schema).toBeDefined();
    const errors = [...Value.Errors(schema as TSchema, object)].map((e) => `${e.path}: ${e.message}`);
    expect(errors).toEqual([]);
  });

  const canaries = ofKind<Canary>('Canary');
  const normalized = canaries.map((c) =>
    normalizeCanary({ ...c, metadata: { ...c.metadata, namespace: 'test' } }),
  );

  it('covers every router provider', () => {
    expect(new Set(canaries.map((c) => c.spec.provider))).toEqual(new Set([...RouterProviders, undefined]));
  });

  it('covers every strategy, target kind and autoscaler kind', () => {
    expect(new Set(normalized.map((n) => n.strategy))).toEqual(new Set(Strategies));
    expect(new Set(canaries.map((c) => c.spec.targetRef.kind))).toEqual(new Set(TargetKinds));
    expect(new Set(canaries.flatMap((c) => c.spec.autoscalerRef?.kind ?? []))).toEqual(
      new Set(AutoscalerKinds),
    );
  });

  it('covers every webhook type, metric provider and alert provider', () => {
    expect(new Set(normalized.flatMap((n) => n.spec.analysis.webhooks.map((w) => w.type)))).toEqual(
      new Set(WebhookTypes),
    );
    expect(new Set(ofKind<MetricTemplate>('MetricTemplate').map((t) => t.spec.provider.type))).toEqual(
      new Set(MetricProviderTypes),
    );
    expect(new Set(ofKind<AlertProvider>('AlertProvider').map((p) => p.spec.type))).toEqual(
      new Set(AlertProviderTypes),
    );
  });

  it('includes the deprecated Flagger aliases, which normalise with notes', () => {
    const aliasNotes = normalized.flatMap((n) => n.notes.filter((note) => note.kind === 'alias'));
    expect(aliasNotes.map((n) => n.field)).toEqual(
      expect.arrayContaining([
        'spec.canaryAnalysis',
        'spec.canaryAnalysis.metrics[0].threshold',
        'spec.canaryAnalysis.metrics[2].query',
        'spec.canaryAnalysis.webhooks[0].type',
        'spec.canaryAnalysis.alerts[0].severity',
      ]),
    );
  });
});

describe('invalid corpus', () => {
  const invalid = files('invalid');
  // Substrings the apiserver itself produces; every other expectation must be a
  // message written in src/api, so it must appear in the generated CRDs.
  const builtin = /^(Unsupported value|Duplicate value|unknown field|.*Required value$|should (be|have) )/;
  const crdText = readdirSync(fileURLToPath(new URL('../../../crds/', import.meta.url)))
    .map((f) => readFileSync(fileURLToPath(new URL(`../../../crds/${f}`, import.meta.url)), 'utf8'))
    .join('\n');

  it('has at least 40 manifests', () => {
    expect(invalid.length).toBeGreaterThanOrEqual(40);
  });

  it.each(invalid)('%s holds one Fledge object and names its expected error', (file) => {
    const { text, objects } = load('invalid', file);
    const expected = /^# expect: (.+)$/.exec(text.split('\n', 1)[0] ?? '')?.[1];
    expect(expected).toBeDefined();
    expect(objects).toHaveLength(1);
    expect(Object.keys(schemas)).toContain(objects[0]?.kind);
    if (!builtin.test(expected ?? '')) expect(crdText).toContain(expected);
  });

  it('has no two files expecting the same error for the same reason', () => {
    const bodies = invalid.map((file) => load('invalid', file).text.split('\n').slice(2).join('\n'));
    expect(new Set(bodies).size).toBe(bodies.length);
  });
});
