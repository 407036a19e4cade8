import { fieldManager } from '../kube/patch.ts';
import { canonicalJson, sha256Hex } from './canonical.ts';
import { rewriteConfigRefs } from './configs.ts';
import { canaryOwnerReference, filterMetadata, nonEmpty, type CanaryIdentity } from './metadata.ts';
import type {
  DaemonSetObject,
  DeploymentObject,
  ManagedFieldsEntry,
  ObjectMeta,
  PodTemplate,
} from './objects.ts';
import { CONFIG_DIGEST_ANNOTATION, PRIMARY_STAMP_ANNOTATION, primaryName } from './options.ts';
import { userPodTemplate } from './revision.ts';
import { rewritePodSpecSelectors, type PodSelector } from './selector.ts';

// Pure rendering of `<name>-primary` from the target. Everything sent is owned
// by field manager fledge after the apply, so only what Fledge decides is sent.

export interface PrimaryRenderInput {
  owner: CanaryIdentity;
  pods: PodSelector;
  /** Checksums of the tracked configs by key (`configmap/<name>`): their references move to the copies. */
  configs: Readonly<Record<string, string>>;
  includeLabelPrefixes: readonly string[];
  /** Identifies the rendered content; read back so the engine knows what the primary runs. */
  stamp: string;
}

/** Digest of the tracked config checksums, stamped on the primary's pods so config-only promotions roll them. */
export function configDigest(configs: Readonly<Record<string, string>>): string {
  return sha256Hex(canonicalJson(configs)).slice(0, 16);
}

/**
 * The target's pod template for the primary: Fledge's keys removed, the
 * selector label moved to `-primary` (labels, affinity, topology spread) and
 * tracked config references pointed at the copies.
 */
export function renderPrimaryTemplate(template: PodTemplate, input: PrimaryRenderInput): PodTemplate {
  const user = userPodTemplate(template);
  const { pods, configs } = input;
  const annotations = { ...user.metadata?.annotations };
  if (Object.keys(configs).length > 0) annotations[CONFIG_DIGEST_ANNOTATION] = configDigest(configs);
  const spec =
    user.spec && rewriteConfigRefs(rewritePodSpecSelectors(user.spec, pods), new Set(Object.keys(configs)));
  return {
    metadata: {
      ...user.metadata,
      labels: { ...user.metadata?.labels, [pods.label]: pods.primaryValue },
      annotations: nonEmpty(annotations),
    },
    ...(spec && { spec }),
  };
}

function renderPrimaryMetadata(target: ObjectMeta, input: PrimaryRenderInput): ObjectMeta {
  return {
    name: primaryName(target.name ?? ''),
    namespace: input.owner.namespace,
    labels: {
      ...filterMetadata(target.labels, input.includeLabelPrefixes),
      [input.pods.label]: input.pods.primaryValue,
    },
    annotations: {
      ...filterMetadata(target.annotations, input.includeLabelPrefixes),
      [PRIMARY_STAMP_ANNOTATION]: input.stamp,
    },
    ownerReferences: [canaryOwnerReference(input.owner)],
  };
}

function primarySelector(pods: PodSelector) {
  return { matchLabels: { [pods.label]: pods.primaryValue } };
}

/** `replicas` undefined leaves spec.replicas out of the apply (an autoscaler owns it). */
export function renderPrimaryDeployment(
  target: DeploymentObject,
  input: PrimaryRenderInput,
  replicas: number | undefined,
): DeploymentObject {
  const { strategy, minReadySeconds, revisionHistoryLimit, progressDeadlineSeconds } = target.spec;
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: renderPrimaryMetadata(target.metadata, input),
    spec: {
      replicas,
      selector: primarySelector(input.pods),
      template: renderPrimaryTemplate(target.spec.template, input),
      strategy,
      minReadySeconds,
      revisionHistoryLimit,
      progressDeadlineSeconds,
    },
  };
}

export function renderPrimaryDaemonSet(target: DaemonSetObject, input: PrimaryRenderInput): DaemonSetObject {
  const { updateStrategy, minReadySeconds, revisionHistoryLimit } = target.spec;
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: renderPrimaryMetadata(target.metadata, input),
    spec: {
      selector: primarySelector(input.pods),
      template: renderPrimaryTemplate(target.spec.template, input),
      updateStrategy,
      minReadySeconds,
      revisionHistoryLimit,
    },
  };
}

/**
 * A selector is immutable: an existing primary whose selector differs from the
 * one rendered now (the selector label setting changed, or the primary was made
 * by hand) cannot be updated in place.
 */
export function assertSameSelector(
  live: { metadata: ObjectMeta; spec: { selector: unknown } },
  pods: PodSelector,
  kind: string,
): void {
  const wanted = primarySelector(pods);
  if (canonicalJson(live.spec.selector) !== canonicalJson(wanted)) {
    throw new Error(
      `${kind} ${live.metadata.name ?? ''} has selector ${canonicalJson(live.spec.selector)} but Fledge renders ` +
        `${canonicalJson(wanted)}; a selector cannot change in place: delete ${live.metadata.name ?? ''} ` +
        `(Fledge recreates it) or restore the selector label setting`,
    );
  }
}

/** Managers (`name/operation`) that own the field at `path` (e.g. ['spec', 'replicas']). */
export function fieldOwners(
  managedFields: readonly ManagedFieldsEntry[] | undefined,
  path: readonly string[],
): string[] {
  return (managedFields ?? [])
    .filter((entry) => {
      let node: unknown = entry.fieldsV1;
      for (const segment of path) {
        if (node === null || typeof node !== 'object') return false;
        node = (node as Record<string, unknown>)[`f:${segment}`];
      }
      return node !== undefined;
    })
    .map((entry) => `${entry.manager ?? ''}/${entry.operation ?? ''}`);
}

const positive = (n: number | undefined) => (n !== undefined && n > 0 ? n : undefined);

/**
 * spec.replicas to send for the primary Deployment:
 * - on creation, the target's replicas (1 when it is scaled to zero);
 * - without an autoscaler, the target's replicas at promotion (it runs at full
 *   size then), else the primary's own;
 * - with an autoscaler, nothing once another manager (the HPA through /scale)
 *   owns the field. While Fledge is its only owner the current value is sent
 *   back: leaving it out would make the apiserver reset it to 1.
 */
export function primaryReplicas(
  target: DeploymentObject,
  live: DeploymentObject | undefined,
  autoscaled: boolean,
): number | undefined {
  if (!live) return positive(target.spec.replicas) ?? 1;
  if (!autoscaled) return positive(target.spec.replicas) ?? live.spec.replicas ?? 1;
  const owners = fieldOwners(live.metadata.managedFields, ['spec', 'replicas']);
  const onlyFledge = owners.length > 0 && owners.every((owner) => owner === `${fieldManager}/Apply`);
  return onlyFledge ? live.spec.replicas : undefined;
}
