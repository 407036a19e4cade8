import { expect } from '@jest/globals';
import type { CanaryStatus, Condition } from '../../../src/api/index.ts';
import { inPhase, settled, waitForCanary } from '../../harness/canary.ts';
import { kubectl } from '../../harness/control-plane.ts';
import { createTestNamespace, integrationEnv } from '../../harness/env.ts';
import { startOperatorProcess, type OperatorProcess } from '../../harness/operator.ts';
import { waitFor } from '../../harness/processes.ts';
import { apply, canary, deployment, setImage } from '../controller/fixtures.ts';
import { startHookServer, type HookServer } from '../controller/hook-server.ts';
import { sampleDistinct } from '../controller/sampling.ts';

// What the router tests that run releases through the operator share: a namespace with its
// own operator process, a webhook receiver that fails every call under /fail, and a
// release that records every distinct state of the router's object on the way.

export interface ReleaseRig {
  readonly namespace: string;
  readonly hooks: HookServer;
  readonly operator: OperatorProcess;
  /** Applies `objects`, a target `name` and its Canary, and waits for the first initialisation. */
  initialise(name: string, spec: Record<string, unknown>, ...objects: object[]): Promise<void>;
  /** Rolls the target to a new image and waits for the run's end, sampling `read` throughout. */
  release(
    name: string,
    read: () => Promise<string>,
  ): Promise<{ status: CanaryStatus; path: string[]; seen: string[] }>;
  /** The object as JSON, or undefined when it does not exist. */
  get<T>(resource: string, name: string): Promise<T | undefined>;
  /**
   * Waits until each named Canary is refused with CapabilityMissing, its Ready message saying
   * what is given, and checks no reconcile of them was retried with back-off (terminal).
   * Returns their statuses.
   */
  refused(expected: readonly (readonly [name: string, says: string])[]): Promise<CanaryStatus[]>;
  /** Deletes the Canary and waits until its finalizer has let it go. */
  deleteCanary(name: string): Promise<void>;
  stop(): Promise<void>;
}

/** The path of a webhook the rig's receiver answers with 500. */
export const FAILING_HOOK = '/fail';

export const readyOf = (status: CanaryStatus): Condition | undefined =>
  status.conditions?.find((c) => c.type === 'Ready');

export async function startReleaseRig(prefix: string): Promise<ReleaseRig> {
  const { kubeconfigPath } = integrationEnv();
  const namespace = await createTestNamespace(prefix);
  const hooks = await startHookServer();
  hooks.answerWith((call) =>
    call.url.startsWith(FAILING_HOOK) ? { status: 500, body: 'no' } : { status: 200 },
  );
  const operator = await startOperatorProcess({ kubeconfigPath, namespace });
  const get = async <T>(resource: string, name: string): Promise<T | undefined> => {
    const out = await kubectl(kubeconfigPath, [
      'get',
      resource,
      name,
      '-n',
      namespace,
      '-o',
      'json',
      '--ignore-not-found',
    ]);
    return out.trim() === '' ? undefined : (JSON.parse(out) as T);
  };
  return {
    namespace,
    hooks,
    operator,
    get,
    async initialise(name, spec, ...objects) {
      await apply(
        kubeconfigPath,
        ...objects,
        deployment(namespace, name, 'example/web:1'),
        canary(namespace, name, spec),
      );
      await waitForCanary(kubeconfigPath, namespace, name, inPhase('Initialized'), {
        what: `${name} initialised`,
      });
    },
    async release(name, read) {
      const sampler = sampleDistinct(read);
      await setImage(kubeconfigPath, namespace, name, 'example/web:2');
      try {
        const outcome = await waitForCanary(kubeconfigPath, namespace, name, inPhase('Succeeded', 'Failed'));
        const seen = await sampler.stop();
        // The final phase is written before the reconcile's actions run, so the last route
        // change can follow it: read on until the routing holds still.
        const final = await settled(read);
        if (seen.at(-1) !== final) seen.push(final);
        return { ...outcome, seen };
      } finally {
        await sampler.stop();
      }
    },
    async refused(expected) {
      const statuses: CanaryStatus[] = [];
      for (const [name, says] of expected) {
        const { status } = await waitForCanary(
          kubeconfigPath,
          namespace,
          name,
          (s) => readyOf(s)?.status === 'False' && readyOf(s)?.reason === 'CapabilityMissing',
          { what: `${name} refused`, timeoutMs: 60_000 },
        );
        expect(readyOf(status)?.message).toContain(says);
        statuses.push(status);
      }
      const retried = (await operator.logs()).filter(
        (line) =>
          line.msg === 'reconcile failed; retrying with back-off' &&
          expected.some(([name]) => String(line.canary) === `${namespace}/${name}`),
      );
      expect(retried).toEqual([]);
      return statuses;
    },
    async deleteCanary(name) {
      await kubectl(kubeconfigPath, ['delete', 'canary', name, '-n', namespace, '--wait=false']);
      await waitFor(
        `canary ${name} to be deleted`,
        async () => (await get('canary', name)) === undefined,
        120_000,
      );
    },
    async stop() {
      await operator.stop();
      await hooks.close();
    },
  };
}
