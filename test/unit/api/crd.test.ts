import { describe, expect, it } from '@jest/globals';
import { Type } from '@sinclair/typebox';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  AlertProviderTypes,
  AlertSeverities,
  MetricProviderTypes,
  RouterProviders,
  TargetKinds,
  WebhookTypes,
} from '../../../src/api/index.ts';
import {
  buildCustomResourceDefinitions,
  generatedCrdFiles,
  toStructuralSchema,
  type CustomResourceDefinition,
  type JSONSchemaProps,
} from '../../../src/api/crd.ts';
import { renderFieldReference, spliceFieldReference } from '../../../src/api/reference.ts';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const crds = buildCustomResourceDefinitions();
const byKind = (kind: string): CustomResourceDefinition => {
  const crd = crds.find((c) => c.spec.names.kind === kind);
  if (crd === undefined) throw new Error(`no CRD for ${kind}`);
  return crd;
};
const schemaOf = (kind: string) => byKind(kind).spec.versions[0]!.schema.openAPIV3Schema;

interface Visit {
  path: string;
  node: JSONSchemaProps;
}
function walk(node: JSONSchemaProps, path = ''): Visit[] {
  const out: Visit[] = [{ path, node }];
  const properties = node.properties as Record<string, JSONSchemaProps> | undefined;
  for (const [name, child] of Object.entries(properties ?? {})) out.push(...walk(child, `${path}.${name}`));
  if (node.items !== undefined) out.push(...walk(node.items as JSONSchemaProps, `${path}[]`));
  if (typeof node.additionalProperties === 'object') {
    out.push(...walk(node.additionalProperties as JSONSchemaProps, `${path}[*]`));
  }
  return out;
}
const hasRules = (node: JSONSchemaProps) =>
  walk(node).some((v) => v.node['x-kubernetes-validations'] !== undefined);
const rulesOf = (node: JSONSchemaProps) =>
  (node['x-kubernetes-validations'] ?? []) as {
    rule: string;
    message?: string;
    messageExpression?: string;
    fieldPath?: string;
  }[];

