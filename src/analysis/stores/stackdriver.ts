import { createSign } from 'node:crypto';
import { knownSecrets } from '../../telemetry/secrets.ts';
import {
  baseOf,
  checkStatus,
  createHttpStore,
  jsonErrorText,
  parseAddress,
  parseJson,
} from '../http-store.ts';
import { ProviderError, type MetricProvider, type NoData, type ProviderConfig } from '../provider.ts';
import { defineStore, TlsSecretKeys } from '../store.ts';
import { PromQL } from '../template.ts';
import { createPrometheusProvider } from './prometheus.ts';

// Google Cloud Monitoring through its Prometheus-compatible query API
// (/v1/projects/<project>/location/global/prometheus/api/v1/query), as the
// service account in the Secret: Fledge signs a JWT with the account's key,
// trades it at the key's token_uri for an access token (kept until shortly
// before it expires), and runs the PromQL query with it.

const projectKey = 'project';
const accountKey = 'serviceAccountKey';
const scope = 'https://www.googleapis.com/auth/monitoring.read';
/** Renew this long before the access token expires. */
const renewMarginMs = 60_000;

interface ServiceAccount {
  readonly client_email: string;
  readonly private_key: string;
  readonly private_key_id?: string;
  readonly token_uri: string;
}

function readAccount(json: string | undefined): ServiceAccount {
  let key: Partial<ServiceAccount>;
  try {
    key = JSON.parse(json ?? '') as Partial<ServiceAccount>;
  } catch {
    throw new ProviderError(
      'config',
      `${accountKey} in the provider Secret is not a service account key (JSON)`,
    );
  }
  const {
    client_email: email,
    private_key: privateKey,
    token_uri: tokenUri = 'https://oauth2.googleapis.com/token',
  } = key;
  if (typeof email !== 'string' || typeof privateKey !== 'string' || !tokenUri.startsWith('https://')) {
    throw new ProviderError('config', `${accountKey} needs client_email, private_key and an https token_uri`);
  }
  knownSecrets.remember(privateKey);
  return {
    client_email: email,
    private_key: privateKey,
    token_uri: tokenUri,
    ...(key.private_key_id && { private_key_id: key.private_key_id }),
  };
}

function base64url(value: string | Buffer): string {
  return Buffer.from(value).toString('base64url');
}

export function createStackdriverProvider(config: ProviderConfig): MetricProvider {
  const project = config.secretValues?.[projectKey];
  if (project === undefined || !/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/.test(project)) {
    throw new ProviderError(
      'config',
      `Cloud Monitoring needs a Google Cloud project id as ${projectKey} in the provider Secret`,
    );
  }
  const account = readAccount(config.secretValues?.[accountKey]);
  const where = baseOf(parseAddress(config.address, 'Cloud Monitoring', 'https://monitoring.googleapis.com'));
  const promAddress = `${where}/v1/projects/${project}/location/global/prometheus`;
  const tokenStore = createHttpStore(config, { name: 'Google OAuth', where: account.token_uri });
  let current: { expiresAt: number; provider: MetricProvider } | undefined;

  async function fetchToken(signal?: AbortSignal): Promise<{ token: string; expiresInMs: number }> {
    const now = Math.floor(Date.now() / 1000);
    const header = {
      alg: 'RS256',
      typ: 'JWT',
      ...(account.private_key_id && { kid: account.private_key_id }),
    };
    const claims = { iss: account.client_email, scope, aud: account.token_uri, iat: now, exp: now + 3600 };
    const unsigned = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
    let signature: string;
    try {
      signature = createSign('RSA-SHA256').update(unsigned).sign(account.private_key, 'base64url');
    } catch (err) {
      throw new ProviderError(
        'config',
        `the private_key of ${accountKey} cannot sign: ${(err as Error).message}`,
      );
    }
    const form = new URLSearchParams({
      grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
      assertion: `${unsigned}.${signature}`,
    });
    const res = await tokenStore.send({ method: 'POST', url: account.token_uri, body: form }, signal);
    checkStatus(res, {
      name: 'Google OAuth',
      where: account.token_uri,
      credentials: `${accountKey} in the Secret named by spec.provider.secretRef`,
      message: jsonErrorText((b) => [b.error, b.error_description].filter(Boolean).join(': ')),
    });
    // Google answers a refused grant with 400; it is a credential problem, not a query one.
    const answer = parseJson(res.body, 'Google OAuth', account.token_uri) as {
      access_token?: unknown;
      expires_in?: unknown;
    };
    if (typeof answer.access_token !== 'string') {
      throw new ProviderError(
        'bad-response',
        `Google OAuth at ${account.token_uri} answered without an access_token`,
      );
    }
    knownSecrets.remember(answer.access_token);
    return { token: answer.access_token, expiresInMs: Number(answer.expires_in ?? 3600) * 1000 };
  }

  return {
    async query(query: string, signal?: AbortSignal): Promise<number | NoData> {
      if (current === undefined || Date.now() >= current.expiresAt) {
        const { token, expiresInMs } = await fetchToken(signal).catch((err: unknown) => {
          if (err instanceof ProviderError && err.kind === 'bad-query')
            throw new ProviderError('auth', err.message);
          throw err;
        });
        current?.provider.close();
        current = {
          expiresAt: Date.now() + expiresInMs - renewMarginMs,
          provider: createPrometheusProvider({
            ...config,
            address: promAddress,
            credentials: { type: 'bearer', token },
          }),
        };
      }
      return current.provider.query(query, signal);
    },
    close: () => {
      current?.provider.close();
      tokenStore.close();
    },
  };
}

export const stackdriver = defineStore({
  type: 'stackdriver',
  summary: 'Google Cloud Monitoring: PromQL through its Prometheus-compatible API, as a service account',
  address: { kind: 'default', value: 'https://monitoring.googleapis.com' },
  headers: false,
  secretKeys: [
    { key: projectKey, meaning: 'Google Cloud project queried', credential: false, required: true },
    {
      key: accountKey,
      meaning: 'service account key JSON (needs roles/monitoring.viewer)',
      credential: true,
      required: true,
    },
    ...TlsSecretKeys,
  ],
  syntax: PromQL,
  factory: createStackdriverProvider,
});
