import fc from 'fast-check';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import {
  AlertSeverities,
  AutoscalerKinds,
  normalizeCanary,
  RouterProviders,
  TargetKinds,
  WebhookTypes,
  type AlertProvider,
  type Canary,
  type MetricTemplate,
} from '../../../src/api/index.ts';
import { classifyError } from '../../../src/controller/failures.ts';
import { createPreflight } from '../../../src/controller/preflight.ts';
import { decide } from '../../../src/engine/index.ts';

// Canaries as a user might write them, right or wrong: a Canary the CRD admits, edited a
// few times with values from small domains of valid values, edge values and plain mistakes,
// so a sample is a mix of what the CRD rejects and what it lets through for the operator
// to refuse or run.

const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined, freq: 2 });
/** Mostly `valid`, now and then a mistake: enough get through the schema to reach the operator. */
const mostly = <T, U>(valid: fc.Arbitrary<T>, mistake: fc.Arbitrary<U>) =>
  fc.oneof({ weight: 100, arbitrary: valid }, { weight: 1, arbitrary: mistake });
const duration = mostly(
  fc.constantFrom('10s', '30s', '1m', '1m30s', '2h', '5s'),
  fc.constantFrom('0s', 'soon', ''),
);
const percent = mostly(fc.integer({ min: 0, max: 100 }), fc.constantFrom(-5, 105));
const name = mostly(fc.constantFrom('web', 'api', 'a', 'x-y'), fc.constantFrom('Bad_Name', ''));
const count = (max: number) => mostly(fc.integer({ min: 1, max }), fc.constantFrom(0, -1));

const metric = fc.record(
  {
    name: mostly(
      fc.constantFrom('request-success-rate', 'request-duration', 'errors', 'latency'),
      fc.constant(''),
    ),
    interval: duration,
    thresholdRange: fc.record(
      { min: fc.integer({ min: -1, max: 100 }), max: fc.integer({ min: -1, max: 1000 }) },
      {
        requiredKeys: [],
      },
    ),
    threshold: count(100),
    query: mostly(fc.constantFrom('sum(up)', 'vector(1)'), fc.constant('')),
    templateRef: fc.record(
      { name: fc.constantFrom('error-rate', 'absent'), namespace: maybe(name) },
      {
        requiredKeys: ['name'],
      },
    ),
    templateVariables: fc.dictionary(fc.constantFrom('a', 'b'), fc.constantFrom('1', '')),
  },
  { requiredKeys: ['name'] },
);

const webhook = fc.record(
  {
    name: fc.constantFrom('gate', 'load', 'smoke', ''),
    type: fc.constantFrom(...WebhookTypes, 'bogus'),
    url: fc.constantFrom(
      'http://hooks.test/gate',
      'https://u:p@hooks.test/x?token=t',
      'ftp://x',
      'not a url',
    ),
    timeout: duration,
    retries: fc.integer({ min: -1, max: 5 }),
    disableTLS: fc.boolean(),
    metadata: fc.dictionary(fc.constantFrom('cmd', 'type'), fc.constantFrom('hey', 'bash')),
  },
  { requiredKeys: ['name', 'url'] },
);

const alert = fc.record(
  {
    name: mostly(fc.constantFrom('chat', 'on-call'), fc.constant('')),
    severity: mostly(fc.constantFrom(...AlertSeverities), fc.constant('fatal')),
    providerRef: fc.record(
      { name: fc.constantFrom('slack', 'absent'), namespace: maybe(name) },
      {
        requiredKeys: ['name'],
      },
    ),
  },
  { requiredKeys: ['name', 'providerRef'] },
);

const analysis = fc.record(
  {
    interval: duration,
    threshold: count(10),
    maxWeight: percent,
    stepWeight: percent,
    stepWeights: mostly(
      fc.array(fc.integer({ min: 1, max: 100 }), { minLength: 1, maxLength: 4 }),
      fc.constant([]),
    ),
    stepWeightPromotion: percent,
    iterations: count(20),
    match: fc.constantFrom(
      [{ headers: { 'x-canary': { exact: 'insider' } } }],
      [{ headers: { cookie: { regex: '^(.*?;)?(canary=always)(;.*)?$' } } }],
    ),
    mirror: fc.boolean(),
    mirrorWeight: percent,
    primaryReadyThreshold: percent,
    canaryReadyThreshold: percent,
    metrics: fc.array(metric, { maxLength: 3 }),
    webhooks: fc.array(webhook, { maxLength: 3 }),
    alerts: fc.array(alert, { maxLength: 2 }),
  },
  { requiredKeys: [] },
);

const service = fc.record(
  {
    port: mostly(fc.constantFrom(9898, 9898, 80), fc.constantFrom(0, 70_000)),
    targetPort: mostly(fc.constantFrom(9898, 'http'), fc.constantFrom(8080, 'web', 0, '')),
    portName: mostly(fc.constantFrom('http', 'grpc'), fc.constant('')),
    portDiscovery: fc.boolean(),
    gatewayRefs: fc.array(fc.record({ name: name, namespace: maybe(name) }), { maxLength: 2 }),
    headless: fc.boolean(),
    timeout: duration,
    retries: fc.record({ attempts: count(5) }),
  },
  { requiredKeys: ['port'] },
);

/** The Canaries of the admission corpus (test/fixtures/api/valid): starting points the CRD admits. */
const corpus: readonly Canary[] = readdirSync(
  fileURLToPath(new URL('../../fixtures/api/valid/', import.meta.url)),
)
  .filter((file) => file.endsWith('.yaml'))
  .sort()
  .flatMap((file) =>
    parseAllDocuments(
      readFileSync(fileURLToPath(new URL(`../../fixtures/api/valid/${file}`, import.meta.url)), 'utf8'),
    )
      .map((document) => document.toJS() as Canary)
      .filter((object) => object.kind === 'Canary'),
  );

