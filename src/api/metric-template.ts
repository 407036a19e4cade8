import { Type, type Static } from '@sinclair/typebox';
import { API_VERSION, METRIC_TEMPLATE_KIND } from './constants.ts';
import {
  HttpUrl,
  ObjectMetaSchema,
  ObjectName,
  StringEnum,
  celRules,
  conditionsStatus,
} from './schema-helpers.ts';
import { ConditionSchema } from './status.ts';

// MetricTemplate: a named, reusable query against a metric provider. The query
// is a template; Canary metrics reference it with templateRef and fill
// {{ variables.<key> }} from templateVariables.

/** Metric provider types Flagger's CRD accepts. An unknown type is rejected (Flagger fell back to prometheus). */
export const MetricProviderTypes = [
  'prometheus',
  'influxdb',
  'datadog',
  'externalmetrics',
  'stackdriver',
  'cloudwatch',
  'newrelic',
  'graphite',
  'dynatrace',
  'keptn',
  'splunk',
] as const;
export type MetricProviderType = (typeof MetricProviderTypes)[number];

export const MetricTemplateProviderSchema = Type.Object(
  {
    type: StringEnum(MetricProviderTypes, { description: 'Kind of metric store.' }),
    address: Type.Optional(HttpUrl('provider.address', 'API address of the metric store.')),
    headers: Type.Optional(
      Type.Record(
        Type.String({ maxLength: 256 }),
        Type.Array(Type.String({ maxLength: 4096 }), { maxItems: 16 }),
        {
          description: 'Extra HTTP headers sent with every query.',
          maxProperties: 32,
        },
      ),
    ),
    secretRef: Type.Optional(
      Type.Object(
        { name: ObjectName('Secret in the template namespace.') },
        {
          description:
            'Secret with the credentials (prometheus: token, or username and password; other stores: their API keys).',
        },
      ),
    ),
    region: Type.Optional(Type.String({ maxLength: 64, description: 'Cloud region (cloudwatch).' })),
    insecureSkipVerify: Type.Optional(Type.Boolean({ description: 'Skip TLS certificate verification.' })),
  },
  {
    description: 'Where and how to run the query.',
    ...celRules({
      rule: "self.type != 'cloudwatch' || has(self.region)",
      message: 'provider type cloudwatch needs provider.region',
      fieldPath: '.region',
      reason: 'FieldValueRequired',
    }),
  },
);
export type MetricTemplateProvider = Static<typeof MetricTemplateProviderSchema>;

export const MetricTemplateSpecSchema = Type.Object({
  provider: MetricTemplateProviderSchema,
  query: Type.String({
    minLength: 1,
    maxLength: 65536,
    description:
      'Query template. Placeholders: {{ name }} {{ namespace }} {{ target }} {{ service }} {{ ingress }} {{ route }} {{ interval }} {{ variables.<key> }}.',
  }),
});
export type MetricTemplateSpec = Static<typeof MetricTemplateSpecSchema>;

export const MetricTemplateStatusSchema = conditionsStatus(ConditionSchema);
export type MetricTemplateStatus = Static<typeof MetricTemplateStatusSchema>;

export const MetricTemplateSchema = Type.Object(
  {
    apiVersion: Type.Literal(API_VERSION),
    kind: Type.Literal(METRIC_TEMPLATE_KIND),
    metadata: ObjectMetaSchema,
    spec: MetricTemplateSpecSchema,
    status: Type.Optional(MetricTemplateStatusSchema),
  },
  { description: 'A reusable metric query referenced by Canary metrics.' },
);
export type MetricTemplate = Static<typeof MetricTemplateSchema>;
