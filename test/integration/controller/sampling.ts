import { kubectl } from '../../harness/control-plane.ts';

/**
 * Polls `read` until stopped and records every distinct value it returned, in order, so a
 * test can assert on the path an object took (weights, images) rather than on its end state.
 * Failed reads (the object not created yet) are skipped.
 */
export function sampleDistinct(read: () => Promise<string>, intervalMs = 200) {
  const seen: string[] = [];
  let stopped = false;
  const sample = async () => {
    const value = await read().catch(() => undefined);
    if (value !== undefined && value !== '' && seen.at(-1) !== value) seen.push(value);
  };
  const loop = (async () => {
    while (!stopped) {
      await sample();
      await new Promise((done) => setTimeout(done, intervalMs));
    }
  })();
  return {
    seen: (): readonly string[] => seen,
    /** Stops, then reads once more: a state the caller just waited for is in what was seen. */
    async stop(): Promise<string[]> {
      stopped = true;
      await loop;
      await sample();
      return seen;
    },
  };
}

/** `<backend>=<weight>` of every backendRef of the HTTPRoute, as the apiserver has it, space-separated. */
export async function routeWeights(kubeconfigPath: string, namespace: string, name: string): Promise<string> {
  const out = await kubectl(kubeconfigPath, [
    'get',
    'httproutes.gateway.networking.k8s.io',
    name,
    '-n',
    namespace,
    '-o',
    'jsonpath={range .spec.rules[*]}{range .backendRefs[*]}{.name}={.weight} {end}{end}',
  ]);
  return out.trim();
}

/** One field of an object, through a kubectl jsonpath. */
export async function field(
  kubeconfigPath: string,
  namespace: string,
  resource: string,
  name: string,
  jsonpath: string,
): Promise<string> {
  return kubectl(kubeconfigPath, ['-n', namespace, 'get', resource, name, '-o', `jsonpath=${jsonpath}`]);
}
