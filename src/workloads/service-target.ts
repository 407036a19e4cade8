import type { Canary } from '../api/index.ts';
import type { KubeObjectClient, ObjectRef } from '../kube/client.ts';
import { applyObject } from '../kube/patch.ts';
import { MANAGE_VERBS } from '../kube/rbac.ts';
import { canonicalJson, sha256Hex } from './canonical.ts';
import { getOptional, getRequired } from './context.ts';
import { WorkloadConfigError } from './errors.ts';
import {
  canaryOwnerReference,
  controlOf,
  filterMetadata,
  nonEmpty,
  type CanaryIdentity,
} from './metadata.ts';
import type { ObjectMeta } from './objects.ts';
import { PRIMARY_STAMP_ANNOTATION, resolveWorkloadOptions } from './options.ts';
import {
  StaleRevisionError,
  labelsAndAnnotations,
  type Workload,
  type WorkloadDeclaration,
  type WorkloadDeps,
  type WorkloadObservation,
} from './workload.ts';

// Core Service targets, as Flagger's ServiceController runs them: traffic management only.
// The user's Service `<apex>` is the release: a change of its spec (selector, ports,
// externalName) is a new revision. Fledge keeps two copies of it, `<apex>-canary` (the spec
// as it is now, refreshed before every route change) and `<apex>-primary` (the spec last
// promoted), and the router splits between them as it does for any target. There are no
// pods of Fledge's own: nothing is cloned, scaled or waited for, and the kubernetes router,
// whose switch is the apex Service's selector, cannot route it (see preflight.ts).

interface ServicePortShape {
  name?: string;
  port: number;
  targetPort?: number | string;
  protocol?: string;
  appProtocol?: string;
}

interface CoreService {
  apiVersion: 'v1';
  kind: 'Service';
  metadata: ObjectMeta;
  spec?: {
    type?: string;
    selector?: Record<string, string>;
    ports?: ServicePortShape[];
    externalName?: string;
  };
}

/** What a copy carries of the target's spec; cluster-assigned fields (IPs, node ports) are left to each copy. */
export function releasedSpec(service: CoreService): NonNullable<CoreService['spec']> {
  const spec = service.spec ?? {};
  const external = spec.type === 'ExternalName';
  return {
    type: external ? 'ExternalName' : 'ClusterIP',
    ...(spec.selector !== undefined && !external && { selector: { ...spec.selector } }),
    ...(spec.externalName !== undefined && external && { externalName: spec.externalName }),
    ports: (spec.ports ?? []).map((port) => ({
      ...(port.name !== undefined && { name: port.name }),
      port: port.port,
      ...(port.targetPort !== undefined && { targetPort: port.targetPort }),
      protocol: port.protocol ?? 'TCP',
      ...(port.appProtocol !== undefined && { appProtocol: port.appProtocol }),
    })),
  };
}

/** The revision of a Service target: a digest of what its copies carry, so it changes with nothing else. */
export function serviceRevision(service: CoreService): string {
  return sha256Hex(canonicalJson(releasedSpec(service))).slice(0, 16);
}

interface Names {
  identity: CanaryIdentity;
  target: ObjectRef;
  apex: string;
}

function namesOf(canary: Canary): Names {
  const { name, namespace, uid } = canary.metadata;
  if (!name || !namespace || !uid)
    throw new Error('the Canary needs metadata.name, namespace and uid: read it from the apiserver');
  const { targetRef, autoscalerRef } = canary.spec;
  if (targetRef.apiVersion !== 'v1' || targetRef.kind !== 'Service')
    throw new WorkloadConfigError(
      'UnsupportedTarget',
      `spec.targetRef is ${targetRef.apiVersion} ${targetRef.kind}, not a v1 Service`,
    );
  if (autoscalerRef !== undefined)
    throw new WorkloadConfigError(
      'TargetInvalid',
      'a Service target has no workload to scale: remove spec.autoscalerRef',
    );
  return {
    identity: { name, namespace, uid },
    target: { apiVersion: 'v1', kind: 'Service', namespace, name: targetRef.name },
    apex: canary.spec.service?.name ?? targetRef.name,
  };
}

