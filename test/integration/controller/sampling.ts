import { kubectl } from '../../harness/control-plane.ts';
import { watchVersions } from './history.ts';

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

/**
 * Records every distinct value `render` gives, in order, for each stored version of one object
 * (see watchVersions): unlike sampleDistinct, a state that lasts a moment on a loaded machine
 * is never missed. `render` returning undefined (e.g. a field not set yet) records nothing.
 */
export function watchDistinct<T>(
  kubeconfigPath: string,
  collectionPath: string,
  name: string,
  render: (object: T) => string | undefined,
) {
  const seen: string[] = [];
  const watch = watchVersions<T>(kubeconfigPath, collectionPath, name, (_, object, deleted) => {
    const value = deleted ? undefined : render(object);
    if (value !== undefined && value !== '' && seen.at(-1) !== value) seen.push(value);
  });
  return {
    seen: (): readonly string[] => seen,
    async stop(): Promise<string[]> {
      await watch.stop();
      return seen;
    },
  };
}

interface HTTPRouteWeights {
  spec?: { rules?: { backendRefs?: { name: string; weight?: number }[] }[] };
}

/** Every distinct `<backend>=<weight> ...` the HTTPRoute held, in the form routeWeights reads. */
export function watchRouteWeights(kubeconfigPath: string, namespace: string, name: string) {
  return watchDistinct<HTTPRouteWeights>(
    kubeconfigPath,
    `/apis/gateway.networking.k8s.io/v1/namespaces/${namespace}/httproutes`,
    name,
    (route) =>
      (route.spec?.rules ?? [])
        .flatMap((rule) => rule.backendRefs ?? [])
        .map((ref) => `${ref.name}=${ref.weight ?? ''}`)
        .join(' '),
  );
}

interface DeploymentImage {
  spec?: { template?: { spec?: { containers?: { image?: string }[] } } };
}

/** Every distinct image of the Deployment's first container, in order. */
export function watchImage(kubeconfigPath: string, namespace: string, name: string) {
  return watchDistinct<DeploymentImage>(
    kubeconfigPath,
    `/apis/apps/v1/namespaces/${namespace}/deployments`,
    name,
    (deployment) => deployment.spec?.template?.spec?.containers?.[0]?.image,
  );
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
