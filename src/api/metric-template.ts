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
import { metricStores, metricStoreTypes } from '../analysis/stores/index.ts';

// MetricTemplate: a named, reusable query against a metric provider. The query
// is a template; Canary metrics reference it with templateRef and fill
// {{ variables.<key> }} from templateVariables.

/** Metric provider types: one per store declaration. An unknown type is rejected (Flagger fell back to prometheus). */
export const MetricProviderTypes = metricStoreTypes;
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
    ...celRules(...storeRules()),
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

/** What each store's declaration makes required: an address, a region. */
function storeRules() {
  const needing = (has: (store: (typeof metricStores)[number]) => boolean) =>
    metricStores.filter(has).map((store) => store.type);
  const rule = (types: readonly string[], field: 'address' | 'region') => ({
    rule: `!(self.type in [${types.map((t) => `'${t}'`).join(', ')}]) || has(self.${field})`,
    message: `provider ${types.length === 1 ? 'type' : 'types'} ${types.join(', ')} ${types.length === 1 ? 'needs' : 'need'} provider.${field}`,
    fieldPath: `.${field}`,
    reason: 'FieldValueRequired' as const,
  });
  const address = needing((store) => store.address.kind === 'required');
  const region = needing((store) => store.region === 'required');
  return [
    ...(address.length > 0 ? [rule(address, 'address')] : []),
    ...(region.length > 0 ? [rule(region, 'region')] : []),
  ];
}
