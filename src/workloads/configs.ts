import { cloneJson } from '../api/clone.ts';
import type { V1Container, V1PodSpec } from '@kubernetes/client-node';
import { CONFIG_TRACKING_ANNOTATION, FLAGGER_ANNOTATION_RENAMES } from '../api/index.ts';
import type { KubeObjectClient } from '../kube/client.ts';
import { isNotFound } from '../kube/errors.ts';
import { applyObject } from '../kube/patch.ts';
import { canonicalJson, sha256Hex } from './canonical.ts';
import { canaryOwnerReference, filterMetadata, nonEmpty, type CanaryIdentity } from './metadata.ts';
import type { ConfigMapObject, SecretObject } from './objects.ts';
import { primaryName } from './options.ts';

// ConfigMaps and Secrets a pod template uses are part of the release: the
// primary runs on `<name>-primary` copies taken at promotion, and a change in
// their data is a new revision just like a template change.

export type ConfigKind = 'configmap' | 'secret';

export interface ConfigRef {
  kind: ConfigKind;
  name: string;
  /** True only when every reference to it is optional: one required use makes it required. */
  optional: boolean;
  /** Where the first reference is, for messages: `volume "cfg"`, `container "web" envFrom`, ... */
  usedBy: string;
}

/** Status key of a config: `configmap/<name>` or `secret/<name>` (Flagger's trackedConfigs keys). */
export function configKey(ref: Pick<ConfigRef, 'kind' | 'name'>): string {
  return `${ref.kind}/${ref.name}`;
}

/** One place in a pod spec that names a ConfigMap or Secret. */
interface RefSite {
  kind: ConfigKind;
  name: string;
  optional: boolean;
  usedBy: string;
  rename(name: string): void;
}

interface NamedRef {
  name?: string;
  optional?: boolean;
}

function site(kind: ConfigKind, ref: NamedRef, usedBy: string): RefSite[] {
  if (!ref.name) return [];
  return [
    { kind, name: ref.name, optional: ref.optional === true, usedBy, rename: (name) => (ref.name = name) },
  ];
}

function containerSites(container: V1Container, role: string): RefSite[] {
  const where = `${role} "${container.name}"`;
  const sites: RefSite[] = [];
  for (const env of container.env ?? []) {
    const from = env.valueFrom;
    if (from?.configMapKeyRef)
      sites.push(...site('configmap', from.configMapKeyRef, `${where} env ${env.name}`));
    if (from?.secretKeyRef) sites.push(...site('secret', from.secretKeyRef, `${where} env ${env.name}`));
  }
  for (const source of container.envFrom ?? []) {
    if (source.configMapRef) sites.push(...site('configmap', source.configMapRef, `${where} envFrom`));
    if (source.secretRef) sites.push(...site('secret', source.secretRef, `${where} envFrom`));
  }
  return sites;
}

/**
 * Every reference in the spec, as live handles: renaming a site edits `spec`.
 * Volumes (plain and projected), env and envFrom of containers and init containers.
 */
function refSites(spec: V1PodSpec): RefSite[] {
  const sites: RefSite[] = [];
  for (const volume of spec.volumes ?? []) {
    const where = `volume "${volume.name}"`;
    if (volume.configMap) sites.push(...site('configmap', volume.configMap, where));
    if (volume.secret) {
      const secret = volume.secret;
      if (secret.secretName) {
        sites.push({
          kind: 'secret',
          name: secret.secretName,
          optional: secret.optional === true,
          usedBy: where,
          rename: (name) => (secret.secretName = name),
        });
      }
    }
    for (const source of volume.projected?.sources ?? []) {
      if (source.configMap) sites.push(...site('configmap', source.configMap, `projected ${where}`));
      if (source.secret) sites.push(...site('secret', source.secret, `projected ${where}`));
    }
  }
  for (const container of spec.initContainers ?? [])
    sites.push(...containerSites(container, 'init container'));
  for (const container of spec.containers ?? []) sites.push(...containerSites(container, 'container'));
  return sites;
}

