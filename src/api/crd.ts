import type { TSchema } from '@sinclair/typebox';
import { stringify } from 'yaml';
import { AlertProviderSchema } from './alert-provider.ts';
import { CanarySchema } from './canary.ts';
import {
  ALERT_PROVIDER_KIND,
  ALERT_PROVIDER_PLURAL,
  CANARY_KIND,
  CANARY_PLURAL,
  GROUP,
  METRIC_TEMPLATE_KIND,
  METRIC_TEMPLATE_PLURAL,
  VERSION,
} from './constants.ts';
import { MetricTemplateSchema } from './metric-template.ts';

// Turns the TypeBox schemas (the single source of truth) into
// apiextensions.k8s.io/v1 CustomResourceDefinitions and renders the files that
// hack/generate.ts writes. Conversion is strict: a TypeBox construct with
// no structural-schema equivalent is an error, never silently dropped.

export type JSONSchemaProps = { [key: string]: unknown };

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description?: string;
  priority?: number;
}

export interface CustomResourceDefinition {
  apiVersion: 'apiextensions.k8s.io/v1';
  kind: 'CustomResourceDefinition';
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: {
    group: string;
    names: {
      kind: string;
      listKind: string;
      plural: string;
      singular: string;
      shortNames: string[];
      categories: string[];
    };
    scope: 'Namespaced';
    versions: {
      name: string;
      served: true;
      storage: true;
      subresources: { status: Record<string, never> };
      additionalPrinterColumns: PrinterColumn[];
      schema: { openAPIV3Schema: JSONSchemaProps };
    }[];
  };
}

/** Keywords copied as they are; anything else unknown makes conversion fail. */
const PASSTHROUGH = [
  'format',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'multipleOf',
  'minLength',
  'maxLength',
  'pattern',
  'minItems',
  'maxItems',
  'minProperties',
  'maxProperties',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-validations',
] as const;
/** Keywords the converter consumes itself. */
const CONSUMED = new Set([
  'description',
  'type',
  'properties',
  'required',
  'additionalProperties',
  'patternProperties',
  'items',
  'anyOf',
  'const',
  'x-kubernetes-int-or-string',
  'x-kubernetes-preserve-unknown-fields',
  ...PASSTHROUGH,
]);

type Node = Record<string, unknown>;

function describe(node: Node): JSONSchemaProps {
  return typeof node.description === 'string' ? { description: node.description } : {};
}

function passthrough(node: Node): JSONSchemaProps {
  const out: JSONSchemaProps = {};
  for (const key of PASSTHROUGH) if (node[key] !== undefined) out[key] = node[key];
  return out;
}

/** CEL rules go last so a reader sees the shape of a node before its rules. */
function withRulesLast(out: JSONSchemaProps): JSONSchemaProps {
  const { 'x-kubernetes-validations': rules, ...rest } = out;
  return rules === undefined ? rest : { ...rest, 'x-kubernetes-validations': rules };
}

