import { CANARY_PLURAL, GROUP, VERSION, type Canary } from '../api/index.ts';
import { KubeObjectClient, loadKubeConfig } from '../kube/client.ts';
import type { KubeConfig } from '../kube/config.ts';
import { describeKubeError, normalizeKubeError, type KubeError } from '../kube/errors.ts';
import { PatchStrategy } from '../kube/patch.ts';
import { UsageError } from './cli-support.ts';

// How the CLI reaches one Canary: the kubeconfig and namespace flags every
// cluster-facing subcommand shares, and a two-method client for Canaries.

/** Flag definitions for node:util parseArgs, shared by every cluster-facing subcommand. */
export const kubeFlagOptions = {
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
  namespace: { type: 'string', short: 'n' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const KUBE_FLAGS_HELP = `  --kubeconfig PATH         kubeconfig file (default: $KUBECONFIG, then ~/.kube/config, then in-cluster)
  --context NAME            kubeconfig context (default: the current context)
  -n, --namespace NAME      namespace of the Canary (default: the context's namespace, else "default")
  -h, --help                show this help`;

export interface KubeFlags {
  kubeconfig?: string | undefined;
  context?: string | undefined;
  namespace?: string | undefined;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A Canary name as Kubernetes allows it (DNS-1123 subdomain); anything else is a usage error. */
export function validateCanaryName(name: string): string {
  if (name.length > 253 || !DNS_SUBDOMAIN.test(name)) {
    throw new UsageError(
      `NAME "${name}" is not a valid Canary name: use lower-case letters, digits, "-" and "." (at most 253 characters)`,
    );
  }
  return name;
}

/** The -n/--namespace flag, else the kubeconfig context's namespace, else "default". */
export function resolveNamespace(flag: string | undefined, contextNamespace: string | undefined): string {
  return flag === undefined ? contextNamespace || 'default' : validateNamespace(flag);
}

function validateNamespace(flag: string): string {
  if (flag.length > 63 || !DNS_LABEL.test(flag)) {
    throw new UsageError(
      `-n/--namespace "${flag}" is not a valid namespace name: use lower-case letters, digits and "-" (at most 63 characters)`,
    );
  }
  return flag;
}

/** Reads and changes Canaries; the narrow seam between the commands and the apiserver. */
export interface CanaryClient {
  get(namespace: string, name: string): Promise<Canary>;
  /** JSON merge patch (RFC 7386) on the Canary itself, never its status. */
  mergePatch(namespace: string, name: string, patch: Record<string, unknown>): Promise<Canary>;
}

/** The target of one command: a client, and the namespace the Canary lives in. */
export interface CanaryTarget {
  client: CanaryClient;
  namespace: string;
}

export function connect(flags: KubeFlags): CanaryTarget {
  // A bad flag is a usage error even when the kubeconfig cannot be loaded.
  if (flags.namespace !== undefined) validateNamespace(flags.namespace);
  const kubeConfig = loadKubeConfig({
    ...(flags.kubeconfig === undefined ? {} : { kubeconfigPath: flags.kubeconfig }),
    ...(flags.context === undefined ? {} : { context: flags.context }),
  });
  const namespace = resolveNamespace(flags.namespace, contextNamespace(kubeConfig));
  return { client: canaryClient(kubeConfig), namespace };
}

function contextNamespace(kubeConfig: KubeConfig): string | undefined {
  return kubeConfig.getContextObject(kubeConfig.getCurrentContext())?.namespace;
}

export function canaryClient(kubeConfig: KubeConfig): CanaryClient {
  const objects = new KubeObjectClient(kubeConfig);
  // The path, not discovery: a missing CRD then answers 404, which canaryError explains.
  const path = (namespace: string, name: string) =>
    `/apis/${GROUP}/${VERSION}/namespaces/${encodeURIComponent(namespace)}/${CANARY_PLURAL}/${encodeURIComponent(name)}`;
  return {
    get: async (namespace, name) => {
      try {
        return await objects.request<Canary>('GET', path(namespace, name), undefined, undefined, {});
      } catch (err) {
        throw canaryError('cannot read', namespace, name, err);
      }
    },
    mergePatch: async (namespace, name, patch) => {
      try {
        return await objects.request<Canary>(
          'PATCH',
          path(namespace, name),
          patch,
          PatchStrategy.MergePatch,
          {},
        );
      } catch (err) {
        throw canaryError('cannot update', namespace, name, err);
      }
    },
  };
}

/** An API failure on one Canary: a message naming the Canary (and the fix, where there is one), plus the normalised error. */
export class CanaryRequestError extends Error {
  override name = 'CanaryRequestError';
  readonly kube: KubeError;

  constructor(message: string, kube: KubeError, cause: unknown) {
    super(message, { cause });
    this.kube = kube;
  }
}

export function canaryError(
  action: string,
  namespace: string,
  name: string,
  err: unknown,
): CanaryRequestError {
  const kube = normalizeKubeError(err);
  if (kube.reason === 'NotFound') {
    // A missing object and a missing CRD are both 404; only the message tells them apart.
    const text = /could not find the requested resource/i.test(kube.message)
      ? `the apiserver serves no ${GROUP}/${VERSION} ${CANARY_PLURAL}: are the Fledge CRDs installed?`
      : `canary "${name}" not found in namespace "${namespace}" (check NAME and -n/--namespace; kubectl get canaries -n ${namespace} lists them)`;
    return new CanaryRequestError(text, kube, err);
  }
  return new CanaryRequestError(
    `${action} canary ${namespace}/${name}: ${describeKubeError(kube)}`,
    kube,
    err,
  );
}