export function serviceTargetWorkload(deps: WorkloadDeps): Workload {
  const client: KubeObjectClient = deps.client;
  const { includeLabelPrefixes } = resolveWorkloadOptions(deps.options);
  const copyRef = (names: Names, suffix: string): ObjectRef => ({
    ...names.target,
    name: `${names.apex}-${suffix}`,
  });

  /** Applies `<apex>-<suffix>` as a copy of the target, stamped when it is the primary. */
  async function applyCopy(names: Names, target: CoreService, suffix: 'primary' | 'canary'): Promise<void> {
    const ref = copyRef(names, suffix);
    const description = `Service ${ref.namespace ?? ''}/${ref.name ?? ''}`;
    const live = await getOptional<CoreService>(client, ref);
    if (live !== undefined) controlOf(live.metadata, names.identity, description);
    const labels = nonEmpty(filterMetadata(target.metadata.labels, includeLabelPrefixes));
    const annotations = {
      ...filterMetadata(target.metadata.annotations, includeLabelPrefixes),
      ...(suffix === 'primary' && { [PRIMARY_STAMP_ANNOTATION]: serviceRevision(target) }),
    };
    await applyObject(client, {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name: ref.name,
        namespace: ref.namespace,
        ownerReferences: [canaryOwnerReference(names.identity)],
        ...(labels && { labels }),
        ...(nonEmpty(annotations) && { annotations }),
      },
      spec: releasedSpec(target),
    } satisfies CoreService);
  }

  const always = (message: string) => ({ ready: true, retriable: true, message });

  return {
    kind: 'Service',
    backends: 'own',

    async observe(canary): Promise<WorkloadObservation> {
      const names = namesOf(canary);
      const [target, primary] = await Promise.all([
        getOptional<CoreService>(client, names.target),
        getOptional<CoreService>(client, copyRef(names, 'primary')),
      ]);
      const stamp = primary?.metadata.annotations?.[PRIMARY_STAMP_ANNOTATION];
      return {
        target: target
          ? {
              exists: true,
              revision: serviceRevision(target),
              configs: {},
              // A Service has no rollout to wait for (Flagger counts it ready too).
              ready: always(`Service ${names.target.name ?? ''} is a Service: nothing to roll out`),
              scaledToZero: false,
              ports: [],
              metadata: labelsAndAnnotations(target),
            }
          : { exists: false },
        primary: primary
          ? {
              exists: true,
              ready: always('a Service copy serves at once'),
              ...(stamp !== undefined && { stamp }),
            }
          : { exists: false },
      };
    },

    async initialise(canary) {
      const names = namesOf(canary);
      const target = await getRequired<CoreService>(client, names.target, 'copy it into the primary');
      const created = (await getOptional(client, copyRef(names, 'primary'))) === undefined;
      await applyCopy(names, target, 'canary');
      await applyCopy(names, target, 'primary');
      return { primaryCreated: created };
    },

    async prepareRoutes(canary) {
      const names = namesOf(canary);
      const target = await getRequired<CoreService>(client, names.target, 'copy it into the canary');
      await applyCopy(names, target, 'canary');
    },

    async promote(canary, analysed) {
      const names = namesOf(canary);
      const target = await getRequired<CoreService>(client, names.target, 'promote it');
      const revision = serviceRevision(target);
      if (revision !== analysed.revision)
        throw new StaleRevisionError(
          `Service ${names.target.namespace ?? ''}/${names.target.name ?? ''} is at revision ${revision}, not the analysed ${analysed.revision}: not promoted`,
        );
      await applyCopy(names, target, 'primary');
    },

    async scaleCanary(canary) {
      namesOf(canary);
    },

    async revert(canary) {
      namesOf(canary);
      return always('a Service target has nothing to scale back');
    },
  };
}

/** A core Service target: Flagger only manages its traffic, with no workload to clone. */
export const serviceTarget: WorkloadDeclaration = {
  kind: 'Service',
  apiVersion: 'v1',
  title: '`Service`',
  create: serviceTargetWorkload,
  // The copies; reading the target is covered by the Services every Canary gets.
  permissions: [{ apiGroup: '', resources: ['services'], verbs: MANAGE_VERBS }],
};
