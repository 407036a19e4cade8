import type { Backend, PodCount } from '../../harness/backend.ts';
import type { Proxy } from '../../harness/proxy.ts';

/** Requests the backends counted while Traefik applied one canary weight. */
export interface Window {
  canary: number;
  total: number;
}

export interface SplitSampler {
  /** Per canary weight (percent) Traefik applied: what the backends counted meanwhile. */
  stop(): Promise<Map<number, Window>>;
}

/**
 * Every `everyMs`, reads the weights Traefik applies to the route of `target` (from its API, so
 * as served, not as configured) and the backends' counters for the target's and its primary's
 * pods. A stretch between two samples with the same weight is credited to that weight; one
 * across a change is dropped, so no request is credited to a weight it might not have met.
 */
export function sampleSplit(
  proxy: Proxy,
  backend: Backend,
  namespace: string,
  target: string,
  everyMs = 500,
): SplitSampler {
  const windows = new Map<number, Window>();
  let running = true;
  const loop = (async () => {
    let last: { weight: number; counts: Window } | undefined;
    while (running) {
      const [weight, counts] = await Promise.all([
        appliedCanaryWeight(proxy, namespace, target),
        backend.counts().then((all) => countsOf(all, namespace, target)),
      ]).catch(() => [undefined, undefined] as const);
      if (weight !== undefined && counts !== undefined) {
        if (last?.weight === weight) {
          const window = windows.get(weight) ?? { canary: 0, total: 0 };
          window.canary += counts.canary - last.counts.canary;
          window.total += counts.total - last.counts.total;
          windows.set(weight, window);
        }
        last = { weight, counts };
      } else last = undefined;
      await new Promise((done) => setTimeout(done, everyMs));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return windows;
    },
  };
}

/** The canary's share (percent) of the weighted service Traefik built for the target's route. */
export async function appliedCanaryWeight(
  proxy: Proxy,
  namespace: string,
  target: string,
): Promise<number | undefined> {
  const canary = `${namespace}-${target}-canary-http-`;
  const primary = `${namespace}-${target}-primary-http-`;
  const wrr = (await proxy.services()).find((s) =>
    s.weighted?.services.some((member) => member.name.startsWith(canary)),
  );
  if (!wrr?.weighted) return undefined;
  const weightOf = (prefix: string) =>
    wrr.weighted!.services.filter((m) => m.name.startsWith(prefix)).reduce((sum, m) => sum + m.weight, 0);
  const total = weightOf(canary) + weightOf(primary);
  return total === 0 ? undefined : Math.round((100 * weightOf(canary)) / total);
}

/** Requests the target's (canary) and its primary's pods answered, all codes. */
export function countsOf(all: PodCount[], namespace: string, target: string): Window {
  const mine = all.filter(
    (c) => c.namespace === namespace && (c.app === target || c.app === `${target}-primary`),
  );
  return {
    canary: mine.filter((c) => c.app === target).reduce((sum, c) => sum + c.count, 0),
    total: mine.reduce((sum, c) => sum + c.count, 0),
  };
}
