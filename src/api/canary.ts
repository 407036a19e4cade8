import { Type, type Static, type TOptional, type TSchema, type TString } from '@sinclair/typebox';
import { API_VERSION, BuiltinMetrics, CANARY_KIND } from './constants.ts';
import {
  DnsLabel,
  Duration,
  HttpUrl,
  ObjectMetaSchema,
  ObjectName,
  Opaque,
  StringEnum,
  StringList,
  StringMap,
  celRules,
  type CelRule,
} from './schema-helpers.ts';
import {
  RouterProviders as routerDeclarationProviders,
  exclusiveServiceFields,
  providersWith,
  refUsers,
  routerFor,
  unroutedServiceFields,
} from '../routers/registry.ts';
import type { RouteRefField } from '../routers/declaration.ts';
import { CanaryStatusSchema } from './status.ts';

// Canary: field for field Flagger's flagger.app/v1beta1 Canary, under
// fledge.dev/v1beta1. Where Flagger silently reinterpreted a manifest (unknown
// provider, weight overshoot, a metric that can never fail, ...) the schema
// rejects it at admission with a message naming the field and the fix.

// ---------------------------------------------------------------- enums

/** Traffic routers (`spec.provider`): the names the routers' declarations accept, Flagger's set. */
export const RouterProviders = routerDeclarationProviders;
export type RouterProvider = string;

export const TargetKinds = ['Deployment', 'DaemonSet', 'Service'] as const;
export type TargetKind = (typeof TargetKinds)[number];

export const AutoscalerKinds = ['HorizontalPodAutoscaler', 'ScaledObject'] as const;
export type AutoscalerKind = (typeof AutoscalerKinds)[number];

export const WebhookTypes = [
  'confirm-rollout',
  'pre-rollout',
  'rollout',
  'confirm-traffic-increase',
  'confirm-promotion',
  'post-rollout',
  'rollback',
  'event',
] as const;
export type WebhookType = (typeof WebhookTypes)[number];

export const AlertSeverities = ['info', 'warn', 'error'] as const;
export type AlertSeverity = (typeof AlertSeverities)[number];

export const TrafficDistributions = ['PreferClose', 'PreferSameZone', 'PreferSameNode'] as const;
export const CookieSameSiteValues = ['Strict', 'Lax', 'None'] as const;
/** Gateway API URL rewrite flavours (`service.rewrite.type`). */
export const RewriteTypes = ['ReplaceFullPath', 'ReplacePrefixMatch'] as const;

/** Providers able to route by request attributes (A/B testing, `analysis.match`). */
export const MatchCapableProviders: readonly string[] = providersWith('abTesting');
/** Providers able to mirror traffic. */
export const MirrorCapableProviders: readonly string[] = providersWith('mirroring');
/** Providers able to pin sessions with cookies. */
export const SessionAffinityProviders: readonly string[] = providersWith('sessionAffinity');
/** Providers that clone the Ingress named by spec.ingressRef. */
export const IngressProviders: readonly string[] = refUsers('ingressRef').users.flatMap((d) => d.providers);
/** spec.service settings only the Gateway API router applies. */
export const GatewayApiServiceFields = exclusiveServiceFields(routerFor('gatewayapi:v1'));
/**
 * spec.service settings of a routing object (Istio's VirtualService, an HTTPRoute) that the
 * kubernetes provider cannot apply; the Gateway API ones have their own rule.
 */
export const KubernetesUnroutedServiceFields = unroutedServiceFields(
  routerFor('kubernetes'),
  GatewayApiServiceFields,
);

// ------------------------------------------------------------ references

function apiVersionRule(field: string, apiVersions: readonly string[]): CelRule {
  const list = apiVersions.map((v) => `'${v}'`).join(', ');
  return {
    rule: `self.apiVersion in [${list}]`,
    message: `${field}.apiVersion must be ${apiVersions.join(' or ')}`,
    fieldPath: '.apiVersion',
  };
}

const ApiVersion = Type.String({ description: 'API version of the referent.', minLength: 1, maxLength: 253 });

export const TargetRefSchema = Type.Object(
  {
    apiVersion: ApiVersion,
    kind: StringEnum(TargetKinds, {
      description: 'Deployment, DaemonSet, a core Service, or a Knative Service (serving.knative.dev/v1).',
    }),
    name: ObjectName('Name of the workload in the Canary namespace.'),
  },
  {
    description: 'The workload under release.',
    ...celRules({
      rule: "self.kind == 'Service' ? self.apiVersion in ['v1', 'serving.knative.dev/v1'] : self.apiVersion == 'apps/v1'",
      message:
        'targetRef.apiVersion must be apps/v1 for a Deployment or DaemonSet, v1 for a Service, or serving.knative.dev/v1 for a Knative Service',
      fieldPath: '.apiVersion',
    }),
  },
);
export type TargetRef = Static<typeof TargetRefSchema>;

