import { AlertProviderTypes, type AlertProviderSpec, type AlertProviderType } from '../api/index.ts';
import { isAlertSeverity, severityAccepts, type AlertMessage, type AlertSeverity } from './message.ts';
import { knownSecrets } from '../telemetry/secrets.ts';

/** Slack's Web API endpoint, used when a Slack provider has a bot token but no address. */
export const SlackPostMessageUrl = 'https://slack.com/api/chat.postMessage';
export const DefaultAlertUsername = 'fledge';

// Only Slack (bot token for chat.postMessage) and the generic webhook (bearer token) can use a
// token; every other service carries its credential inside the webhook URL.
const typesAcceptingToken: ReadonlySet<AlertProviderType> = new Set(['slack', 'webhook']);

/** `V1Secret.data` exactly as the API server returns it: base64-encoded values. */
export type SecretData = Readonly<Record<string, string>>;

/** Everything needed to post to one destination. address, token and proxy are secrets. */
export interface ResolvedProvider {
  /** Safe to log: "AlertProvider <ns>/<name>" or "default <type>". Also the delivery queue key. */
  id: string;
  type: AlertProviderType;
  address: string;
  token?: string;
  channel?: string;
  username: string;
  proxy?: string;
}

/** A destination plus the lowest severity it wants. */
export interface AlertSubscription {
  severity: AlertSeverity;
  provider: ResolvedProvider;
}

export class AlertConfigError extends Error {
  override name = 'AlertConfigError';
}

export function isAlertProviderType(value: string): value is AlertProviderType {
  return (AlertProviderTypes as readonly string[]).includes(value);
}

interface ProviderFields {
  type: string;
  address?: string;
  token?: string;
  channel?: string;
  username?: string;
  proxy?: string;
}

// `where` tells the user which object or setting to fix; `fieldName` maps a field to its name there.
function resolveFields(
  id: string,
  where: string,
  fields: ProviderFields,
  fieldName: (field: keyof ProviderFields) => string,
): ResolvedProvider {
  const { type } = fields;
  // Webhook addresses, tokens and proxy URLs carry credentials: nothing Fledge writes may show them.
  for (const secret of [fields.address, fields.token, fields.proxy]) knownSecrets.remember(secret);
  if (!isAlertProviderType(type)) {
    throw new AlertConfigError(
      `${where}: ${fieldName('type')} "${type}" is not supported; use one of ${AlertProviderTypes.join(', ')}`,
    );
  }
  if (fields.token !== undefined && !typesAcceptingToken.has(type)) {
    throw new AlertConfigError(
      `${where}: ${fieldName('token')} is set but ${type} does not use a token (its webhook URL carries the credential); remove it`,
    );
  }
  const address = fields.address ?? (type === 'slack' && fields.token ? SlackPostMessageUrl : undefined);
  if (address === undefined) {
    throw new AlertConfigError(`${where}: no webhook address; set ${fieldName('address')}`);
  }
  // Never echo the value: webhook URLs and proxy URLs carry credentials.
  requireHttpUrl(address, `${where}: ${fieldName('address')} is not an http(s) URL`);
  if (fields.proxy !== undefined) {
    requireHttpUrl(fields.proxy, `${where}: ${fieldName('proxy')} is not an http(s) URL`);
  }
  if (type === 'slack' && fields.token && !fields.channel) {
    throw new AlertConfigError(
      `${where}: a Slack bot token posts through chat.postMessage, which needs a channel; set ${fieldName('channel')}`,
    );
  }
  return {
    id,
    type,
    address,
    username: fields.username ?? DefaultAlertUsername,
    ...(fields.token !== undefined && { token: fields.token }),
    ...(fields.channel !== undefined && { channel: fields.channel }),
    ...(fields.proxy !== undefined && { proxy: fields.proxy }),
  };
}

function requireHttpUrl(value: string, message: string): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new AlertConfigError(message);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new AlertConfigError(message);
}

const base64 = /^[A-Za-z0-9+/]*={0,2}$/;