/** The ConfigMaps and Secrets the spec uses, each once, in order of first use. */
export function collectConfigRefs(spec: V1PodSpec): ConfigRef[] {
  const byKey = new Map<string, ConfigRef>();
  for (const { kind, name, optional, usedBy } of refSites(spec)) {
    const key = configKey({ kind, name });
    const seen = byKey.get(key);
    if (seen) seen.optional &&= optional;
    else byKey.set(key, { kind, name, optional, usedBy });
  }
  return [...byKey.values()];
}

/** A copy of the spec whose references to the configs in `tracked` (keys) point at their `-primary` copies. */
export function rewriteConfigRefs(spec: V1PodSpec, tracked: ReadonlySet<string>): V1PodSpec {
  const copy = cloneJson(spec);
  for (const ref of refSites(copy)) {
    if (tracked.has(configKey(ref))) ref.rename(primaryName(ref.name));
  }
  return copy;
}

/** First 16 hex digits of the SHA-256 of the data (ConfigMap: data and binaryData; Secret: data). */
export function configChecksum(kind: ConfigKind, object: ConfigMapObject | SecretObject): string {
  const content =
    kind === 'configmap'
      ? { data: object.data, binaryData: (object as ConfigMapObject).binaryData }
      : { data: object.data };
  return sha256Hex(canonicalJson(content)).slice(0, 16);
}

/** Flagger's annotation is honoured too, so migrated manifests keep their opt-outs. */
const trackingAnnotations = [
  CONFIG_TRACKING_ANNOTATION,
  ...Object.keys(FLAGGER_ANNOTATION_RENAMES).filter(
    (key) => FLAGGER_ANNOTATION_RENAMES[key] === CONFIG_TRACKING_ANNOTATION,
  ),
];

/** True when the object opts out with `fledge.dev/config-tracking: disabled`; any value but enabled/disabled is an error. */
export function trackingDisabled(kind: ConfigKind, object: ConfigMapObject | SecretObject): boolean {
  for (const annotation of trackingAnnotations) {
    const value = object.metadata.annotations?.[annotation];
    if (value === undefined || value === 'enabled') continue;
    if (value === 'disabled') return true;
    throw new Error(
      `${kindName[kind]} ${object.metadata.name ?? ''}: annotation ${annotation} is "${value}"; ` +
        `use "disabled" to stop Fledge from tracking it, or remove the annotation`,
    );
  }
  return false;
}

const kindName: Record<ConfigKind, 'ConfigMap' | 'Secret'> = { configmap: 'ConfigMap', secret: 'Secret' };

/** The `<name>-primary` copy, owned by the Canary. `immutable` is not copied: Fledge rewrites the copy at each promotion. */
export function renderConfigCopy(
  kind: ConfigKind,
  source: ConfigMapObject | SecretObject,
  owner: CanaryIdentity,
  includeLabelPrefixes: readonly string[],
): ConfigMapObject | SecretObject {
  const metadata = {
    name: primaryName(source.metadata.name ?? ''),
    namespace: owner.namespace,
    labels: nonEmpty(filterMetadata(source.metadata.labels, includeLabelPrefixes)),
    annotations: nonEmpty(filterMetadata(source.metadata.annotations, includeLabelPrefixes)),
    ownerReferences: [canaryOwnerReference(owner)],
  };
  if (kind === 'configmap') {
    const configMap = source as ConfigMapObject;
    return {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata,
      data: configMap.data,
      binaryData: configMap.binaryData,
    };
  }
  const secret = source as SecretObject;
  return { apiVersion: 'v1', kind: 'Secret', metadata, type: secret.type, data: secret.data };
}

export interface TrackedConfig {
  ref: ConfigRef;
  object: ConfigMapObject | SecretObject;
  checksum: string;
}

