import type { Canary } from '../api/index.ts';
import { PRIMARY_REVISION_ANNOTATION } from '../api/constants.ts';
import type { KubeObjectClient } from '../kube/client.ts';
import {
  KNATIVE_API_VERSION,
  patchKnativeService,
  primaryRevisionOf,
  readKnativeService,
  type KnativeCondition,
  type KnativeService,
} from '../routers/knative.ts';
import { getOptional } from './context.ts';
import { WorkloadConfigError } from './errors.ts';
import type { Readiness } from './readiness.ts';
import {
  labelsAndAnnotations,
  type Workload,
  type WorkloadDeclaration,
  type WorkloadDeps,
  type WorkloadObservation,
} from './workload.ts';

// Knative Service targets. Knative keeps every revision of the Service, so nothing is
// cloned: the primary is a revision pinned by name in PRIMARY_REVISION_ANNOTATION, the
// canary is the latest revision Knative created, and the knative router splits the
// Service's spec.traffic between them. Promotion pins the analysed revision. Knative scales
// revisions by their traffic, so scaling is a no-op. Config tracking does not apply: a
// revision is Knative's own snapshot of the template.

export const KNATIVE_SERVICE_KIND = 'KnativeService';

interface RevisionObject {
  metadata: { name?: string };
  status?: { conditions?: KnativeCondition[] };
}

/** A revision serves when Knative reports it Ready; waiting may still help otherwise. */
export function revisionReadiness(revision: RevisionObject | undefined, name: string): Readiness {
  if (revision === undefined) return { ready: false, retriable: true, message: `Revision ${name} not found` };
  const ready = revision.status?.conditions?.find((c) => c.type === 'Ready');
  if (ready?.status === 'True') return { ready: true, retriable: true, message: `Revision ${name} is ready` };
  const why = [ready?.reason, ready?.message].filter(Boolean).join(': ');
  return {
    ready: false,
    retriable: true,
    message: `Revision ${name} is not ready${ready?.status === 'False' ? ' (Ready=False)' : ''}${why ? `: ${why}` : ''}`,
  };
}

function identify(canary: Canary): { namespace: string; name: string } {
  const { namespace } = canary.metadata;
  if (!namespace) throw new Error('the Canary needs metadata.namespace: read it from the apiserver');
  if (canary.spec.targetRef.apiVersion !== KNATIVE_API_VERSION || canary.spec.targetRef.kind !== 'Service')
    throw new WorkloadConfigError(
      'UnsupportedTarget',
      `spec.targetRef is ${canary.spec.targetRef.apiVersion} ${canary.spec.targetRef.kind}, not a Knative Service`,
    );
  if (canary.spec.autoscalerRef !== undefined)
    throw new WorkloadConfigError(
      'TargetInvalid',
      'a Knative Service scales its revisions itself: remove spec.autoscalerRef',
    );
  return { namespace, name: canary.spec.targetRef.name };
}

export function knativeWorkload(deps: WorkloadDeps): Workload {
  const client: KubeObjectClient = deps.client;
  const revisionRef = (namespace: string, name: string) => ({
    apiVersion: KNATIVE_API_VERSION,
    kind: 'Revision',
    namespace,
    name,
  });
  const readRevision = (namespace: string, name: string) =>
    getOptional<RevisionObject & { apiVersion: string; kind: string }>(client, revisionRef(namespace, name));

  async function required(canary: Canary, neededFor: string): Promise<KnativeService> {
    const { namespace, name } = identify(canary);
    const service = await readKnativeService(client, namespace, name);
    if (service === undefined)
      throw new Error(`Knative Service ${namespace}/${name} does not exist; it is needed to ${neededFor}`);
    return service;
  }

  /** Pins `revision` as the primary; a no-op when it is pinned already. */
  async function pin(service: KnativeService, namespace: string, revision: string): Promise<void> {
    if (primaryRevisionOf(service) === revision) return;
    await patchKnativeService(client, namespace, service.metadata.name ?? '', {
      metadata: { annotations: { [PRIMARY_REVISION_ANNOTATION]: revision } },
    });
  }

  return {
    kind: KNATIVE_SERVICE_KIND,
    backends: 'own',

    async observe(canary): Promise<WorkloadObservation> {
      const { namespace, name } = identify(canary);
      const service = await readKnativeService(client, namespace, name);
      if (service === undefined) return { target: { exists: false }, primary: { exists: false } };
      const latest = service.status?.latestCreatedRevisionName;
      const primary = primaryRevisionOf(service);
      const [latestRevision, primaryRevision] = await Promise.all([
        latest === undefined ? undefined : readRevision(namespace, latest),
        primary === undefined ? undefined : readRevision(namespace, primary),
      ]);
      return {
        target: {
          exists: true,
          // Knative names each revision once: the name is the revision's identity.
          revision: latest ?? '',
          configs: {},
          ready:
            latest === undefined
              ? {
                  ready: false,
                  retriable: true,
                  message: `Knative has not created a revision of Service ${namespace}/${name} yet`,
                }
              : revisionReadiness(latestRevision, latest),
          scaledToZero: false,
          ports: [],
          ...(latest !== undefined && { route: latest }),
          metadata: labelsAndAnnotations(service),
        },
        primary:
          primary === undefined || primaryRevision === undefined
            ? { exists: false }
            : { exists: true, ready: revisionReadiness(primaryRevision, primary), stamp: primary },
      };
    },

    async initialise(canary) {
      const { namespace, name } = identify(canary);
      const service = await required(canary, 'pin its primary revision');
      const latest = service.status?.latestCreatedRevisionName;
      if (latest === undefined)
        throw new Error(`Knative has not created a revision of Service ${namespace}/${name} yet`);
      const created = primaryRevisionOf(service) === undefined;
      await pin(service, namespace, latest);
      return { primaryCreated: created };
    },

    async promote(canary, analysed) {
      const { namespace } = identify(canary);
      const service = await required(canary, 'promote its revision');
      // Revisions never change: the analysed one is promoted even when a newer one exists.
      if ((await readRevision(namespace, analysed.revision)) === undefined)
        throw new Error(`Revision ${namespace}/${analysed.revision} no longer exists: not promoted`);
      await pin(service, namespace, analysed.revision);
    },

    async scaleCanary(canary) {
      identify(canary);
    },

    async revert(canary) {
      identify(canary);
      return { ready: true, retriable: true, message: 'Knative scales the revisions itself' };
    },
  };
}

/** A Knative Service: its revisions take the place of the primary (provider knative). */
export const knativeServiceTarget: WorkloadDeclaration = {
  kind: 'Service',
  apiVersion: KNATIVE_API_VERSION,
  title: 'Knative `Service`',
  create: knativeWorkload,
  permissions: [
    { apiGroup: 'serving.knative.dev', resources: ['services'], verbs: ['get', 'list', 'watch', 'patch'] },
    { apiGroup: 'serving.knative.dev', resources: ['revisions'], verbs: ['get', 'list', 'watch'] },
  ],
};