export const AutoscalerRefSchema = Type.Object(
  {
    apiVersion: ApiVersion,
    kind: StringEnum(AutoscalerKinds, { description: 'HorizontalPodAutoscaler or ScaledObject.' }),
    name: ObjectName('Name of the autoscaler in the Canary namespace.'),
    primaryScalerQueries: Type.Optional(
      StringMap(
        'KEDA only: trigger name to query used for the primary ScaledObject instead of the original.',
        32,
      ),
    ),
    primaryScalerReplicas: Type.Optional(
      Type.Object(
        {
          minReplicas: Type.Optional(
            Type.Integer({ minimum: 1, description: 'Minimum replicas of the primary.' }),
          ),
          maxReplicas: Type.Optional(
            Type.Integer({ minimum: 1, description: 'Maximum replicas of the primary.' }),
          ),
        },
        {
          description: "Replica bounds of the primary's autoscaler; default: the original's.",
          ...celRules({
            rule: '!has(self.minReplicas) || !has(self.maxReplicas) || self.minReplicas <= self.maxReplicas',
            message: 'primaryScalerReplicas.minReplicas must not exceed maxReplicas',
            fieldPath: '.minReplicas',
          }),
        },
      ),
    ),
  },
  {
    description:
      'HorizontalPodAutoscaler (autoscaling/v2) or KEDA ScaledObject (keda.sh/v1alpha1) of the target.',
    ...celRules(
      {
        rule: "self.kind == 'HorizontalPodAutoscaler' ? self.apiVersion == 'autoscaling/v2' : self.apiVersion == 'keda.sh/v1alpha1'",
        message:
          'autoscalerRef.apiVersion must be autoscaling/v2 for a HorizontalPodAutoscaler or keda.sh/v1alpha1 for a ScaledObject',
        fieldPath: '.apiVersion',
      },
      {
        rule: "!has(self.primaryScalerQueries) || self.kind == 'ScaledObject'",
        message:
          'primaryScalerQueries applies only to a KEDA ScaledObject: remove it or set kind: ScaledObject',
        fieldPath: '.primaryScalerQueries',
      },
    ),
  },
);
export type AutoscalerRef = Static<typeof AutoscalerRefSchema>;

export const IngressRefSchema = Type.Object(
  {
    apiVersion: ApiVersion,
    kind: StringEnum(['Ingress'], { description: 'Ingress.' }),
    name: ObjectName('Name of the Ingress.'),
  },
  {
    description: 'NGINX or Skipper: the Ingress cloned into <name>-canary.',
    ...celRules(apiVersionRule('ingressRef', ['networking.k8s.io/v1'])),
  },
);
export type IngressRef = Static<typeof IngressRefSchema>;

export const RouteRefSchema = Type.Object(
  {
    apiVersion: ApiVersion,
    kind: StringEnum(['ApisixRoute'], { description: 'ApisixRoute.' }),
    name: ObjectName('Name of the ApisixRoute.'),
  },
  {
    description: 'APISIX: the ApisixRoute cloned for the canary.',
    ...celRules(apiVersionRule('routeRef', ['apisix.apache.org/v2'])),
  },
);
export type RouteRef = Static<typeof RouteRefSchema>;

export const UpstreamRefSchema = Type.Object(
  {
    apiVersion: ApiVersion,
    kind: StringEnum(['Upstream'], { description: 'Upstream.' }),
    name: ObjectName('Name of the Upstream.'),
    namespace: Type.Optional(DnsLabel('Namespace of the Upstream; default: the Canary namespace.')),
  },
  {
    description: 'Gloo: the Upstream whose settings are copied into the generated upstreams.',
    ...celRules(apiVersionRule('upstreamRef', ['gloo.solo.io/v1'])),
  },
);
export type UpstreamRef = Static<typeof UpstreamRefSchema>;

/** A reference to a Fledge object (MetricTemplate, AlertProvider), optionally in another namespace. */
export const LocalReferenceSchema = Type.Object({
  name: ObjectName('Name of the referenced object.'),
  namespace: Type.Optional(DnsLabel('Namespace of the referenced object; default: the Canary namespace.')),
});
export type LocalReference = Static<typeof LocalReferenceSchema>;

// ------------------------------------------------------------ matching

function stringMatch<K extends string>(operators: readonly K[], description: string) {
  const props = {} as Record<K, TOptional<TString>>;
  for (const op of operators) props[op] = Type.Optional(Type.String({ maxLength: 1024 }));
  const presence = operators.map((op) => `has(self.${op})`).join(', ');
  return Type.Object(props, {
    description,
    ...celRules({
      rule: `[${presence}].filter(x, x).size() == 1`,
      message: `set exactly one of ${operators.join(', ')}`,
    }),
  });
}

/** exact / prefix / regex (RE2), as Istio's StringMatch. */
export const StringMatchSchema = stringMatch(
  ['exact', 'prefix', 'regex'],
  'String match: exact, prefix or RE2 regex.',
);
/** Header match; also accepts suffix, as Flagger's A/B match does. */
export const HeaderMatchSchema = stringMatch(
  ['exact', 'prefix', 'suffix', 'regex'],
  'Header match: exact, prefix, suffix or RE2 regex.',
);
export type StringMatch = Static<typeof StringMatchSchema>;

function matchMap<T extends TSchema>(value: T, description: string) {
  return Type.Optional(
    Type.Record(Type.String({ maxLength: 256 }), value, { description, maxProperties: 32 }),
  );
}

/** A/B testing conditions (`analysis.match[]`): a request matching any entry goes to the canary. */
export const ABMatchSchema = Type.Object({
  headers: matchMap(HeaderMatchSchema, 'Header name to match (cookies: the "cookie" header).'),
  queryParams: matchMap(StringMatchSchema, 'Query parameter name to match.'),
  sourceLabels: Type.Optional(StringMap('Istio: source workload labels (needs the mesh gateway).', 32)),
});
export type ABMatch = Static<typeof ABMatchSchema>;