function decodeSecretValue(secretData: SecretData, key: string, where: string): string | undefined {
  const encoded = secretData[key];
  if (encoded === undefined) return undefined;
  const compact = encoded.replace(/\s/g, '');
  if (compact.length % 4 !== 0 || !base64.test(compact)) {
    throw new AlertConfigError(`${where}: Secret key "${key}" is not valid base64`);
  }
  // Secrets made with `echo` end in a newline, which would corrupt a URL or token.
  return nonEmpty(Buffer.from(compact, 'base64').toString('utf8').trim());
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/**
 * Combines an AlertProvider with its Secret (`secretData` is the referenced Secret's `data`,
 * required when `spec.secretRef` is set). Secret keys `address`, `token`, `username`, `channel`
 * and `proxy` take precedence over the spec fields of the same name. Throws AlertConfigError
 * naming the field to fix; messages never contain the address, token or proxy.
 */
export function resolveProviderConfig(
  provider: { namespace: string; name: string },
  spec: AlertProviderSpec,
  secretData?: SecretData,
): ResolvedProvider {
  const { name, namespace } = provider;
  const where = `AlertProvider ${namespace}/${name}`;
  const secretName = spec.secretRef?.name;
  if (secretName !== undefined && secretData === undefined) {
    throw new AlertConfigError(`${where}: spec.secretRef names Secret "${secretName}" but it was not read`);
  }
  const fields: ProviderFields = { type: spec.type };
  // Where each value came from, so an error points at the object the user has to edit.
  const origin: Partial<Record<keyof ProviderFields, string>> = { type: 'spec.type' };
  for (const field of ['address', 'token', 'username', 'channel', 'proxy'] as const) {
    const secretValue =
      secretName !== undefined && secretData !== undefined
        ? decodeSecretValue(secretData, field, `${where}, Secret ${namespace}/${secretName}`)
        : undefined;
    if (secretValue !== undefined) {
      fields[field] = secretValue;
      origin[field] = `the "${field}" key of Secret ${secretName}`;
      continue;
    }
    // A token never belongs in the spec: it would be readable by anyone who can read the provider.
    const specValue = field === 'token' ? undefined : nonEmpty(spec[field]);
    if (specValue !== undefined) {
      fields[field] = specValue;
      origin[field] = `spec.${field}`;
    }
  }
  return resolveFields(
    where,
    where,
    fields,
    (field) => origin[field] ?? `spec.${field} or the "${field}" key of the Secret in spec.secretRef`,
  );
}

export const defaultAlertSettings = ['url', 'token', 'proxy-url', 'user', 'channel'] as const;
type DefaultSetting = (typeof defaultAlertSettings)[number];

/** Operator flags for alerts, keyed by flag name without the leading dashes, e.g. `{ 'slack-url': '…' }`. */
export type DefaultAlertFlags = Partial<
  Record<`${AlertProviderType}-${DefaultSetting}` | 'alert-severity', string>
>;

const settingField: Readonly<Record<DefaultSetting, keyof ProviderFields>> = {
  url: 'address',
  token: 'token',
  'proxy-url': 'proxy',
  user: 'username',
  channel: 'channel',
};

function envName(flag: string): string {
  return flag.toUpperCase().replace(/-/g, '_');
}

/**
 * Operator-wide alert destinations for canaries that declare no `alerts`. For each provider type
 * T the flags `--T-url`, `--T-token`, `--T-proxy-url`, `--T-user`, `--T-channel` (or environment
 * `T_URL`, `T_TOKEN`, `T_PROXY_URL`, `T_USER`, `T_CHANNEL`; a flag wins over the environment) add
 * one destination; `--alert-severity` / `ALERT_SEVERITY` (default info) is its minimum severity.
 * Throws AlertConfigError on a setting that cannot work, e.g. a channel without a URL.
 */
export function defaultAlertTargetsFromEnv(
  env: Readonly<Record<string, string | undefined>>,
  flags: DefaultAlertFlags,
): AlertSubscription[] {
  const read = (flag: keyof DefaultAlertFlags) =>
    nonEmpty(flags[flag]?.trim()) ?? nonEmpty(env[envName(flag)]?.trim());
  const describe = (flag: string) => `--${flag} (or ${envName(flag)})`;

  const severity = read('alert-severity') ?? 'info';
  if (!isAlertSeverity(severity)) {
    throw new AlertConfigError(
      `${describe('alert-severity')} "${severity}" must be one of info, warn, error`,
    );
  }

  const targets: AlertSubscription[] = [];
  for (const type of AlertProviderTypes) {
    const fields: ProviderFields = { type };
    let configured = false;
    for (const setting of defaultAlertSettings) {
      const value = read(`${type}-${setting}`);
      if (value === undefined) continue;
      fields[settingField[setting]] = value;
      configured = true;
    }
    if (!configured) continue;
    const provider = resolveFields(`default ${type}`, `default ${type} alerts`, fields, (field) => {
      const setting = defaultAlertSettings.find((s) => settingField[s] === field);
      return setting === undefined ? field : describe(`${type}-${setting}`);
    });
    targets.push({ severity, provider });
  }
  return targets;
}

/**
 * Destinations for one alert. `canaryAlerts` is the Canary's resolved `alerts` list, or
 * `undefined` when it declares none; only then do the operator-wide defaults apply (a Canary whose
 * alerts failed to resolve must not silently fall back to someone else's channel).
 */
export function recipientsFor(
  message: AlertMessage,
  canaryAlerts: readonly AlertSubscription[] | undefined,
  defaults: readonly AlertSubscription[],
): ResolvedProvider[] {
  return (canaryAlerts ?? defaults)
    .filter((subscription) => severityAccepts(subscription.severity, message.severity))
    .map((subscription) => subscription.provider);
}
