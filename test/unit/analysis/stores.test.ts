import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { providerFactories } from '../../../src/analysis/registry.ts';
import { readDeclaredKeys } from '../../../src/analysis/store.ts';
import { withStoreTable } from '../../../src/analysis/store-docs.ts';
import { metricStoreFor, metricStores, metricStoreTypes } from '../../../src/analysis/stores/index.ts';
import { PlainQuery, renderQuery, type TemplateVariables } from '../../../src/analysis/template.ts';
import { Value } from '@sinclair/typebox/value';
import { parseAllDocuments } from 'yaml';
import {
  MetricProviderTypes,
  MetricTemplateProviderSchema,
  MetricTemplateSchema,
  type MetricTemplate,
} from '../../../src/api/index.ts';
import { KnownSecrets, knownSecrets } from '../../../src/telemetry/secrets.ts';

// What is derived from the store declarations: the registry, the CRD's enum and
// rules, the docs table, and how Secret keys are read.

const vars: TemplateVariables = {
  name: 'my-app',
  namespace: 'prod',
  target: 'my-app',
  service: 'my-app',
  interval: '1m',
  variables: { quote: "it's", spaced: 'a b' },
};

describe('metric store declarations', () => {
  it('declare each type once, and the CRD enum is exactly the declared types', () => {
    expect(new Set(metricStoreTypes).size).toBe(metricStores.length);
    expect([...MetricProviderTypes]).toEqual([...metricStoreTypes]);
  });

  it('register the factory of every implemented store and nothing else', () => {
    expect(Object.keys(providerFactories).sort()).toEqual(
      metricStores
        .filter((store) => store.factory !== undefined)
        .map((store) => store.type)
        .sort(),
    );
  });

  it('make the CRD require an address and a region where a store needs them', () => {
    const rules = (MetricTemplateProviderSchema as { 'x-kubernetes-validations'?: { rule: string }[] })[
      'x-kubernetes-validations'
    ];
    const address = rules?.find((r) => r.rule.endsWith('has(self.address)'))?.rule ?? '';
    for (const store of metricStores) {
      expect(address.includes(`'${store.type}'`)).toBe(store.address.kind === 'required');
    }
    const region = rules?.find((r) => r.rule.endsWith('has(self.region)'))?.rule ?? '';
    expect(region).toContain("'cloudwatch'");
  });

  it('each have a section in docs/analysis.md whose worked templates are valid and render', () => {
    const doc = readFileSync(new URL('../../../docs/analysis.md', import.meta.url), 'utf8');
    const section = doc.slice(doc.indexOf('## Metric stores'), doc.indexOf('## Debugging a failing check'));
    for (const store of metricStores.filter((s) => s.factory !== undefined)) {
      expect(section).toContain(`### ${store.type}\n`);
    }
    const examples = [...section.matchAll(/```yaml\n([\s\S]*?)```/g)]
      .flatMap((m) => parseAllDocuments(m[1] as string).map((d) => d.toJS() as { kind?: string }))
      .filter((o): o is MetricTemplate => o.kind === 'MetricTemplate');
    expect(examples.map((t) => t.spec.provider.type).sort()).toEqual(
      metricStores
        .filter((s) => s.factory !== undefined && s.type !== 'prometheus')
        .map((s) => s.type)
        .sort(),
    );
    for (const template of examples) {
      expect(Value.Errors(MetricTemplateSchema, template).First()).toBeUndefined();
      const store = metricStoreFor(template.spec.provider.type);
      expect(() => renderQuery(template.spec.query, vars, store?.syntax)).not.toThrow();
    }
  });

  it('are listed in docs/analysis.md as generated (regenerate: make generate)', () => {
    const doc = readFileSync(new URL('../../../docs/analysis.md', import.meta.url), 'utf8');
    expect(withStoreTable(doc)).toBe(doc);
    for (const type of metricStoreTypes) expect(doc).toContain(`| \`${type}\``);
  });
});

describe('readDeclaredKeys', () => {
  const keys = [
    { key: 'api_key', meaning: 'x', credential: true, required: true },
    { key: 'account', meaning: 'x', credential: false },
    { key: 'ca.crt', meaning: 'x', credential: false },
  ];

  it('keeps the declared keys, drops the others and turns PEM keys into TLS settings', () => {
    expect(
      readDeclaredKeys(
        keys,
        { api_key: 'k3y-value-1234', account: '42', 'ca.crt': 'CA', other: 'x' },
        'Secret a/b',
      ),
    ).toEqual({ values: { api_key: 'k3y-value-1234', account: '42' }, tls: { ca: 'CA' } });
  });

  it('remembers credential values for redaction as it reads them', () => {
    const value = 'Zq8vX2mLp0Rt7YwB';
    readDeclaredKeys(keys, { api_key: value }, 'Secret a/b');
    expect(knownSecrets.redact(`key ${value} echoed`)).toBe(`key ${KnownSecrets.marker} echoed`);
  });

  it('names a missing required key and the Secret', () => {
    expect(() => readDeclaredKeys(keys, { account: '1' }, 'Secret a/b')).toThrow(
      'Secret a/b has no api_key; the store needs them',
    );
  });
});

describe('PlainQuery placeholders', () => {
  it('take Kubernetes names outside quotes, as tag values and path segments', () => {
    expect(renderQuery('sum:requests{service:{{ target }},env:{{ namespace }}}', vars, PlainQuery)).toBe(
      'sum:requests{service:my-app,env:prod}',
    );
  });

  it('refuse a value that could end the word, and escape it inside quotes', () => {
    expect(() => renderQuery('a.{{ variables.spaced }}.b', vars, PlainQuery)).toThrow(
      /unsafe outside quotes/,
    );
    expect(renderQuery("WHERE x = '{{ variables.quote }}'", vars, PlainQuery)).toBe("WHERE x = 'it\\'s'");
  });

  it('treat # as text, not a comment', () => {
    expect(renderQuery('a#{{ target }}', vars, PlainQuery)).toBe('a#my-app');
  });
});