/** Istio HTTPMatchRequest, used by `service.match` for the generated route. */
export const HTTPMatchRequestSchema = Type.Object({
  name: Type.Optional(Type.String({ maxLength: 253 })),
  uri: Type.Optional(StringMatchSchema),
  scheme: Type.Optional(StringMatchSchema),
  method: Type.Optional(StringMatchSchema),
  authority: Type.Optional(StringMatchSchema),
  headers: matchMap(HeaderMatchSchema, 'Header name to match.'),
  withoutHeaders: matchMap(HeaderMatchSchema, 'Header name that must not match.'),
  queryParams: matchMap(StringMatchSchema, 'Query parameter name to match.'),
  port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
  sourceLabels: Type.Optional(StringMap('Source workload labels.', 32)),
  sourceNamespace: Type.Optional(Type.String({ maxLength: 63 })),
  gateways: Type.Optional(StringList('Gateways the match applies to.', 16)),
  ignoreUriCase: Type.Optional(Type.Boolean()),
});
export type HTTPMatchRequest = Static<typeof HTTPMatchRequestSchema>;

// ------------------------------------------------------------ service

const HeaderOperationsSchema = Type.Object({
  set: Type.Optional(StringMap('Headers to overwrite.', 32)),
  add: Type.Optional(StringMap('Headers to append.', 32)),
  remove: Type.Optional(StringList('Headers to remove.', 32)),
});

const GatewayBackendRefSchema = Type.Object(
  {
    group: Type.Optional(
      Type.String({ maxLength: 253, description: 'API group of the backend; default: core.' }),
    ),
    kind: Type.Optional(Type.String({ maxLength: 63, description: 'Kind of the backend; default Service.' })),
    name: Type.String({ minLength: 1, maxLength: 253, description: 'Name of the backend.' }),
    namespace: Type.Optional(DnsLabel('Namespace of the backend.')),
    port: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 65535, description: 'Port of a Service backend.' }),
    ),
  },
  celRules({
    rule: "(has(self.group) && self.group != '') || (has(self.kind) && self.kind != 'Service') || has(self.port)",
    message: 'backendRef.port is required when the backend is a Service',
    fieldPath: '.port',
    reason: 'FieldValueRequired',
  }),
);

/** Gateway API ParentReference (`service.gatewayRefs[]`). */
export const GatewayRefSchema = Type.Object({
  group: Type.Optional(
    Type.String({
      maxLength: 253,
      description: 'API group of the parent; default gateway.networking.k8s.io.',
    }),
  ),
  kind: Type.Optional(Type.String({ maxLength: 63, description: 'Kind of the parent; default Gateway.' })),
  name: Type.String({ minLength: 1, maxLength: 253, description: 'Name of the parent.' }),
  namespace: Type.Optional(DnsLabel('Namespace of the Gateway; default: the Canary namespace.')),
  sectionName: Type.Optional(
    Type.String({ maxLength: 253, description: 'Listener of the parent to attach to.' }),
  ),
  port: Type.Optional(
    Type.Integer({ minimum: 1, maximum: 65535, description: 'Listener port to attach to.' }),
  ),
});
export type GatewayRef = Static<typeof GatewayRefSchema>;

export const CustomMetadataSchema = Type.Object({
  labels: Type.Optional(StringMap('Labels to set.')),
  annotations: Type.Optional(StringMap('Annotations to set.')),
});
export type CustomMetadata = Static<typeof CustomMetadataSchema>;

