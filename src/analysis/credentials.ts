import { ProviderError, type ProviderCredentials } from './provider.ts';
import { TlsSecretKeys, type SecretKey, type SecretSettings } from './store.ts';
import { knownSecrets } from '../telemetry/secrets.ts';

// Reads the Secret named by a MetricTemplate's spec.provider.secretRef. The
// controller fetches the Secret and passes its data decoded to strings; this
// decides what the keys mean, with Flagger's key names (token, or username
// and password) plus the usual TLS keys.

export const SecretKeys = {
  token: 'token',
  username: 'username',
  password: 'password',
  ca: 'ca.crt',
  cert: 'tls.crt',
  key: 'tls.key',
} as const;

/** The keys settingsFromSecret reads, for a store's declaration. */
export const httpAuthSecretKeys: readonly SecretKey[] = [
  { key: SecretKeys.token, meaning: 'sent as `Authorization: Bearer <token>`', credential: true },
  {
    key: SecretKeys.username,
    meaning: 'HTTP basic auth with `password`; not together with `token`',
    credential: false,
  },
  { key: SecretKeys.password, meaning: 'HTTP basic auth password', credential: true },
  ...TlsSecretKeys,
];

/** `secret` names the Secret in errors, e.g. "Secret monitoring/prom-auth". */
export function settingsFromSecret(data: Readonly<Record<string, string>>, secret: string): SecretSettings {
  const value = (key: string) => (Object.hasOwn(data, key) && data[key] !== '' ? data[key] : undefined);
  const token = value(SecretKeys.token);
  const username = value(SecretKeys.username);
  const password = value(SecretKeys.password);
  // Whatever a query's error later quotes, these never reach status, events or logs.
  for (const credential of [token, password, value(SecretKeys.key)]) knownSecrets.remember(credential);
  if (username !== undefined && password !== undefined) knownSecrets.rememberBasic(username, password);
  const ca = value(SecretKeys.ca);
  const cert = value(SecretKeys.cert);
  const key = value(SecretKeys.key);

  if (token !== undefined && (username !== undefined || password !== undefined)) {
    throw new ProviderError(
      'config',
      `${secret} has both token and username/password; keep one way to authenticate`,
    );
  }
  if ((username === undefined) !== (password === undefined)) {
    throw new ProviderError(
      'config',
      `${secret} has ${username === undefined ? 'password without username' : 'username without password'}; basic auth needs both`,
    );
  }
  if ((cert === undefined) !== (key === undefined)) {
    throw new ProviderError(
      'config',
      `${secret} needs both tls.crt and tls.key for a client certificate, or neither`,
    );
  }
  if (token === undefined && username === undefined && ca === undefined && cert === undefined) {
    throw new ProviderError(
      'config',
      `${secret} has none of the keys Fledge reads: token, username and password, ca.crt, tls.crt and tls.key`,
    );
  }

  const credentials: ProviderCredentials | undefined =
    token !== undefined
      ? { type: 'bearer', token }
      : username !== undefined && password !== undefined
        ? { type: 'basic', username, password }
        : undefined;
  const tls = ca !== undefined || cert !== undefined ? { ca, cert, key } : undefined;
  return { ...(credentials && { credentials }), ...(tls && { tls }) };
}
