import type { Permission } from '../kube/rbac.ts';
import type { StoreContext } from './cluster.ts';
import { knownSecrets } from '../telemetry/secrets.ts';
import {
  ProviderError,
  type MetricProvider,
  type ProviderConfig,
  type ProviderCredentials,
  type ProviderTls,
} from './provider.ts';
import type { QuerySyntax } from './template.ts';

// A metric store declares everything Fledge needs to know about it in one
// place: its MetricTemplate type, the settings and Secret keys it reads, its
// query syntax and its factory. The registry, the CRD enum, the docs table
// and `fledge migrate`'s notes are derived from these declarations.

export type ProviderFactory = (config: ProviderConfig, context: StoreContext) => MetricProvider;

/** How spec.provider.address is filled when a template leaves it out. */
export type AddressRule =
  /** The template must set it. */
  | { readonly kind: 'required' }
  /** The store's public endpoint. */
  | { readonly kind: 'default'; readonly value: string }
  /** The Canary's spec.metricsServer, then the controller's default metrics server. */
  | { readonly kind: 'metrics-server' }
  /** The store is read through the Kubernetes API; no address. */
  | { readonly kind: 'cluster' };

export interface SecretKey {
  readonly key: string;
  /** One line for the docs. */
  readonly meaning: string;
  /** A credential: remembered for redaction as soon as it is read. */
  readonly credential: boolean;
  /** The Secret must have it whenever spec.provider.secretRef is set. */
  readonly required?: boolean;
}

/** What a store takes from its Secret, decoded. */
export interface SecretSettings {
  readonly credentials?: ProviderCredentials;
  readonly tls?: Omit<ProviderTls, 'insecureSkipVerify'>;
  /** Store-specific keys (API keys, account ids), by their Secret key name. */
  readonly values?: Readonly<Record<string, string>>;
}

export interface MetricStore {
  /** MetricTemplate spec.provider.type. */
  readonly type: string;
  /** One line for the docs table: what is queried, and how. */
  readonly summary: string;
  readonly address: AddressRule;
  /** spec.provider.region */
  readonly region?: 'required' | 'optional';
  /** Whether spec.provider.headers and insecureSkipVerify are used. */
  readonly headers: boolean;
  readonly insecureSkipVerify: boolean;
  /** The keys read from the Secret named by spec.provider.secretRef; empty when it reads none. */
  readonly secretKeys: readonly SecretKey[];
  /** A template must name a Secret (spec.provider.secretRef). By default: when a key is required. */
  readonly needsSecret: boolean;
  /** Interprets the Secret's data; `where` names it in errors. Defaults to reading secretKeys as values. */
  readonly readSecret: (data: Readonly<Record<string, string>>, where: string) => SecretSettings;
  /** How query placeholders are escaped. */
  readonly syntax: QuerySyntax;
  /** Absent while the store is declared but not implemented: templates using it are refused. */
  readonly factory?: ProviderFactory;
  /** Kubernetes API access the store needs, for the operator's RBAC. */
  readonly permissions?: readonly Permission[];
}

type Defaulted = 'readSecret' | 'headers' | 'insecureSkipVerify' | 'secretKeys' | 'needsSecret';
type StoreInput = Omit<MetricStore, Defaulted> & Partial<Pick<MetricStore, Defaulted>>;

/** A declaration with the defaults filled in: an HTTP store using headers and insecureSkipVerify. */
export function defineStore<T extends string>(
  input: StoreInput & { readonly type: T },
): MetricStore & { readonly type: T } {
  const secretKeys = input.secretKeys ?? [];
  return {
    headers: true,
    insecureSkipVerify: true,
    readSecret: (data, where) => readDeclaredKeys(secretKeys, data, where),
    needsSecret: secretKeys.some((key) => key.required),
    ...input,
    secretKeys,
  };
}

/** PEM material any HTTPS store reads from its Secret. */
export const TlsSecretKeys: readonly SecretKey[] = [
  { key: 'ca.crt', meaning: 'PEM CA trusted in addition to the system roots', credential: false },
  { key: 'tls.crt', meaning: 'client certificate for mutual TLS, with tls.key', credential: false },
  { key: 'tls.key', meaning: 'key of the client certificate', credential: true },
];

/**
 * Reads the declared keys: credentials are remembered for redaction, a missing
 * required key is a config error naming it, and the TLS keys become `tls`.
 */
export function readDeclaredKeys(
  keys: readonly SecretKey[],
  data: Readonly<Record<string, string>>,
  where: string,
): SecretSettings {
  const present = (key: string) => Object.hasOwn(data, key) && data[key] !== '';
  const values: Record<string, string> = {};
  for (const { key, credential } of keys) {
    if (!present(key)) continue;
    const value = data[key] as string;
    if (credential) knownSecrets.remember(value);
    values[key] = value;
  }
  const missing = keys.filter((k) => k.required && !present(k.key)).map((k) => k.key);
  if (missing.length > 0) {
    throw new ProviderError('config', `${where} has no ${missing.join(', ')}; the store needs them`);
  }
  const { 'ca.crt': ca, 'tls.crt': cert, 'tls.key': key, ...rest } = values;
  if ((cert === undefined) !== (key === undefined)) {
    throw new ProviderError(
      'config',
      `${where} needs both tls.crt and tls.key for a client certificate, or neither`,
    );
  }
  const tls = ca !== undefined || cert !== undefined ? { ca, cert, key } : undefined;
  return { ...(tls && { tls }), ...(Object.keys(rest).length > 0 && { values: rest }) };
}