export const CanaryServiceSchema = Type.Object(
  {
    name: Type.Optional(DnsLabel('Name of the apex Service; default: targetRef.name.')),
    port: Type.Integer({ minimum: 1, maximum: 65535, description: 'Port of the generated Services.' }),
    portName: Type.Optional(Type.String({ maxLength: 15, description: 'Name of that port; default: http.' })),
    targetPort: Type.Optional(
      Type.Union([Type.Integer({ minimum: 1, maximum: 65535 }), Type.String({ maxLength: 15 })], {
        description: 'Container port number or name; default: port.',
        'x-kubernetes-int-or-string': true,
      }),
    ),
    appProtocol: Type.Optional(
      Type.String({
        maxLength: 63,
        description: 'Application protocol of the port (tcp selects Istio TCP routes).',
      }),
    ),
    trafficDistribution: Type.Optional(
      StringEnum(TrafficDistributions, {
        description: 'Service trafficDistribution of the generated Services.',
      }),
    ),
    portDiscovery: Type.Optional(
      Type.Boolean({ description: 'Also expose every container port except those of the mesh sidecars.' }),
    ),
    headless: Type.Optional(Type.Boolean({ description: 'Generate headless primary and canary Services.' })),
    timeout: Type.Optional(Duration('service.timeout', { description: 'HTTP or gRPC request timeout.' })),
    backendTimeout: Type.Optional(
      Duration('service.backendTimeout', {
        description: 'Gateway API only: timeout of each backend request.',
      }),
    ),
    gateways: Type.Optional(StringList('Istio gateways of the VirtualService; default: mesh.', 32)),
    gatewayRefs: Type.Optional(
      Type.Array(GatewayRefSchema, {
        description: 'Gateway API: parent Gateways of the HTTPRoute.',
        maxItems: 32,
      }),
    ),
    hosts: Type.Optional(StringList('Host names of the route; default: the apex Service name.', 32)),
    delegation: Type.Optional(Type.Boolean({ description: 'Istio: generate a delegate VirtualService.' })),
    trafficPolicy: Type.Optional(
      Type.Object(
        {
          connectionPool: Type.Optional(Opaque('Istio connection pool settings.')),
          loadBalancer: Type.Optional(Opaque('Istio load balancer settings.')),
          outlierDetection: Type.Optional(Opaque('Istio outlier detection settings.')),
          tls: Type.Optional(Opaque('Istio TLS settings for upstream connections.')),
          portLevelSettings: Type.Optional(
            Type.Array(Opaque('Istio per-port traffic policy.'), { maxItems: 32 }),
          ),
        },
        { description: 'Istio DestinationRule traffic policy, copied verbatim into the generated rules.' },
      ),
    ),
    match: Type.Optional(
      Type.Array(HTTPMatchRequestSchema, {
        description: 'Request match of the generated route.',
        maxItems: 16,
      }),
    ),
    rewrite: Type.Optional(
      Type.Object(
        {
          uri: Type.Optional(Type.String({ maxLength: 1024 })),
          authority: Type.Optional(Type.String({ maxLength: 253 })),
          type: Type.Optional(
            StringEnum(RewriteTypes, { description: 'Gateway API only: how uri is applied.' }),
          ),
        },
        { description: 'URI and authority rewrite of the generated route.' },
      ),
    ),
    retries: Type.Optional(
      Type.Object(
        {
          attempts: Type.Optional(Type.Integer({ minimum: 0 })),
          perTryTimeout: Type.Optional(
            Duration('service.retries.perTryTimeout', { description: 'Timeout of each attempt.' }),
          ),
          retryOn: Type.Optional(
            Type.String({ maxLength: 1024, description: 'Conditions that trigger a retry.' }),
          ),
        },
        { description: 'Retry policy of the generated route.' },
      ),
    ),
    headers: Type.Optional(
      Type.Object(
        { request: Type.Optional(HeaderOperationsSchema), response: Type.Optional(HeaderOperationsSchema) },
        { description: 'Header operations of the generated route.' },
      ),
    ),
    mirror: Type.Optional(
      Type.Array(Type.Object({ backendRef: GatewayBackendRefSchema }), {
        description: 'Gateway API: extra RequestMirror filters of the HTTPRoute.',
        maxItems: 8,
      }),
    ),
    corsPolicy: Type.Optional(
      Type.Object(
        {
          allowOrigin: Type.Optional(StringList('Allowed origins (Istio <1.5 form).', 32)),
          allowOrigins: Type.Optional(Type.Array(StringMatchSchema, { maxItems: 32 })),
          allowMethods: Type.Optional(StringList('Allowed methods.', 16)),
          allowHeaders: Type.Optional(StringList('Allowed request headers.', 64)),
          exposeHeaders: Type.Optional(StringList('Headers the browser may read.', 64)),
          maxAge: Type.Optional(
            Duration('service.corsPolicy.maxAge', { description: 'Preflight cache lifetime.' }),
          ),
          allowCredentials: Type.Optional(Type.Boolean()),
        },
        { description: 'Istio CORS policy of the generated VirtualService.' },
      ),
    ),
    meshName: Type.Optional(
      Type.String({ maxLength: 253, description: 'App Mesh: mesh of the virtual nodes.' }),
    ),
    backends: Type.Optional(StringList('App Mesh: backends of the virtual nodes.', 64)),
    apex: Type.Optional(CustomMetadataSchema),
    primary: Type.Optional(CustomMetadataSchema),
    canary: Type.Optional(CustomMetadataSchema),
    unmanagedMetadata: Type.Optional(
      Type.Object(
        {
          labels: Type.Optional(StringList('Label keys Fledge must leave alone.', 64)),
          annotations: Type.Optional(StringList('Annotation keys Fledge must leave alone.', 64)),
        },
        { description: 'Metadata keys on generated objects that other tools own.' },
      ),
    ),
  },
  {
    description: 'How the apex, primary and canary Services and the routing objects are generated.',
    ...celRules({
      rule: '!(has(self.headless) && self.headless && has(self.portDiscovery) && self.portDiscovery)',
      message:
        'service.headless and service.portDiscovery cannot both be true: a headless Service has no port mapping',
      fieldPath: '.portDiscovery',
    }),
  },
);
export type CanaryService = Static<typeof CanaryServiceSchema>;

// ------------------------------------------------------------ analysis