/** Convert one TypeBox schema node (JSON Schema) into a structural CRD schema node. */
export function toStructuralSchema(schema: TSchema, path = '<root>'): JSONSchemaProps {
  // JSON round trip drops TypeBox's symbol-keyed metadata.
  const node = JSON.parse(JSON.stringify(schema)) as Node;
  for (const key of Object.keys(node)) {
    if (!CONSUMED.has(key)) throw new Error(`${path}: keyword "${key}" has no structural-schema equivalent`);
  }
  if (node['x-kubernetes-int-or-string'] === true) {
    return { ...describe(node), 'x-kubernetes-int-or-string': true, ...passthrough(node) };
  }
  if (node['x-kubernetes-preserve-unknown-fields'] === true) {
    return { ...describe(node), type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
  }
  if (Array.isArray(node.anyOf)) {
    const members = node.anyOf as Node[];
    if (!members.every((m) => typeof m.const === 'string')) {
      throw new Error(`${path}: only unions of string literals are supported (they become an enum)`);
    }
    return withRulesLast({
      ...describe(node),
      type: 'string',
      enum: members.map((m) => m.const),
      ...passthrough(node),
    });
  }
  if (node.const !== undefined) {
    return { ...describe(node), type: node.type, enum: [node.const], ...passthrough(node) };
  }
  if (typeof node.type !== 'string') throw new Error(`${path}: schema has no type`);

  const out: JSONSchemaProps = { ...describe(node), type: node.type };
  Object.assign(out, passthrough(node));
  if (node.type === 'object') {
    const properties = node.properties as Record<string, TSchema> | undefined;
    const patterns = node.patternProperties as Record<string, TSchema> | undefined;
    if (properties !== undefined && patterns !== undefined) {
      throw new Error(`${path}: an object cannot have both fixed properties and a map`);
    }
    const required = node.required as string[] | undefined;
    if (required !== undefined && required.length > 0) out.required = required;
    if (properties !== undefined) {
      out.properties = Object.fromEntries(
        Object.entries(properties).map(([name, child]) => [
          name,
          toStructuralSchema(child, `${path}.${name}`),
        ]),
      );
    }
    if (patterns !== undefined) {
      const values = Object.values(patterns);
      if (values.length !== 1 || values[0] === undefined)
        throw new Error(`${path}: a map needs exactly one value schema`);
      out.additionalProperties = toStructuralSchema(values[0], `${path}[*]`);
    }
    // additionalProperties: false is not allowed in a structural schema; unknown
    // fields are instead pruned, or rejected by kubectl's strict field validation.
  } else if (node.type === 'array') {
    out.items = toStructuralSchema(node.items as TSchema, `${path}[]`);
  }
  return withRulesLast(out);
}

/** Schema of a whole object: metadata is left to the apiserver, only spec is required. */
export function rootSchema(schema: TSchema): JSONSchemaProps {
  const {
    apiVersion: _apiVersion,
    kind: _kind,
    metadata: _metadata,
    ...rest
  } = schema.properties as Record<string, TSchema>;
  const converted = toStructuralSchema({ ...schema, properties: rest }, 'object');
  return {
    ...converted,
    required: ['spec'],
    properties: {
      apiVersion: { description: 'API version of this object: fledge.dev/v1beta1.', type: 'string' },
      kind: { description: 'Kind of this object.', type: 'string' },
      metadata: { type: 'object' },
      ...(converted.properties as Record<string, JSONSchemaProps>),
    },
  };
}

interface KindDefinition {
  kind: string;
  plural: string;
  shortNames: string[];
  schema: TSchema;
  columns: PrinterColumn[];
}

const KINDS: KindDefinition[] = [
  {
    kind: CANARY_KIND,
    plural: CANARY_PLURAL,
    shortNames: ['cn'],
    schema: CanarySchema,
    columns: [
      { name: 'Status', type: 'string', jsonPath: '.status.phase', description: 'Phase of the release.' },
      {
        name: 'Weight',
        type: 'integer',
        jsonPath: '.status.canaryWeight',
        description: 'Traffic to the canary.',
      },
      { name: 'FailedChecks', type: 'integer', jsonPath: '.status.failedChecks' },
      { name: 'Interval', type: 'string', jsonPath: '.spec.analysis.interval' },
      { name: 'Strategy', type: 'string', jsonPath: '.status.strategy', priority: 1 },
      {
        name: 'Ready',
        type: 'string',
        jsonPath: '.status.conditions[?(@.type=="Ready")].status',
        priority: 1,
      },
      { name: 'Suspended', type: 'boolean', jsonPath: '.spec.suspend', priority: 1 },
      { name: 'Provider', type: 'string', jsonPath: '.spec.provider', priority: 1 },
      { name: 'Mirror', type: 'boolean', jsonPath: '.spec.analysis.mirror', priority: 1 },
      { name: 'StepWeight', type: 'integer', jsonPath: '.spec.analysis.stepWeight', priority: 1 },
      { name: 'StepWeights', type: 'string', jsonPath: '.spec.analysis.stepWeights', priority: 1 },
      { name: 'MaxWeight', type: 'integer', jsonPath: '.spec.analysis.maxWeight', priority: 1 },
      { name: 'Iterations', type: 'integer', jsonPath: '.status.iterations', priority: 1 },
      { name: 'LastTransitionTime', type: 'string', jsonPath: '.status.lastTransitionTime' },
    ],
  },
  {
    kind: METRIC_TEMPLATE_KIND,
    plural: METRIC_TEMPLATE_PLURAL,
    shortNames: ['mt'],
    schema: MetricTemplateSchema,
    columns: [
      { name: 'Provider', type: 'string', jsonPath: '.spec.provider.type' },
      { name: 'Address', type: 'string', jsonPath: '.spec.provider.address', priority: 1 },
      { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    ],
  },
  {
    kind: ALERT_PROVIDER_KIND,
    plural: ALERT_PROVIDER_PLURAL,
    shortNames: ['ap'],
    schema: AlertProviderSchema,
    columns: [
      { name: 'Type', type: 'string', jsonPath: '.spec.type' },
      { name: 'Channel', type: 'string', jsonPath: '.spec.channel', priority: 1 },
      { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    ],
  },
];

export function buildCustomResourceDefinitions(): CustomResourceDefinition[] {
  return KINDS.map((def) => ({
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${def.plural}.${GROUP}`, labels: { 'app.kubernetes.io/part-of': 'fledge' } },
    spec: {
      group: GROUP,
      names: {
        kind: def.kind,
        listKind: `${def.kind}List`,
        plural: def.plural,
        singular: def.kind.toLowerCase(),
        shortNames: def.shortNames,
        categories: ['fledge'],
      },
      scope: 'Namespaced',
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: def.columns,
          schema: { openAPIV3Schema: rootSchema(def.schema) },
        },
      ],
    },
  }));
}

const HEADER = '# Generated by `node hack/generate.ts` from src/api. Do not edit by hand.\n';

function toYaml(value: unknown): string {
  return stringify(value, { lineWidth: 0 });
}

/** Helm would read `{{` in descriptions (template placeholders) as an action. */
function escapeHelmActions(text: string): string {
  return text.replaceAll('{{', '{{ "{{" }}');
}

/** Every generated file, keyed by its path relative to the repository root. */
export function generatedCrdFiles(): Map<string, string> {
  const crds = buildCustomResourceDefinitions();
  const files = new Map<string, string>();
  for (const crd of crds)
    files.set(`crds/${crd.metadata.name.replace(/^([^.]+)\.(.*)$/, '$2_$1')}.yaml`, HEADER + toYaml(crd));
  files.set('charts/fledge/crds/fledge.yaml', HEADER + crds.map(toYaml).join('---\n'));
  const kept = crds.map((crd) =>
    toYaml({ ...crd, metadata: { ...crd.metadata, annotations: { 'helm.sh/resource-policy': 'keep' } } }),
  );
  files.set(
    'charts/fledge/templates/crds.yaml',
    `${HEADER}{{- if .Values.crd.create }}\n${escapeHelmActions(kept.join('---\n'))}{{- end }}\n`,
  );
  return files;
}
