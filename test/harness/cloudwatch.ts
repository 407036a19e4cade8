import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { startFakeApi, type FakeAnswer, type FakeRequest } from './fake-api.ts';

// CloudWatch's GetMetricData over the AWS JSON 1.0 protocol on a loopback
// HTTPS server: it recomputes each request's SigV4 signature from the headers
// the request says it signed and the known secret key, and refuses a mismatch
// as AWS does (403 SignatureDoesNotMatch); validation errors are 400
// InvalidParameterValue; results come in MetricDataResults, newest point first.

export interface FakeCloudWatch {
  readonly url: string;
  readonly ca: string;
  /** The bodies of the requests whose signature was valid. */
  readonly accepted: Record<string, unknown>[];
  /** The values (newest first) of the one returned query, by the MetricName of its first MetricStat. */
  answer(metricName: string, values: number[]): void;
  close(): Promise<void>;
}

export async function startFakeCloudWatch(credentials: {
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
}): Promise<FakeCloudWatch> {
  const answers = new Map<string, number[]>();
  const accepted: Record<string, unknown>[] = [];
  const signer = new SignatureV4({
    service: 'monitoring',
    region: credentials.region,
    credentials,
    sha256: Sha256,
  });
  const error = (status: number, type: string, message: string): FakeAnswer => ({
    status,
    body: { __type: `com.amazonaws.cloudwatch#${type}`, message },
  });

  async function signatureValid(request: FakeRequest): Promise<boolean> {
    const authorization = String(request.headers.authorization ?? '');
    const signedHeaders = /SignedHeaders=([^,]+)/.exec(authorization)?.[1]?.split(';') ?? [];
    const date = String(request.headers['x-amz-date'] ?? '');
    if (!authorization.includes(`Credential=${credentials.accessKeyId}/`) || signedHeaders.length === 0)
      return false;
    const headers = Object.fromEntries(
      signedHeaders.map((name) => [name, String(request.headers[name] ?? '')]),
    );
    const expected = await signer.sign(
      {
        method: request.method,
        protocol: 'https:',
        hostname: request.url.hostname,
        path: request.url.pathname,
        query: {},
        headers,
        body: request.body,
      },
      {
        signingDate: new Date(
          `${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)}T${date.slice(9, 11)}:${date.slice(11, 13)}:${date.slice(13, 15)}Z`,
        ),
      },
    );
    return expected.headers.authorization === authorization;
  }

  const api = await startFakeApi(async (request): Promise<FakeAnswer> => {
    if (request.headers['x-amz-target'] !== 'GraniteServiceVersion20100801.GetMetricData') {
      return error(400, 'UnknownOperationException', 'unknown operation');
    }
    if (!(await signatureValid(request))) {
      return error(
        403,
        'SignatureDoesNotMatch',
        'The request signature we calculated does not match the signature you provided.',
      );
    }
    const body = JSON.parse(request.body) as {
      MetricDataQueries?: Record<string, unknown>[];
      StartTime?: number;
      EndTime?: number;
    };
    const queries = body.MetricDataQueries ?? [];
    if (queries.some((q) => typeof q.Id !== 'string' || !/^[a-z][A-Za-z0-9_]*$/.test(q.Id))) {
      return error(
        400,
        'InvalidParameterValue',
        'The value for parameter MetricDataQueries.member.1.Id is invalid.',
      );
    }
    accepted.push(body);
    const returned = queries.filter((q) => q.ReturnData !== false);
    return {
      status: 200,
      body: {
        MetricDataResults: returned.map((q) => {
          const name = String(
            (q.MetricStat as { Metric?: { MetricName?: unknown } } | undefined)?.Metric?.MetricName,
          );
          const values = answers.get(name) ?? [];
          return {
            Id: q.Id,
            Label: name,
            StatusCode: 'Complete',
            Timestamps: values.map((_, i) => (body.EndTime ?? 0) - 60 * i),
            Values: values,
          };
        }),
        Messages: [],
      },
    };
  });
  return { ...api, accepted, answer: (name, values) => void answers.set(name, values) };
}
