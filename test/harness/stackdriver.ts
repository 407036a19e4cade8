import { createVerify, generateKeyPairSync } from 'node:crypto';
import { startFakeApi, type FakeAnswer } from './fake-api.ts';

// Google's service-account token exchange and Cloud Monitoring's
// Prometheus-compatible query API on one loopback HTTPS server: the token
// endpoint checks the JWT's RS256 signature against the account's public key
// and its claims (iss, aud, scope), and the query API wants the access token it
// issued, answering in Prometheus' JSON.

export interface FakeCloudMonitoring {
  readonly url: string;
  readonly ca: string;
  /** A service account key JSON whose token_uri is this server. */
  readonly serviceAccountKey: string;
  /** Access tokens issued. */
  readonly issued: string[];
  /** PromQL queries received with a valid token, by project. */
  readonly queries: { project: string; query: string }[];
  /** The value of a query; unknown queries return no series. */
  answer(query: string, value: number): void;
  close(): Promise<void>;
}

export async function startFakeCloudMonitoring(project: string): Promise<FakeCloudMonitoring> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const email = `fledge@${project}.iam.gserviceaccount.com`;
  const issued: string[] = [];
  const queries: FakeCloudMonitoring['queries'] = [];
  const values = new Map<string, number>();
  let url = '';
  const api = await startFakeApi(({ method, url: requestUrl, headers, body }): FakeAnswer => {
    if (requestUrl.pathname === '/token' && method === 'POST') {
      const form = new URLSearchParams(body);
      const [header, claims, signature] = (form.get('assertion') ?? '').split('.');
      const valid =
        form.get('grant_type') === 'urn:ietf:params:oauth:grant-type:jwt-bearer' &&
        signature !== undefined &&
        createVerify('RSA-SHA256').update(`${header}.${claims}`).verify(publicKey, signature, 'base64url');
      const claimed = valid
        ? (JSON.parse(Buffer.from(claims ?? '', 'base64url').toString()) as Record<string, unknown>)
        : {};
      if (
        !valid ||
        claimed.iss !== email ||
        claimed.aud !== `${url}/token` ||
        !String(claimed.scope).includes('monitoring')
      ) {
        return { status: 400, body: { error: 'invalid_grant', error_description: 'Invalid JWT Signature.' } };
      }
      const token = `ya29.fake-${issued.length}-${Math.random().toString(36).slice(2)}`;
      issued.push(token);
      return { status: 200, body: { access_token: token, expires_in: 3599, token_type: 'Bearer' } };
    }
    const match = /^\/v1\/projects\/([^/]+)\/location\/global\/prometheus\/api\/v1\/query$/.exec(
      requestUrl.pathname,
    );
    if (!match)
      return { status: 404, body: { error: { code: 404, message: 'Not found', status: 'NOT_FOUND' } } };
    if (!issued.some((token) => headers.authorization === `Bearer ${token}`)) {
      return {
        status: 401,
        body: {
          error: {
            code: 401,
            message: 'Request had invalid authentication credentials.',
            status: 'UNAUTHENTICATED',
          },
        },
      };
    }
    const query = new URLSearchParams(body).get('query') ?? '';
    queries.push({ project: match[1] ?? '', query });
    const value = values.get(query);
    return {
      status: 200,
      body: {
        status: 'success',
        data: {
          resultType: 'vector',
          result: value === undefined ? [] : [{ metric: {}, value: [Date.now() / 1000, String(value)] }],
        },
      },
    };
  });
  url = api.url;
  const serviceAccountKey = JSON.stringify({
    type: 'service_account',
    project_id: project,
    private_key_id: 'k1',
    private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    client_email: email,
    token_uri: `${api.url}/token`,
  });
  return {
    ...api,
    serviceAccountKey,
    issued,
    queries,
    answer: (query, value) => void values.set(query, value),
  };
}