export const SessionAffinitySchema = Type.Object(
  {
    cookieName: Type.String({
      minLength: 1,
      maxLength: 128,
      description: 'Cookie that pins a user to the canary.',
      ...celRules({
        rule: "self.matches('^[A-Za-z0-9!#$%&*+.^_|~-]+$')",
        message: 'cookieName must be a cookie token: letters, digits and !#$%&*+.^_|~-',
      }),
    }),
    primaryCookieName: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 128,
        description:
          'Cookie that pins a user to the primary once routed there, for one analysis interval (its Max-Age).',
        ...celRules({
          rule: "self.matches('^[A-Za-z0-9!#$%&*+.^_|~-]+$')",
          message: 'primaryCookieName must be a cookie token: letters, digits and !#$%&*+.^_|~-',
        }),
      }),
    ),
    maxAge: Type.Optional(
      Type.Integer({ minimum: 1, description: 'Canary cookie lifetime in seconds; default 86400.' }),
    ),
    domain: Type.Optional(Type.String({ maxLength: 253 })),
    path: Type.Optional(Type.String({ maxLength: 1024 })),
    httpOnly: Type.Optional(Type.Boolean()),
    secure: Type.Optional(Type.Boolean()),
    sameSite: Type.Optional(StringEnum(CookieSameSiteValues)),
    partitioned: Type.Optional(Type.Boolean()),
  },
  {
    description: 'Keep a user on the version they first reached during a progressive canary.',
    ...celRules(
      {
        rule: '!has(self.primaryCookieName) || self.primaryCookieName != self.cookieName',
        message:
          'sessionAffinity.primaryCookieName must differ from cookieName, or primary and canary users mix',
        fieldPath: '.primaryCookieName',
      },
      {
        rule: "!has(self.sameSite) || self.sameSite != 'None' || (has(self.secure) && self.secure)",
        message:
          'sessionAffinity.sameSite None needs secure: true (browsers drop insecure SameSite=None cookies)',
        fieldPath: '.secure',
      },
      {
        rule: '!(has(self.partitioned) && self.partitioned) || (has(self.secure) && self.secure)',
        message:
          'sessionAffinity.partitioned needs secure: true (browsers drop insecure partitioned cookies)',
        fieldPath: '.secure',
      },
    ),
  },
);
export type SessionAffinity = Static<typeof SessionAffinitySchema>;

export const CanaryThresholdRangeSchema = Type.Object(
  {
    min: Type.Optional(Type.Number({ description: 'Lowest passing value.' })),
    max: Type.Optional(Type.Number({ description: 'Highest passing value.' })),
  },
  {
    description: 'Values inside [min, max] pass; either bound may be left open.',
    ...celRules(
      {
        rule: 'has(self.min) || has(self.max)',
        message: 'thresholdRange needs min, max or both',
        reason: 'FieldValueRequired',
      },
      {
        rule: '!has(self.min) || !has(self.max) || self.min <= self.max',
        message: 'thresholdRange.min must not be greater than thresholdRange.max',
        fieldPath: '.min',
      },
    ),
  },
);
export type CanaryThresholdRange = Static<typeof CanaryThresholdRangeSchema>;

const builtinMetricList = BuiltinMetrics.map((m) => `'${m}'`).join(', ');

export const CanaryMetricSchema = Type.Object(
  {
    name: Type.String({
      minLength: 1,
      maxLength: 253,
      description: 'Builtin metric (request-success-rate, request-duration) or any name with templateRef.',
    }),
    interval: Type.Optional(
      Duration('metric interval', { description: 'Window the query looks back over; default 1m.' }),
    ),
    thresholdRange: Type.Optional(CanaryThresholdRangeSchema),
    threshold: Type.Optional(
      Type.Number({
        description:
          'Deprecated: use thresholdRange. Minimum for request-success-rate; maximum for request-duration, inline queries and template metrics.',
      }),
    ),
    query: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 16384,
        description: 'Deprecated: use templateRef. Inline PromQL run against spec.metricsServer.',
      }),
    ),
    templateRef: Type.Optional(LocalReferenceSchema),
    templateVariables: Type.Optional(
      StringMap('Values for {{ variables.<key> }} in the template query (or the inline query).', 64),
    ),
    noDataLimit: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 1000,
        description:
          'Fledge extension. Ticks of one run on which this metric may give no verdict (no data, or its provider ' +
          'failed) before the run rolls back; default ceil(progressDeadlineSeconds / analysis.interval).',
      }),
    ),
  },
  celRules(
    {
      rule: `self.name in [${builtinMetricList}] || has(self.templateRef) || has(self.query)`,
      messageExpression: `'metric "' + self.name + '" is not builtin (${BuiltinMetrics.join(', ')}): set templateRef to a MetricTemplate'`,
      fieldPath: '.templateRef',
      reason: 'FieldValueRequired',
    },
    {
      rule: '!(has(self.templateRef) && has(self.query))',
      message:
        'metric query (deprecated inline PromQL) and templateRef are mutually exclusive: keep templateRef',
      fieldPath: '.query',
    },
    {
      // Flagger judged by thresholdRange and ignored threshold; one bound per metric keeps that visible.
      rule: '!(has(self.threshold) && has(self.thresholdRange))',
      message:
        'metric threshold is ignored when thresholdRange is set (Flagger ignored it too): remove threshold',
      fieldPath: '.threshold',
    },
    {
      rule: 'has(self.threshold) || has(self.thresholdRange)',
      message:
        'a metric needs a bound: set thresholdRange.min, thresholdRange.max or both (Flagger compared a metric without one against 0)',
      fieldPath: '.thresholdRange',
      reason: 'FieldValueRequired',
    },
    {
      rule: '!has(self.templateVariables) || has(self.templateRef) || has(self.query)',
      message:
        'metric templateVariables needs templateRef or query: variables are only substituted into queries',
      fieldPath: '.templateVariables',
    },
  ),
);
export type CanaryMetric = Static<typeof CanaryMetricSchema>;