describe('generated CRD files', () => {
  it('match the schemas in src/api (run `node hack/generate.ts` when this fails)', () => {
    const stale = [...generatedCrdFiles()]
      .filter(([path, content]) => {
        try {
          return readFileSync(`${repoRoot}${path}`, 'utf8') !== content;
        } catch {
          return true;
        }
      })
      .map(([path]) => path);
    expect(stale).toEqual([]);
  });

  it('write one CRD per kind plus the chart copies', () => {
    expect([...generatedCrdFiles().keys()].sort()).toEqual([
      'charts/fledge/crds/fledge.yaml',
      'charts/fledge/templates/crds.yaml',
      'crds/fledge.dev_alertproviders.yaml',
      'crds/fledge.dev_canaries.yaml',
      'crds/fledge.dev_metrictemplates.yaml',
    ]);
  });

  it('gate the chart template on crd.create, keep CRDs on uninstall and escape template placeholders', () => {
    const template = generatedCrdFiles().get('charts/fledge/templates/crds.yaml') ?? '';
    expect(template).toMatch(/^# .*\n\{\{- if \.Values\.crd\.create \}\}\n/);
    expect(template.trimEnd().endsWith('{{- end }}')).toBe(true);
    expect(template.match(/helm\.sh\/resource-policy: keep/g)).toHaveLength(3);
    const actions = [...template.matchAll(/\{\{.*?\}\}/g)].map((m) => m[0]);
    expect(new Set(actions)).toEqual(new Set(['{{- if .Values.crd.create }}', '{{- end }}', '{{ "{{" }}']));
    expect(template).toContain('{{ "{{" }} namespace }}');
  });
});

describe('CRD shape', () => {
  it('serves every kind with a status subresource, short names and the fledge category', () => {
    expect(crds.map((c) => [c.metadata.name, c.spec.names.shortNames, c.spec.names.categories])).toEqual([
      ['canaries.fledge.dev', ['cn'], ['fledge']],
      ['metrictemplates.fledge.dev', ['mt'], ['fledge']],
      ['alertproviders.fledge.dev', ['ap'], ['fledge']],
    ]);
    for (const crd of crds) expect(crd.spec.versions[0]?.subresources).toEqual({ status: {} });
  });

  it('prints Status, Weight, FailedChecks, Interval and LastTransitionTime, more under -o wide', () => {
    const columns = byKind('Canary').spec.versions[0]!.additionalPrinterColumns;
    expect(columns.filter((c) => c.priority === undefined).map((c) => c.name)).toEqual([
      'Status',
      'Weight',
      'FailedChecks',
      'Interval',
      'LastTransitionTime',
    ]);
    expect(columns.filter((c) => c.priority === 1).length).toBeGreaterThan(0);
  });

  it('points every printer column at a field of the schema', () => {
    for (const crd of crds) {
      const paths = new Set(walk(crd.spec.versions[0]!.schema.openAPIV3Schema).map((v) => v.path));
      for (const column of crd.spec.versions[0]!.additionalPrinterColumns) {
        if (column.jsonPath.startsWith('.metadata.')) continue;
        const path = column.jsonPath.replace(/\[\?\(.*\)\]/, '[]');
        expect([column.name, paths.has(path) || paths.has(path.replace(/\.[^.]+$/, ''))]).toEqual([
          column.name,
          true,
        ]);
      }
    }
  });

  it('is structural: every node typed, no closed objects, no property/map mix', () => {
    for (const crd of crds) {
      for (const { path, node } of walk(crd.spec.versions[0]!.schema.openAPIV3Schema)) {
        const typed = typeof node.type === 'string' || node['x-kubernetes-int-or-string'] === true;
        expect([path, typed]).toEqual([path, true]);
        expect([path, node.additionalProperties === false]).toEqual([path, false]);
        expect([path, node.properties !== undefined && node.additionalProperties !== undefined]).toEqual([
          path,
          false,
        ]);
      }
    }
  });

  it('bounds every string, list and map a CEL rule reads, so the cost estimate fits the budget', () => {
    for (const crd of crds) {
      for (const { path, node } of walk(crd.spec.versions[0]!.schema.openAPIV3Schema)) {
        if (!hasRules(node)) continue;
        if (node.type === 'string') expect([path, node.maxLength]).toEqual([path, expect.any(Number)]);
        if (node.type === 'array') expect([path, node.maxItems]).toEqual([path, expect.any(Number)]);
        if (typeof node.additionalProperties === 'object') {
          expect([path, node.maxProperties]).toEqual([path, expect.any(Number)]);
        }
      }
    }
  });

  it('gives every rule a message and a fieldPath that exists', () => {
    let count = 0;
    for (const crd of crds) {
      for (const { path, node } of walk(crd.spec.versions[0]!.schema.openAPIV3Schema)) {
        const reachable = new Set(walk(node).map((v) => v.path));
        for (const rule of rulesOf(node)) {
          count += 1;
          expect([path, rule.rule, Boolean(rule.message ?? rule.messageExpression)]).toEqual([
            path,
            rule.rule,
            true,
          ]);
          if (rule.fieldPath !== undefined)
            expect([path, rule.fieldPath, reachable.has(rule.fieldPath)]).toEqual([
              path,
              rule.fieldPath,
              true,
            ]);
        }
      }
    }
    expect(count).toBeGreaterThan(50);
  });

  it('rejects unknown names with enums equal to the exported lists', () => {
    const spec = (schemaOf('Canary').properties as Record<string, JSONSchemaProps>).spec!;
    const node = (path: string) => walk(spec).find((v) => v.path === path)?.node;
    expect(node('.provider')?.enum).toEqual([...RouterProviders]);
    expect(node('.targetRef.kind')?.enum).toEqual([...TargetKinds]);
    expect(node('.analysis.webhooks[].type')?.enum).toEqual(['', ...WebhookTypes]);
    expect(node('.analysis.alerts[].severity')?.enum).toEqual(['', ...AlertSeverities]);
    expect(node('.canaryAnalysis.webhooks[].type')?.enum).toEqual(['', ...WebhookTypes]);
    const mt = walk(schemaOf('MetricTemplate')).find((v) => v.path === '.spec.provider.type')?.node;
    expect(mt?.enum).toEqual([...MetricProviderTypes]);
    const ap = walk(schemaOf('AlertProvider')).find((v) => v.path === '.spec.type')?.node;
    expect(ap?.enum).toEqual([...AlertProviderTypes]);
  });

  it('leaves metadata to the apiserver and requires spec', () => {
    for (const crd of crds) {
      const root = crd.spec.versions[0]!.schema.openAPIV3Schema;
      expect(root.required).toEqual(['spec']);
      expect((root.properties as Record<string, unknown>).metadata).toEqual({ type: 'object' });
    }
  });
});

describe('toStructuralSchema', () => {
  it('turns literal unions into enums, records into maps and keeps int-or-string', () => {
    const schema = Type.Object({
      mode: Type.Union([Type.Literal('a'), Type.Literal('b')], { description: 'mode' }),
      labels: Type.Optional(Type.Record(Type.String(), Type.String())),
      port: Type.Union([Type.Integer(), Type.String()], { 'x-kubernetes-int-or-string': true }),
    });
    expect(toStructuralSchema(schema)).toEqual({
      type: 'object',
      required: ['mode', 'port'],
      properties: {
        mode: { description: 'mode', type: 'string', enum: ['a', 'b'] },
        labels: { type: 'object', additionalProperties: { type: 'string' } },
        port: { 'x-kubernetes-int-or-string': true },
      },
    });
  });

  it('refuses constructs a structural schema cannot express, naming the path', () => {
    expect(() => toStructuralSchema(Type.Object({ x: Type.Union([Type.String(), Type.Number()]) }))).toThrow(
      '<root>.x: only unions of string literals are supported',
    );
    expect(() => toStructuralSchema(Type.Object({ x: Type.Unknown() }))).toThrow(
      '<root>.x: schema has no type',
    );
    expect(() => toStructuralSchema(Type.Object({ x: Type.String({ examples: ['a'] }) }))).toThrow(
      '<root>.x: keyword "examples" has no structural-schema equivalent',
    );
  });
});

describe('docs/api.md field reference', () => {
  const doc = readFileSync(`${repoRoot}docs/api.md`, 'utf8');

  it('is up to date with the schemas (run `node hack/generate.ts` when this fails)', () => {
    expect(spliceFieldReference(doc, renderFieldReference(crds))).toBe(doc);
  });

  it('lists every field of every kind with the messages the apiserver gives', () => {
    const reference = renderFieldReference(crds);
    for (const crd of crds) {
      const root = crd.spec.versions[0]!.schema.openAPIV3Schema;
      for (const part of ['spec', 'status']) {
        const node = (root.properties as Record<string, JSONSchemaProps>)[part]!;
        for (const { path, node: field } of walk(node)) {
          if (path === '' || path.startsWith('.canaryAnalysis.')) continue;
          const shown = path
            .slice(1)
            .replace(/\[\]\./g, '[].')
            .replace(/\[\*\]\./g, '[*].');
          if (/\[\*?\]$/.test(shown)) continue; // list items and map values have no row of their own
          expect([path, reference.includes(`| \`${shown}\``)]).toEqual([path, true]);
          for (const rule of rulesOf(field))
            if (rule.message !== undefined) expect(reference).toContain(rule.message.replaceAll('|', '\\|'));
        }
      }
    }
  });

  it('refuses a document without the markers', () => {
    expect(() => spliceFieldReference('# API\n', 'x')).toThrow('must contain the markers');
  });
});
