import type { KubernetesObject } from '@kubernetes/client-node';
import type { LeaseRecord, LeaseStore, ObservedLease } from '../runtime/leader-election.ts';
import type { KubeObjectClient, ObjectRef } from './client.ts';
import { isNotFound } from './errors.ts';
import { microTime, parseApiTime } from './time.ts';
import { PatchStrategy } from './patch.ts';

interface LeaseObject extends KubernetesObject {
  spec?: {
    holderIdentity?: string | null;
    leaseDurationSeconds?: number;
    acquireTime?: string | null;
    renewTime?: string | null;
    leaseTransitions?: number;
  };
}

/**
 * A coordination.k8s.io/v1 Lease as leader-election storage. Updates are merge
 * patches carrying metadata.resourceVersion, which the apiserver treats as a
 * precondition (Conflict when someone wrote in between); other fields of the
 * Lease (labels, annotations) are left alone.
 */
export class KubeLeaseStore implements LeaseStore {
  readonly description: string;
  readonly #client: KubeObjectClient;
  readonly #ref: ObjectRef;

  constructor(client: KubeObjectClient, namespace: string, name: string) {
    if (!namespace || !name) throw new Error('KubeLeaseStore needs the Lease namespace and name');
    this.#client = client;
    this.#ref = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', namespace, name };
    this.description = `${namespace}/${name}`;
  }

  async get(signal: AbortSignal): Promise<ObservedLease | undefined> {
    try {
      return toObserved(await this.#client.get<LeaseObject>(this.#ref, { signal }));
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async create(record: LeaseRecord, signal: AbortSignal): Promise<ObservedLease> {
    const lease: LeaseObject = {
      apiVersion: this.#ref.apiVersion,
      kind: this.#ref.kind,
      metadata: { name: this.#ref.name, namespace: this.#ref.namespace },
      spec: toSpec(record),
    };
    return toObserved(await this.#client.create(lease, { signal }));
  }

  async update(record: LeaseRecord, resourceVersion: string, signal: AbortSignal): Promise<ObservedLease> {
    const body = { metadata: { resourceVersion }, spec: toSpec(record) };
    return toObserved(
      await this.#client.patch<LeaseObject>(this.#ref, body, PatchStrategy.MergePatch, { signal }),
    );
  }
}

function toSpec(record: LeaseRecord): NonNullable<LeaseObject['spec']> {
  return {
    holderIdentity: record.holderIdentity || null,
    leaseDurationSeconds: record.leaseDurationSeconds,
    acquireTime: record.acquireTime === undefined ? null : microTime(record.acquireTime),
    renewTime: record.renewTime === undefined ? null : microTime(record.renewTime),
    leaseTransitions: record.leaseTransitions,
  };
}

function toObserved(lease: LeaseObject): ObservedLease {
  const resourceVersion = lease.metadata?.resourceVersion;
  if (!resourceVersion)
    throw new Error(`Lease ${lease.metadata?.name ?? ''} came back without a resourceVersion`);
  const spec = lease.spec ?? {};
  return {
    resourceVersion,
    record: {
      holderIdentity: spec.holderIdentity ?? '',
      leaseDurationSeconds: spec.leaseDurationSeconds ?? 0,
      acquireTime: parseApiTime(spec.acquireTime),
      renewTime: parseApiTime(spec.renewTime),
      leaseTransitions: spec.leaseTransitions ?? 0,
    },
  };
}