/** Empty type is accepted for Flagger compatibility and means rollout. */
export const CanaryWebhookSchema = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 253, description: 'Unique name within the analysis.' }),
  type: Type.Optional(
    StringEnum(['', ...WebhookTypes], { description: 'When the hook runs; default (or empty): rollout.' }),
  ),
  url: HttpUrl('webhook url', 'Endpoint that receives the POST.'),
  timeout: Type.Optional(
    Duration('webhook timeout', { description: 'Time allowed for the call, retries included; default 10s.' }),
  ),
  retries: Type.Optional(
    Type.Integer({
      minimum: 0,
      description: 'Retries of a failed request while the timeout lasts; default 0.',
    }),
  ),
  disableTLS: Type.Optional(Type.Boolean({ description: 'Skip TLS certificate verification.' })),
  muteAlert: Type.Optional(Type.Boolean({ description: 'Send no alert when this hook fails.' })),
  metadata: Type.Optional(StringMap('Key-value pairs sent in the payload.')),
});
export type CanaryWebhook = Static<typeof CanaryWebhookSchema>;

/** Empty severity is accepted for Flagger compatibility and means info. */
export const CanaryAlertSchema = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 253, description: 'Unique name within the analysis.' }),
  severity: Type.Optional(
    StringEnum(['', ...AlertSeverities], {
      description: 'info receives every alert, warn warnings and errors, error only errors; default info.',
    }),
  ),
  providerRef: LocalReferenceSchema,
});
export type CanaryAlert = Static<typeof CanaryAlertSchema>;

const Percent = (description: string, minimum = 1) => Type.Integer({ minimum, maximum: 100, description });

function keyedList<T extends TSchema>(items: T, description: string, maxItems: number) {
  // A map-typed list: duplicate names are rejected and server-side apply merges by name.
  return Type.Array(items, {
    description,
    maxItems,
    'x-kubernetes-list-type': 'map',
    'x-kubernetes-list-map-keys': ['name'],
  });
}

export const CanaryAnalysisSchema = Type.Object(
  {
    interval: Type.Optional(
      Duration('analysis.interval', {
        description: 'Time between analysis steps; default 60s.',
        minimum: '10s',
      }),
    ),
    threshold: Type.Optional(
      Type.Integer({ minimum: 1, description: 'Failed checks within a run before rolling back; default 1.' }),
    ),
    maxWeight: Type.Optional(Percent('Highest canary weight before promotion; default 100. Never exceeded.')),
    stepWeight: Type.Optional(Percent('Weight added at each step.')),
    stepWeights: Type.Optional(
      Type.Array(Percent('A weight.'), {
        description: 'Explicit, strictly increasing weights; the last one is the maximum.',
        minItems: 1,
        maxItems: 100,
        ...celRules({
          rule: 'self.isSorted() && self.all(w, self.exists_one(v, v == w))',
          message: 'analysis.stepWeights must be strictly increasing, e.g. [5, 10, 25, 50]',
        }),
      }),
    ),
    stepWeightPromotion: Type.Optional(
      Percent('Weight moved to the primary at each promotion step; default all.'),
    ),
    iterations: Type.Optional(
      Type.Integer({ minimum: 1, description: 'Number of analysis steps for A/B testing and blue/green.' }),
    ),
    match: Type.Optional(
      Type.Array(ABMatchSchema, {
        description: 'A/B testing: requests matching any entry go to the canary. Needs iterations.',
        minItems: 1,
        maxItems: 16,
      }),
    ),
    mirror: Type.Optional(Type.Boolean({ description: 'Mirror primary traffic to the canary.' })),
    mirrorWeight: Type.Optional(Percent('Percentage of traffic mirrored; default 100.')),
    sessionAffinity: Type.Optional(SessionAffinitySchema),
    primaryReadyThreshold: Type.Optional(
      Percent('Percent of primary replicas that must be available; default 100.', 0),
    ),
    canaryReadyThreshold: Type.Optional(
      Percent('Percent of canary replicas that must be available; default 100.', 0),
    ),
    metrics: Type.Optional(keyedList(CanaryMetricSchema, 'Checks run at every step.', 32)),
    webhooks: Type.Optional(keyedList(CanaryWebhookSchema, 'Hooks run around and during the analysis.', 32)),
    alerts: Type.Optional(keyedList(CanaryAlertSchema, 'Where alerts about this canary go.', 16)),
  },
  {
    description: 'How a new revision is analysed and how traffic moves to it.',
    ...celRules(
      {
        rule: 'has(self.stepWeight) || has(self.stepWeights) || has(self.iterations)',
        message:
          'analysis needs a schedule: set stepWeight or stepWeights for a progressive canary, or iterations for A/B testing and blue/green',
        fieldPath: '.iterations',
        reason: 'FieldValueRequired',
      },
      {
        rule: '!(has(self.stepWeight) && has(self.stepWeights))',
        message:
          'analysis.stepWeight and analysis.stepWeights are mutually exclusive: use stepWeight for equal steps or stepWeights for an explicit list',
        fieldPath: '.stepWeights',
      },
      {
        rule: '!(has(self.iterations) && (has(self.stepWeight) || has(self.stepWeights)))',
        message:
          'analysis.iterations (A/B testing, blue/green) cannot be combined with stepWeight or stepWeights (progressive canary): keep one',
        fieldPath: '.iterations',
      },
      {
        rule: '!has(self.stepWeight) || !has(self.maxWeight) || self.stepWeight <= self.maxWeight',
        message: 'analysis.stepWeight must not exceed analysis.maxWeight',
        fieldPath: '.stepWeight',
      },
      {
        rule: '!has(self.maxWeight) || !has(self.stepWeights) || self.stepWeights[size(self.stepWeights) - 1] == self.maxWeight',
        message:
          'with analysis.stepWeights the last step is the maximum weight: remove analysis.maxWeight or make it equal to the last step',
        fieldPath: '.maxWeight',
      },
      {
        rule: '!has(self.iterations) || !(has(self.maxWeight) || has(self.stepWeightPromotion))',
        message:
          'analysis.maxWeight and analysis.stepWeightPromotion apply only to a progressive canary (stepWeight or stepWeights): remove them when using iterations',
        fieldPath: '.iterations',
      },
      {
        rule: '!has(self.match) || has(self.iterations)',
        message:
          'analysis.match (A/B testing) needs analysis.iterations: set iterations, and remove stepWeight/stepWeights',
        fieldPath: '.match',
      },
      {
        rule: '!has(self.mirrorWeight) || (has(self.mirror) && self.mirror)',
        message: 'analysis.mirrorWeight needs analysis.mirror: true',
        fieldPath: '.mirrorWeight',
      },
      {
        rule: '!(has(self.mirror) && self.mirror && has(self.match))',
        message: 'analysis.mirror cannot be combined with analysis.match (A/B testing): remove one',
        fieldPath: '.mirror',
      },
      {
        rule: '!has(self.sessionAffinity) || !has(self.iterations)',
        message:
          'analysis.sessionAffinity applies only to a progressive canary: remove it or use stepWeight/stepWeights instead of iterations',
        fieldPath: '.sessionAffinity',
      },
    ),
  },
);
export type CanaryAnalysis = Static<typeof CanaryAnalysisSchema>;

