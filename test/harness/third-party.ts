import { execFile } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gatewayApiRouter, type UpstreamCrds } from '../../src/routers/index.ts';
import { kubectl, waitEstablished } from './control-plane.ts';
import { repoRoot, waitFor } from './processes.ts';

// Third-party APIs the routers write to, installed from their upstream projects
// so the apiserver validates Fledge's objects with the real schemas. There is no
// Gateway API implementation in the sandbox: a tiny fake controller writes the
// route status a real one would.

const run = promisify(execFile);

const HTTPROUTES = 'httproutes.gateway.networking.k8s.io';

/**
 * The CustomResourceDefinition files a router's declaration names, from its upstream Go
 * module (fetched through the module proxy by hack/third-party-crds.sh, no build).
 */
export async function upstreamCrdFiles(crds: UpstreamCrds): Promise<string[]> {
  const { stdout } = await run('bash', [
    join(repoRoot, 'hack/third-party-crds.sh'),
    `${crds.module}@${crds.version}`,
  ]);
  const moduleDir = stdout.trim();
  const files = crds.paths.flatMap((path) => {
    const full = join(moduleDir, path);
    if (!statSync(full).isDirectory()) return [full];
    return readdirSync(full)
      .filter((file) => file.endsWith('.yaml') || file.endsWith('.yml'))
      .map((file) => join(full, file));
  });
  const defined = files.filter((path) =>
    /^kind: CustomResourceDefinition$/m.test(readFileSync(path, 'utf8')),
  );
  if (defined.length === 0)
    throw new Error(`no CustomResourceDefinition in ${crds.module} ${crds.paths.join(', ')}`);
  return defined;
}

/** A CRD file written from a project's API reference where no Go module ships it (test/fixtures/crds). */
export function fixtureCrdFile(name: string): string {
  return join(repoRoot, 'test/fixtures/crds', name);
}

/**
 * Applies CRD files (server-side, so it is idempotent and safe from parallel test files)
 * and waits until `resources` (e.g. `routetables.gateway.solo.io`) are served.
 */
export async function installCrdFiles(
  kubeconfigPath: string,
  files: readonly string[],
  resources: readonly string[],
): Promise<void> {
  const fileArgs = files.flatMap((file) => ['-f', file]);
  await kubectl(kubeconfigPath, ['apply', '--server-side', '--force-conflicts', ...fileArgs]);
  await waitEstablished(kubeconfigPath, fileArgs);
  // Established is not enough: storage for a new kind answers 429 for a moment.
  await waitFor(`${resources.join(', ')} to be served`, async () => {
    await kubectl(kubeconfigPath, ['get', resources.join(','), '--all-namespaces']);
    return true;
  });
}

/**
 * Applies a router's upstream CRDs (server-side, so it is idempotent and safe from parallel
 * test files) and waits until `resources` (plural.group) are served.
 */
export async function installRouterCrds(
  kubeconfigPath: string,
  crds: UpstreamCrds,
  resources: readonly string[],
): Promise<void> {
  const fileArgs = (await upstreamCrdFiles(crds)).flatMap((file) => ['-f', file]);
  await kubectl(kubeconfigPath, ['apply', '--server-side', '--force-conflicts', ...fileArgs]);
  const names = resources.map((resource) => `crd/${resource}`);
  await waitEstablished(kubeconfigPath, names);
  // Established is not enough: storage for a new kind answers 429 for a moment.
  await waitFor(`${resources.join(', ')} to be served`, async () => {
    await kubectl(kubeconfigPath, ['get', resources.join(','), '--all-namespaces']);
    return true;
  });
}

/**
 * Applies the upstream Gateway API standard-channel CRDs (server-side, so it is
 * idempotent and safe from parallel test files) and waits until HTTPRoutes are
 * served. The folder's ValidatingAdmissionPolicy (an upgrade guard) is not
 * installed: it is cluster policy, not API.
 */
export async function installGatewayApiCrds(kubeconfigPath: string): Promise<void> {
  const files = await upstreamCrdFiles(gatewayApiRouter.crds as UpstreamCrds);
  const fileArgs = files.flatMap((file) => ['-f', file]);
  await kubectl(kubeconfigPath, ['apply', '--server-side', '--force-conflicts', ...fileArgs]);
  await waitEstablished(kubeconfigPath, fileArgs);
  // Established is not enough: storage for a new kind answers 429 for a moment.
  await waitFor('Gateway API kinds to be served', async () => {
    await kubectl(kubeconfigPath, [
      'get',
      `${HTTPROUTES},gateways.gateway.networking.k8s.io`,
      '--all-namespaces',
    ]);
    return true;
  });
}

