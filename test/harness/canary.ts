import type { CanaryStatus } from '../../src/api/index.ts';
import { kubectl } from './control-plane.ts';
import { waitFor } from './processes.ts';

/** Reads a Canary's status (empty before the operator's first patch). */
export async function canaryStatus(
  kubeconfigPath: string,
  namespace: string,
  name: string,
): Promise<CanaryStatus> {
  const out = await kubectl(kubeconfigPath, ['get', 'canary', name, '-n', namespace, '-o', 'json']);
  return ((JSON.parse(out) as { status?: CanaryStatus }).status ?? {}) as CanaryStatus;
}

/**
 * Waits until the Canary's status satisfies `predicate`, recording every distinct
 * (phase, weight) it passed through so tests can assert on the path taken.
 */
export async function waitForCanary(
  kubeconfigPath: string,
  namespace: string,
  name: string,
  predicate: (status: CanaryStatus) => boolean,
  options: { timeoutMs?: number; what?: string } = {},
): Promise<{ status: CanaryStatus; path: string[] }> {
  const path: string[] = [];
  let last: CanaryStatus = {};
  await waitFor(
    options.what ?? `canary ${namespace}/${name}`,
    async () => {
      last = await canaryStatus(kubeconfigPath, namespace, name);
      const step = `${last.phase ?? '-'}:${last.canaryWeight ?? 0}`;
      if (path.at(-1) !== step) path.push(step);
      return predicate(last);
    },
    options.timeoutMs ?? 180_000,
  ).catch((err: Error) => {
    throw new Error(
      `${err.message}; path so far: ${path.join(' -> ')}; last status: ${JSON.stringify(last)}`,
    );
  });
  return { status: last, path };
}

export const inPhase =
  (...phases: string[]) =>
  (status: CanaryStatus): boolean =>
    status.phase !== undefined && phases.includes(status.phase);

/** The image the first container of a Deployment's pod template runs. */
export async function imageOf(kubeconfigPath: string, namespace: string, name: string): Promise<string> {
  return kubectl(kubeconfigPath, [
    '-n',
    namespace,
    'get',
    'deployment',
    name,
    '-o',
    'jsonpath={.spec.template.spec.containers[0].image}',
  ]);
}

/** What `read` returns once two reads two seconds apart agree (at most 30 s). */
export async function settled(read: () => Promise<string>): Promise<string> {
  let last = await read();
  for (const deadline = Date.now() + 30_000; Date.now() < deadline;) {
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const next = await read();
    if (next === last) return next;
    last = next;
  }
  return last;
}