// ------------------------------------------------------------ spec

/** CEL membership test: `<expr> in ['a', 'b']`. */
function celList(values: readonly string[], expr: string): string {
  return `${expr} in [${values.map((v) => `'${v}'`).join(', ')}]`;
}

/**
 * Rules tying spec.provider to the analysis. Written once and instantiated for
 * `analysis` and its deprecated alias `canaryAnalysis`, which share a schema
 * but are distinct CEL types.
 */
function providerAnalysisRules(field: 'analysis' | 'canaryAnalysis'): CelRule[] {
  const a = `self.${field}`;
  const isProvider = (p: string) => `(has(self.provider) && self.provider == '${p}')`;
  const providerIn = (list: readonly string[]) => celList(list, 'self.provider');
  return [
    {
      rule: `!${isProvider('kubernetes')} || !has(${a}) || has(${a}.iterations)`,
      message: `provider kubernetes supports only blue/green: set spec.${field}.iterations (Flagger silently used 10) instead of stepWeight/stepWeights`,
      fieldPath: `.${field}.iterations`,
      reason: 'FieldValueRequired',
    },
    {
      rule: `!has(self.provider) || !has(${a}) || !has(${a}.match) || ${providerIn(MatchCapableProviders)}`,
      message: `spec.${field}.match (A/B testing) needs a provider that routes by request: ${MatchCapableProviders.join(', ')}`,
      fieldPath: `.${field}.match`,
    },
    {
      rule: `!has(self.provider) || !has(${a}) || !has(${a}.mirror) || !${a}.mirror || ${providerIn(MirrorCapableProviders)}`,
      message: `spec.${field}.mirror needs a provider that mirrors traffic: ${MirrorCapableProviders.join(', ')}`,
      fieldPath: `.${field}.mirror`,
    },
    {
      rule: `!has(self.provider) || !has(${a}) || !has(${a}.sessionAffinity) || ${providerIn(SessionAffinityProviders)}`,
      message: `spec.${field}.sessionAffinity needs a provider that routes by cookie: ${SessionAffinityProviders.join(', ')}`,
      fieldPath: `.${field}.sessionAffinity`,
    },
  ];
}

const isGatewayApi = "(has(self.provider) && self.provider.startsWith('gatewayapi'))";

/** A reference only some routers read: rejected with any other, required by those that need it. */
function routeRefRules(field: RouteRefField, purpose: string): CelRule[] {
  const { users, requiring } = refUsers(field);
  const providers = users.flatMap((d) => d.providers);
  const names = (list: readonly string[]) => list.join(' and ');
  const rules: CelRule[] = [
    {
      rule: `!has(self.${field}) || !has(self.provider) || ${celList(providers, 'self.provider')}`,
      message:
        providers.length === 1
          ? `spec.${field} is used only by the ${providers[0]} provider: remove it or set spec.provider: ${providers[0]}`
          : `spec.${field} is used only by the ${names(providers)} providers: remove it or change spec.provider`,
      fieldPath: `.${field}`,
    },
  ];
  const required = requiring.flatMap((d) => d.providers);
  if (required.length > 0) {
    rules.push({
      rule: `!(has(self.provider) && ${celList(required, 'self.provider')}) || has(self.${field})`,
      message: `provider${required.length === 1 ? '' : 's'} ${names(required)} need${required.length === 1 ? 's' : ''} spec.${field} naming ${purpose}`,
      fieldPath: `.${field}`,
      reason: 'FieldValueRequired',
    });
  }
  return rules;
}