export interface ConfigSnapshot {
  /** Keyed `configmap/<name>` / `secret/<name>`: the configs copied for the primary. */
  tracked: Map<string, TrackedConfig>;
  /** Required configs that do not exist: the pods cannot start until they do. */
  missing: ConfigRef[];
}

/** Checksums by key, the form status.trackedConfigs stores. */
export function checksumsOf(snapshot: ConfigSnapshot): Record<string, string> {
  return Object.fromEntries([...snapshot.tracked].map(([key, config]) => [key, config.checksum]));
}

/**
 * Reads the configs the spec uses. Opted-out configs and absent optional ones
 * are left out; absent required ones are listed as missing.
 */
export async function readConfigs(
  client: KubeObjectClient,
  namespace: string,
  spec: V1PodSpec,
  enabled: boolean,
): Promise<ConfigSnapshot> {
  const snapshot: ConfigSnapshot = { tracked: new Map(), missing: [] };
  if (!enabled) return snapshot;
  const refs = collectConfigRefs(spec);
  const objects = await Promise.all(
    refs.map((ref) =>
      client
        .get<ConfigMapObject | SecretObject>({
          apiVersion: 'v1',
          kind: kindName[ref.kind],
          namespace,
          name: ref.name,
        })
        .catch((error: unknown) => {
          if (isNotFound(error)) return undefined;
          throw error;
        }),
    ),
  );
  refs.forEach((ref, i) => {
    const object = objects[i];
    if (!object) {
      if (!ref.optional) snapshot.missing.push(ref);
      return;
    }
    if (trackingDisabled(ref.kind, object)) return;
    snapshot.tracked.set(configKey(ref), { ref, object, checksum: configChecksum(ref.kind, object) });
  });
  return snapshot;
}

/** One line naming the missing configs and who needs them. */
export function describeMissing(missing: readonly ConfigRef[]): string {
  return missing.map((ref) => `${kindName[ref.kind]} "${ref.name}" (used by ${ref.usedBy})`).join(', ');
}

/** Writes the `<name>-primary` copies by server-side apply (idempotent, owned by field manager fledge). */
export async function copyConfigs(
  client: KubeObjectClient,
  snapshot: ConfigSnapshot,
  owner: CanaryIdentity,
  includeLabelPrefixes: readonly string[],
): Promise<void> {
  await Promise.all(
    [...snapshot.tracked.values()].map(({ ref, object }) =>
      applyObject(client, renderConfigCopy(ref.kind, object, owner, includeLabelPrefixes)),
    ),
  );
}

/**
 * Deletes the `-primary` copies this Canary owns that neither `inUse` pod spec
 * references: copies releases before the previous one stopped using (with
 * kustomize's hashed ConfigMap names, one per change). The live primary's spec
 * belongs in `inUse`, since its old pods may still restart on its copies.
 */
export async function deleteUnusedCopies(
  client: KubeObjectClient,
  owner: CanaryIdentity,
  inUse: readonly V1PodSpec[],
): Promise<void> {
  const used = new Set(inUse.flatMap((spec) => collectConfigRefs(spec).map(configKey)));
  for (const kind of ['configmap', 'secret'] as const) {
    const ref = { apiVersion: 'v1', kind: kindName[kind], namespace: owner.namespace };
    const { items } = await client.list<ConfigMapObject | SecretObject>(ref);
    const unused = items.filter(
      ({ metadata }) =>
        metadata.name !== undefined &&
        metadata.name.endsWith('-primary') &&
        metadata.ownerReferences?.some((o) => o.controller === true && o.uid === owner.uid) === true &&
        !used.has(configKey({ kind, name: metadata.name })),
    );
    for (const { metadata } of unused) {
      const name = metadata.name as string;
      await client
        .delete({ ...ref, name }, metadata.uid === undefined ? {} : { uid: metadata.uid })
        .catch((error: unknown) => {
          if (!isNotFound(error)) throw error;
        });
    }
  }
}
