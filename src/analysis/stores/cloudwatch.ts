import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import {
  baseOf,
  checkStatus,
  createHttpStore,
  jsonErrorText,
  numberFrom,
  parseAddress,
  parseJson,
} from '../http-store.ts';
import { noData, ProviderError, type MetricProvider, type NoData, type ProviderConfig } from '../provider.ts';
import { defineStore, TlsSecretKeys } from '../store.ts';
import { PlainQuery } from '../template.ts';

// CloudWatch's GetMetricData over the AWS JSON 1.0 protocol, signed with SigV4
// by the AWS SDK's signer. As in Flagger the template is the JSON list of
// MetricDataQueries, asked over ten metric intervals; the value is the newest
// point of the one result that returns data.

const accessKeyId = 'aws_access_key_id';
const secretAccessKey = 'aws_secret_access_key';
const sessionToken = 'aws_session_token';
const windowIntervals = 10;
const defaultIntervalMs = 60_000;

interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

/** The Secret's keys, else the operator's AWS_* environment. */
function credentialsFor(config: ProviderConfig): AwsCredentials {
  const values = config.secretValues ?? {};
  const id = values[accessKeyId] ?? process.env.AWS_ACCESS_KEY_ID;
  const secret = values[secretAccessKey] ?? process.env.AWS_SECRET_ACCESS_KEY;
  const token = values[sessionToken] ?? process.env.AWS_SESSION_TOKEN;
  if (id === undefined || secret === undefined) {
    throw new ProviderError(
      'config',
      `CloudWatch needs ${accessKeyId} and ${secretAccessKey} in the provider Secret, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the operator's environment`,
    );
  }
  return { accessKeyId: id, secretAccessKey: secret, ...(token !== undefined && { sessionToken: token }) };
}

export function createCloudWatchProvider(config: ProviderConfig): MetricProvider {
  const region = config.region;
  if (region === undefined) throw new ProviderError('config', 'CloudWatch needs spec.provider.region');
  const url = parseAddress(config.address, 'CloudWatch', `https://monitoring.${region}.amazonaws.com`);
  const where = baseOf(url);
  const signer = new SignatureV4({
    service: 'monitoring',
    region,
    credentials: credentialsFor(config),
    sha256: Sha256,
  });
  const store = createHttpStore(config, { name: 'CloudWatch', where });

  return {
    async query(
      query: string,
      signal?: AbortSignal,
      intervalMs = defaultIntervalMs,
    ): Promise<number | NoData> {
      const end = Math.floor(Date.now() / 1000);
      const body = JSON.stringify({
        MetricDataQueries: parseQueries(query),
        StartTime: end - Math.ceil((windowIntervals * intervalMs) / 1000),
        EndTime: end,
        MaxDatapoints: 20,
      });
      const signed = await signer.sign({
        method: 'POST',
        protocol: url.protocol,
        hostname: url.hostname,
        ...(url.port !== '' && { port: Number(url.port) }),
        path: url.pathname,
        query: {},
        headers: {
          host: url.host,
          'content-type': 'application/x-amz-json-1.0',
          'x-amz-target': 'GraniteServiceVersion20100801.GetMetricData',
        },
        body,
      });
      const res = await store.send(
        { method: 'POST', url: `${url.origin}${url.pathname}`, body, headers: signed.headers },
        signal,
      );
      checkStatus(res, {
        name: 'CloudWatch',
        where,
        credentials: `${accessKeyId} and ${secretAccessKey} in the Secret named by spec.provider.secretRef, and that they may call cloudwatch:GetMetricData`,
        message: jsonErrorText(
          (b) =>
            `${String(b.__type ?? 'error')
              .split('#')
              .at(-1)}: ${String(b.message ?? b.Message ?? '')}`,
        ),
      });
      return readResults(parseJson(res.body, 'CloudWatch', where), where);
    },
    close: () => store.close(),
  };
}

/** The template's MetricDataQueries; keys are taken in any case, as Flagger's decoder did. */
function parseQueries(query: string): unknown {
  let parsed: unknown;
  try {
    parsed = JSON.parse(query);
  } catch (err) {
    throw new ProviderError('bad-query', `the CloudWatch query is not JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(parsed) || parsed.length === 0) {
    throw new ProviderError('bad-query', 'the CloudWatch query must be a JSON list of MetricDataQueries');
  }
  return pascalKeys(parsed);
}

function pascalKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(pascalKeys);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, v]) => [key.charAt(0).toUpperCase() + key.slice(1), pascalKeys(v)]),
  );
}

interface MetricDataResult {
  Id?: unknown;
  Values?: unknown;
  StatusCode?: unknown;
}

function readResults(answer: unknown, where: string): number | NoData {
  const results = (answer as { MetricDataResults?: unknown } | null)?.MetricDataResults;
  if (!Array.isArray(results)) {
    throw new ProviderError('bad-response', `CloudWatch at ${where} answered without MetricDataResults`);
  }
  if (results.length === 0) return noData('no query returned data; set ReturnData on the one to measure');
  if (results.length > 1) {
    const ids = (results as MetricDataResult[]).map((r) => String(r.Id)).join(', ');
    throw new ProviderError(
      'unusable-result',
      `${results.length} queries returned data (${ids}); set "ReturnData": false on all but the one to measure`,
    );
  }
  const { Values: values } = results[0] as MetricDataResult;
  // Newest first: CloudWatch's default order is TimestampDescending.
  const value = Array.isArray(values) ? numberFrom(values[0]) : undefined;
  if (value === undefined) return noData('the result has no points in the window');
  return Number.isNaN(value) ? noData('the newest point is NaN') : value;
}

export const cloudwatch = defineStore({
  type: 'cloudwatch',
  summary: '`GetMetricData` with the template as its `MetricDataQueries` JSON, signed with SigV4',
  address: { kind: 'default', value: 'https://monitoring.<region>.amazonaws.com' },
  region: 'required',
  secretKeys: [
    {
      key: accessKeyId,
      meaning: "access key id; without a Secret, the operator's AWS_ACCESS_KEY_ID",
      credential: false,
    },
    { key: secretAccessKey, meaning: 'secret access key', credential: true },
    { key: sessionToken, meaning: 'session token of temporary credentials', credential: true },
    ...TlsSecretKeys,
  ],
  syntax: PlainQuery,
  factory: createCloudWatchProvider,
});