export const CanarySpecSchema = Type.Object(
  {
    provider: Type.Optional(
      StringEnum(RouterProviders, {
        description: "Traffic router; default: the controller's --mesh-provider flag.",
      }),
    ),
    metricsServer: Type.Optional(
      HttpUrl('spec.metricsServer', "Prometheus URL for builtin metrics; default: the controller's setting."),
    ),
    targetRef: TargetRefSchema,
    autoscalerRef: Type.Optional(AutoscalerRefSchema),
    ingressRef: Type.Optional(IngressRefSchema),
    routeRef: Type.Optional(RouteRefSchema),
    upstreamRef: Type.Optional(UpstreamRefSchema),
    service: Type.Optional(CanaryServiceSchema),
    analysis: Type.Optional(CanaryAnalysisSchema),
    canaryAnalysis: Type.Optional({
      ...CanaryAnalysisSchema,
      description: 'Deprecated alias of analysis; accepted and treated as analysis.',
    }),
    progressDeadlineSeconds: Type.Optional(
      Type.Integer({
        minimum: 1,
        description: 'Seconds a step may wait for readiness before failing; default 600.',
      }),
    ),
    skipAnalysis: Type.Optional(Type.Boolean({ description: 'Promote new revisions without analysis.' })),
    revertOnDeletion: Type.Optional(
      Type.Boolean({
        description:
          'Keep the apex Service and routing object Fledge created after the Canary is deleted (traffic goes back to the target either way).',
      }),
    ),
    suspend: Type.Optional(
      Type.Boolean({ description: 'Pause: freeze the current run in place until set back to false.' }),
    ),
  },
  {
    description: 'Desired release process of one workload.',
    ...celRules(
      {
        rule: 'has(self.analysis) || has(self.canaryAnalysis)',
        message:
          'spec.analysis is required: set at least interval plus stepWeight, stepWeights or iterations (use skipAnalysis: true to promote without checks)',
        fieldPath: '.analysis',
        reason: 'FieldValueRequired',
      },
      {
        rule: '!(has(self.analysis) && has(self.canaryAnalysis))',
        message: 'spec.canaryAnalysis is the deprecated alias of spec.analysis: keep only spec.analysis',
        fieldPath: '.canaryAnalysis',
      },
      {
        rule: "has(self.service) || !(self.targetRef.kind in ['Deployment', 'DaemonSet'])",
        message:
          'spec.service is required for a Deployment or DaemonSet target: set at least spec.service.port',
        fieldPath: '.service',
        reason: 'FieldValueRequired',
      },
      {
        rule: "!(has(self.provider) && self.provider == 'knative') || self.targetRef.apiVersion == 'serving.knative.dev/v1'",
        message:
          'provider knative needs a Knative Service target: set targetRef to apiVersion serving.knative.dev/v1, kind Service',
        fieldPath: '.targetRef',
      },
      {
        rule: "self.targetRef.apiVersion != 'serving.knative.dev/v1' || (has(self.provider) && self.provider == 'knative')",
        message: 'a Knative Service target needs spec.provider: knative',
        fieldPath: '.provider',
      },
      {
        rule: "!has(self.autoscalerRef) || self.targetRef.kind != 'DaemonSet'",
        message: 'a DaemonSet cannot be autoscaled: remove spec.autoscalerRef',
        fieldPath: '.autoscalerRef',
      },
      ...routeRefRules('ingressRef', 'the Ingress to clone for the canary'),
      ...routeRefRules('routeRef', 'the ApisixRoute to clone for the canary'),
      ...routeRefRules('upstreamRef', 'the Upstream to copy'),
      {
        rule: `!has(self.provider) || !has(self.service) || !(${GatewayApiServiceFields.map((f) => `has(self.service.${f})`).join(' || ')}) || ${isGatewayApi}`,
        message: `spec.service.${GatewayApiServiceFields.join(', ')} are Gateway API settings: remove them or set spec.provider to gatewayapi:v1`,
        fieldPath: '.service',
      },
      {
        rule: `!(has(self.provider) && self.provider == 'kubernetes') || !has(self.service) || !(${KubernetesUnroutedServiceFields.map((f) => `has(self.service.${f})`).join(' || ')})`,
        message: `provider kubernetes switches the apex Service's selector and applies no request rule: spec.service.${KubernetesUnroutedServiceFields.join(', ')} need a routing provider: remove them or set spec.provider to one that applies them`,
        fieldPath: '.service',
      },
      ...providerAnalysisRules('analysis'),
      ...providerAnalysisRules('canaryAnalysis'),
    ),
  },
);
export type CanarySpec = Static<typeof CanarySpecSchema>;

export const CanarySchema = Type.Object(
  {
    apiVersion: Type.Literal(API_VERSION),
    kind: Type.Literal(CANARY_KIND),
    metadata: ObjectMetaSchema,
    spec: CanarySpecSchema,
    status: Type.Optional(CanaryStatusSchema),
  },
  { description: 'Progressive delivery of one workload: canary, A/B testing or blue/green.' },
);
export type Canary = Static<typeof CanarySchema>;
