import type { MetricStore } from '../store.ts';
import { cloudwatch } from './cloudwatch.ts';
import { datadog } from './datadog.ts';
import { dynatrace } from './dynatrace.ts';
import { externalmetrics } from './externalmetrics.ts';
import { graphite } from './graphite.ts';
import { influxdb } from './influxdb.ts';
import { job } from './job.ts';
import { keptn } from './keptn.ts';
import { newrelic } from './newrelic.ts';
import { prometheus } from './prometheus.ts';
import { splunk } from './splunk.ts';
import { stackdriver } from './stackdriver.ts';
import { web } from './web.ts';

// Every metric store Fledge knows, one line each: MetricTemplate types, the
// registry and the docs follow this list.
export const metricStores = [
  prometheus,
  influxdb,
  datadog,
  externalmetrics,
  stackdriver,
  cloudwatch,
  newrelic,
  graphite,
  dynatrace,
  keptn,
  splunk,
  web,
  job,
] as const satisfies readonly MetricStore[];

/** MetricTemplate spec.provider.type values, in declaration order. */
export const metricStoreTypes = metricStores.map((store) => store.type);
export type MetricStoreType = (typeof metricStoreTypes)[number];

export function metricStoreFor(type: string): MetricStore | undefined {
  return metricStores.find((store) => store.type === type);
}