/** One edit a user might make: a field set to a right or wrong value, or removed. */
const edit: fc.Arbitrary<(spec: Record<string, unknown>) => void> = fc.oneof(
  ...(
    [
      [
        'provider',
        mostly(fc.constantFrom('kubernetes', 'gatewayapi:v1', ...RouterProviders), fc.constant('envoy')),
      ],
      [
        'targetRef',
        fc.record({
          apiVersion: fc.constant('apps/v1'),
          kind: mostly(fc.constantFrom(...TargetKinds), fc.constant('StatefulSet')),
          name,
        }),
      ],
      [
        'autoscalerRef',
        fc.record({
          apiVersion: fc.constantFrom('autoscaling/v2', 'keda.sh/v1alpha1'),
          kind: fc.constantFrom(...AutoscalerKinds),
          name,
        }),
      ],
      ['service', service],
      ['analysis', analysis],
      ['canaryAnalysis', analysis],
      ['progressDeadlineSeconds', count(3600)],
      ['skipAnalysis', fc.boolean()],
      ['suspend', fc.boolean()],
    ] as const
  ).map(([key, value]) =>
    (value as fc.Arbitrary<unknown>).map((v) => (spec: Record<string, unknown>) => {
      spec[key] = v;
    }),
  ),
  ...(
    [
      'interval',
      'threshold',
      'maxWeight',
      'stepWeight',
      'iterations',
      'metrics',
      'webhooks',
      'alerts',
    ] as const
  ).map((key) =>
    (
      ({
        interval: duration,
        threshold: count(10),
        maxWeight: percent,
        stepWeight: percent,
        iterations: count(20),
        metrics: fc.array(metric, { maxLength: 2 }),
        webhooks: fc.array(webhook, { maxLength: 2 }),
        alerts: fc.array(alert, { maxLength: 2 }),
      })[key] as fc.Arbitrary<unknown>
    ).map((v) => (spec: Record<string, unknown>) => {
      const section = (spec.analysis ?? spec.canaryAnalysis) as Record<string, unknown> | undefined;
      if (section !== undefined) section[key] = v;
    }),
  ),
  fc
    .constantFrom('service', 'analysis', 'provider', 'autoscalerRef')
    .map((key) => (spec: Record<string, unknown>) => {
      delete spec[key];
    }),
);

/**
 * A Canary in namespace `namespace`, named `canaryName`: one of the corpus with up to three
 * edits, so a sample holds Canaries the CRD admits and mistakes it catches, in about equal parts.
 */
export function canaryArbitrary(namespace: string, canaryName: fc.Arbitrary<string> = fc.constant('web')) {
  return fc
    .tuple(fc.constantFrom(...corpus), fc.array(edit, { maxLength: 3 }), canaryName)
    .map(([base, edits, canaryNameValue]) => {
      const spec = structuredClone(base.spec) as unknown as Record<string, unknown>;
      for (const apply of edits) apply(spec);
      return {
        apiVersion: 'fledge.dev/v1beta1',
        kind: 'Canary',
        metadata: { name: canaryNameValue, namespace },
        spec,
      };
    });
}

const preflight = createPreflight({
  getMetricTemplate: async (_namespace, name) =>
    name === 'error-rate'
      ? ({ spec: { provider: { type: 'prometheus' }, query: 'vector(1)' } } as unknown as MetricTemplate)
      : undefined,
  canariesIn: () => [],
  metricProviderTypes: ['prometheus'],
  getWorkload: (_kind, _namespace, name) =>
    name.endsWith('-primary')
      ? undefined
      : {
          spec: {
            replicas: 2,
            template: {
              spec: { containers: [{ name: 'app', ports: [{ name: 'http', containerPort: 9898 }] }] },
            },
          },
        },
  getAlertProvider: async (_namespace, name) =>
    name === 'slack' ? ({ spec: { type: 'slack' } } as unknown as AlertProvider) : undefined,
});

/** An error thrown on purpose, with a message for the user, not a bug's TypeError. */
function onPurpose(err: unknown): boolean {
  return (
    err instanceof Error &&
    !(err instanceof TypeError || err instanceof RangeError || err instanceof ReferenceError) &&
    err.message.length > 0
  );
}

export type Outcome = 'rejected' | 'invalid' | 'refused' | 'runs';

/**
 * Where the operator leaves one Canary the schema let through: InvalidSpec, a refusal,
 * or a first decision. Throws for anything else (a crash).
 */
export async function operatorOutcome(canary: Canary): Promise<Exclude<Outcome, 'rejected'>> {
  let spec;
  try {
    spec = normalizeCanary(canary, { defaultProvider: 'kubernetes' }).spec;
  } catch (err) {
    if (!onPurpose(err)) throw err;
    return 'invalid';
  }
  try {
    await preflight(canary, spec, undefined);
  } catch (err) {
    if (!classifyError(err).terminal) throw err;
    return 'refused';
  }
  decide({
    canary: {
      metadata: { name: canary.metadata.name ?? '', namespace: 'team', uid: 'u-1', generation: 1 },
      spec,
      status: {},
    },
    observed: {
      target: {
        exists: true,
        revision: 'r1',
        configs: {},
        ready: { ready: true, retriable: true, message: 'ready' },
      },
      primary: { exists: false },
      routes: undefined,
      hookResults: {},
      metricResults: {},
    },
    now: new Date('2026-12-01T10:00:00Z'),
    clusterName: 'test',
  });
  return 'runs';
}