/** controllerName the fake controller reports under. */
export const FAKE_GATEWAY_CONTROLLER = 'fledge.dev/fake-gateway-controller';

interface RouteForStatus {
  metadata: { name: string; generation: number };
  spec: { parentRefs?: Record<string, unknown>[] };
  status?: { parents?: { conditions?: { type: string; observedGeneration?: number }[] }[] };
}

export interface RouteVerdict {
  /** Accepted=True when true (default), Accepted=False with `reason` otherwise. */
  accepted?: boolean;
  reason?: string;
}

function parentStatus(route: RouteForStatus, verdict: RouteVerdict) {
  const accepted = verdict.accepted ?? true;
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const condition = (type: string, ok: boolean, reason: string) => ({
    type,
    status: ok ? 'True' : 'False',
    reason,
    message: `set by the test harness's fake Gateway controller`,
    observedGeneration: route.metadata.generation,
    lastTransitionTime: now,
  });
  return {
    parents: (route.spec.parentRefs ?? []).map((parentRef) => ({
      parentRef,
      controllerName: FAKE_GATEWAY_CONTROLLER,
      conditions: [
        condition('Accepted', accepted, accepted ? 'Accepted' : (verdict.reason ?? 'NotAllowedByListeners')),
        condition('ResolvedRefs', true, 'ResolvedRefs'),
      ],
    })),
  };
}

async function writeRouteStatus(
  kubeconfigPath: string,
  namespace: string,
  route: RouteForStatus,
  verdict: RouteVerdict,
): Promise<void> {
  const patch = JSON.stringify({ status: parentStatus(route, verdict) });
  await kubectl(kubeconfigPath, [
    'patch',
    HTTPROUTES,
    route.metadata.name,
    '-n',
    namespace,
    '--subresource=status',
    '--type=merge',
    '-p',
    patch,
  ]);
}

async function listRoutes(kubeconfigPath: string, namespace: string): Promise<RouteForStatus[]> {
  const out = await kubectl(kubeconfigPath, ['get', HTTPROUTES, '-n', namespace, '-o', 'json']);
  return (JSON.parse(out) as { items: RouteForStatus[] }).items;
}

/**
 * Plays a Gateway controller once: writes status.parents for every parentRef of
 * the named HTTPRoute (or of every HTTPRoute in the namespace), reporting on the
 * route's current generation.
 */
export async function acceptRoutes(
  kubeconfigPath: string,
  namespace: string,
  name?: string,
  verdict: RouteVerdict = {},
): Promise<void> {
  const routes =
    name === undefined
      ? await listRoutes(kubeconfigPath, namespace)
      : [JSON.parse(await kubectl(kubeconfigPath, ['get', HTTPROUTES, name, '-n', namespace, '-o', 'json']))];
  for (const route of routes as RouteForStatus[])
    await writeRouteStatus(kubeconfigPath, namespace, route, verdict);
}

export interface FakeGatewayController {
  stop(): Promise<void>;
}

/**
 * Keeps accepting every HTTPRoute in the namespace whose status lags its
 * generation, polling every `intervalMs`, until stopped. Errors (e.g. a route
 * deleted between list and patch) are retried on the next round.
 */
export function startFakeGatewayController(
  kubeconfigPath: string,
  namespace: string,
  intervalMs = 250,
): FakeGatewayController {
  let stopped = false;
  const lagging = (route: RouteForStatus) => {
    const parents = route.status?.parents ?? [];
    return (
      parents.length !== (route.spec.parentRefs ?? []).length ||
      parents.some(
        (p) =>
          p.conditions?.find((c) => c.type === 'Accepted')?.observedGeneration !== route.metadata.generation,
      )
    );
  };
  const loop = (async () => {
    while (!stopped) {
      try {
        for (const route of (await listRoutes(kubeconfigPath, namespace)).filter(lagging)) {
          await writeRouteStatus(kubeconfigPath, namespace, route, {});
        }
      } catch {
        // Next round.
      }
      await new Promise((done) => setTimeout(done, intervalMs));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
    },
  };
}
