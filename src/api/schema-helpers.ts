import { Type, type SchemaOptions, type TLiteral, type TSchema, type TUnion } from '@sinclair/typebox';

// Building blocks shared by the three kinds. Everything here produces plain
// TypeBox schemas; `crd.ts` turns them into structural CRD schemas, so any
// vendor keyword (x-kubernetes-*) set here ends up verbatim in the CRD.

/** One CEL rule as the apiserver reads it from `x-kubernetes-validations`. */
export interface CelRule {
  rule: string;
  message?: string;
  messageExpression?: string;
  /** Path, relative to the node carrying the rule, that the error is reported on. */
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
}

export function celRules(...rules: CelRule[]): { 'x-kubernetes-validations': CelRule[] } {
  return { 'x-kubernetes-validations': rules };
}

/** A closed set of strings; the CRD gets an `enum`, TypeScript a literal union. */
export function StringEnum<T extends string>(
  values: readonly T[],
  options?: SchemaOptions,
): TUnion<TLiteral<T>[]> {
  return Type.Union(
    values.map((value) => Type.Literal(value)),
    options,
  );
}

/** Go `time.ParseDuration` syntax restricted to non-negative values with at least one unit. */
export const GO_DURATION_PATTERN = '^([0-9]+([.][0-9]+)?(ns|us|µs|ms|s|m|h))+$';

/** A Go duration string (`30s`, `1m`, `1h30m`). `minimum` is itself a Go duration. */
export function Duration(field: string, options: { description: string; minimum?: string }) {
  const rules: CelRule[] = [
    {
      rule: `self.matches('${GO_DURATION_PATTERN}')`,
      message: `${field} must be a Go duration such as 30s, 1m or 1h30m`,
    },
  ];
  if (options.minimum !== undefined) {
    rules.push({
      // Evaluated only once the format rule holds, so duration() never sees a bad string.
      rule: `!self.matches('${GO_DURATION_PATTERN}') || duration(self) >= duration('${options.minimum}')`,
      message: `${field} must be at least ${options.minimum}`,
    });
  }
  return Type.String({ description: options.description, maxLength: 32, ...celRules(...rules) });
}

const DNS_LABEL_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
const DNS_SUBDOMAIN_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';

/** A Kubernetes object name (RFC 1123 subdomain). */
export function ObjectName(description: string) {
  return Type.String({
    description,
    minLength: 1,
    maxLength: 253,
    ...celRules({
      rule: `self.matches('${DNS_SUBDOMAIN_PATTERN}')`,
      message:
        'must be a lowercase RFC 1123 name: a-z, 0-9, "-" and ".", starting and ending with a letter or digit',
    }),
  });
}

/** A namespace or Service name (RFC 1123 label). */
export function DnsLabel(description: string) {
  return Type.String({
    description,
    minLength: 1,
    maxLength: 63,
    ...celRules({
      rule: `self.matches('${DNS_LABEL_PATTERN}')`,
      message: 'must be a lowercase RFC 1123 label: a-z, 0-9 and "-", at most 63 characters',
    }),
  });
}

/** An absolute http(s) URL. */
export function HttpUrl(field: string, description: string) {
  return Type.String({
    description,
    maxLength: 2048,
    ...celRules({
      rule: "self.matches('^https?://[^ /?#]+[^ ]*$')",
      message: `${field} must be an absolute http:// or https:// URL`,
    }),
  });
}

/** map[string]string, bounded so CEL rules iterating it stay within the cost budget. */
export function StringMap(description: string, maxProperties = 64) {
  return Type.Record(Type.String(), Type.String({ maxLength: 4096 }), { description, maxProperties });
}

/** A list of plain strings. */
export function StringList(description: string, maxItems: number) {
  return Type.Array(Type.String({ maxLength: 512 }), { description, maxItems });
}

/**
 * A subtree handed verbatim to a third-party object (e.g. an Istio DestinationRule
 * traffic policy). The owning project validates it; Fledge keeps every field.
 */
export function Opaque(description: string) {
  return Type.Record(Type.String(), Type.Unknown(), {
    description,
    'x-kubernetes-preserve-unknown-fields': true,
  });
}

/** Object metadata as far as Fledge reads it. The CRD leaves metadata to the apiserver. */
export const ObjectMetaSchema = Type.Object(
  {
    name: Type.Optional(Type.String()),
    generateName: Type.Optional(Type.String()),
    namespace: Type.Optional(Type.String()),
    uid: Type.Optional(Type.String()),
    resourceVersion: Type.Optional(Type.String()),
    generation: Type.Optional(Type.Integer()),
    creationTimestamp: Type.Optional(Type.String()),
    deletionTimestamp: Type.Optional(Type.String()),
    labels: Type.Optional(Type.Record(Type.String(), Type.String())),
    annotations: Type.Optional(Type.Record(Type.String(), Type.String())),
    finalizers: Type.Optional(Type.Array(Type.String())),
    ownerReferences: Type.Optional(Type.Array(Type.Record(Type.String(), Type.Unknown()))),
  },
  { additionalProperties: true },
);

/** Status of MetricTemplate and AlertProvider: conditions only. */
export function conditionsStatus<T extends TSchema>(condition: T) {
  return Type.Object({
    observedGeneration: Type.Optional(Type.Integer({ minimum: 0 })),
    conditions: Type.Optional(Type.Array(condition)),
  });
}
