import { createHash } from 'node:crypto';
import type { V1ConfigMap } from '@kubernetes/client-node';
import type { KubeObjectClient } from '../kube/client.ts';
import { isNotFound } from '../kube/errors.ts';

/** `gate`: may the release go on (confirm-promotion hooks); `rollback`: should it be rolled back. */
export type GateKind = 'gate' | 'rollback';

export interface CanaryRef {
  name: string;
  namespace: string;
}

/** Gate states by Canary. Both start closed: no approval, no rollback. */
export interface GateStore {
  isOpen(kind: GateKind, canary: CanaryRef): Promise<boolean>;
  set(kind: GateKind, canary: CanaryRef, open: boolean): Promise<void>;
}

const fieldManager = 'fledge-loadtester';
export const gateLabel = 'fledge.dev/loadtester-gates';

/** The ConfigMap holding one Canary's gates: readable, and unique even when cut to 253 characters. */
export function gateConfigMapName(canary: CanaryRef): string {
  const name = `fledge-gates-${canary.namespace}.${canary.name}`.toLowerCase();
  if (name.length <= 253) return name;
  const hash = createHash('sha256').update(`${canary.namespace}/${canary.name}`).digest('hex').slice(0, 10);
  return `${name.slice(0, 242).replace(/[.-]+$/, '')}-${hash}`;
}

/**
 * Gates kept in one ConfigMap per Canary in the load tester's own namespace, so they survive a
 * restart and every replica sees the same state (Flagger keeps them in memory).
 */
export class ConfigMapGateStore implements GateStore {
  readonly #objects: KubeObjectClient;
  readonly #namespace: string;

  constructor(objects: KubeObjectClient, namespace: string) {
    this.#objects = objects;
    this.#namespace = namespace;
  }

  async isOpen(kind: GateKind, canary: CanaryRef): Promise<boolean> {
    try {
      const map = await this.#objects.get<V1ConfigMap>({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        namespace: this.#namespace,
        name: gateConfigMapName(canary),
      });
      return map.data?.[kind] === 'open';
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  async set(kind: GateKind, canary: CanaryRef, open: boolean): Promise<void> {
    const name = gateConfigMapName(canary);
    // Server-side apply of this one key: creates the ConfigMap when missing and leaves the other gate be.
    await this.#objects.patch(
      { apiVersion: 'v1', kind: 'ConfigMap', namespace: this.#namespace, name },
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: {
          name,
          namespace: this.#namespace,
          labels: { [gateLabel]: 'true' },
          annotations: { 'fledge.dev/canary': `${canary.namespace}/${canary.name}` },
        },
        data: { [kind]: open ? 'open' : 'closed' },
      },
      'application/apply-patch+yaml',
      { query: { fieldManager: `${fieldManager}-${kind}`, force: true } },
    );
  }
}
