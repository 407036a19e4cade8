import type { ABMatch } from '../api/index.ts';
import type { KubeObjectClient, ObjectRef } from '../kube/client.ts';
import { MANAGE_VERBS } from '../kube/rbac.ts';
import { applyAdopting, liveObject, isOwned, refOf, restoreAdopted } from './adoption.ts';
import { NO_ROUTING_FIELDS, type RouterDeclaration } from './declaration.ts';
import { escapeRegex } from './httproute.ts';
import {
  INGRESS_API_VERSION,
  INGRESS_KIND,
  canaryIngressName,
  cloneForCanary,
  type Ingress,
} from './ingress.ts';
import { canaryOwnerReference, withFluxOptOut, type ObjectMeta } from './objects.ts';
import { getService } from './services.ts';
import {
  NO_SESSION_COOKIES,
  ORIGINAL_CONFIGURATION_ANNOTATION,
  RouterConfigError,
  requireService,
  serviceNames,
  validateWeights,
  type DesiredRoutes,
  type RoutableCanary,
  type RouteReadback,
  type Router,
  type RouterDeps,
  type SetRoutesResult,
} from './router.ts';

// ingress-nginx: a `<ingress>-canary` copy of spec.ingressRef whose backends are the
// `-canary` Service, carrying the canary annotations (Flagger's nginx provider). The
// user's Ingress is only read. The copy exists only while the canary gets traffic: it is
// deleted when the weight returns to 0 (promotion, rollback) and on Canary deletion,
// so no stale canary annotation ever routes a request.

export const NGINX_PROVIDER = 'nginx';
const PREFIX = 'nginx.ingress.kubernetes.io/';
export const CANARY = `${PREFIX}canary`;
export const CANARY_WEIGHT = `${PREFIX}canary-weight`;
export const CANARY_WEIGHT_TOTAL = `${PREFIX}canary-weight-total`;
export const CANARY_BY_HEADER = `${PREFIX}canary-by-header`;
export const CANARY_BY_HEADER_VALUE = `${PREFIX}canary-by-header-value`;
export const CANARY_BY_HEADER_PATTERN = `${PREFIX}canary-by-header-pattern`;
export const CANARY_BY_COOKIE = `${PREFIX}canary-by-cookie`;

/** Annotations of the user's Ingress that never go onto the copy. */
const NOT_COPIED = ['kubectl.kubernetes.io/last-applied-configuration', ORIGINAL_CONFIGURATION_ANNOTATION];

const canaryIngress = 'namespace="{{ namespace }}",ingress="{{ ingress }}",canary!=""';

/**
 * analysis.match as ingress-nginx's A/B annotations. ingress-nginx knows one header and one
 * cookie, either of which sends a request to the canary, so each entry must hold exactly
 * one condition: at most one on a header and one on the `cookie` header.
 */
export function abAnnotations(matches: readonly ABMatch[]): Record<string, string> {
  const annotations: Record<string, string> = {};
  matches.forEach((entry, i) => {
    const field = `spec.analysis.match[${i}]`;
    if (entry.queryParams !== undefined || entry.sourceLabels !== undefined) {
      throw new RouterConfigError(
        `${field}: ingress-nginx routes the canary by one header or one cookie; remove queryParams and sourceLabels`,
      );
    }
    const headers = Object.entries(entry.headers ?? {});
    const [condition] = headers;
    if (condition === undefined || headers.length > 1) {
      throw new RouterConfigError(
        `${field}: ingress-nginx cannot require several conditions at once; give each match entry exactly one header`,
      );
    }
    const [name, match] = condition;
    const taken = (key: string, what: string) => {
      if (annotations[key] !== undefined)
        throw new RouterConfigError(`${field}: ingress-nginx routes the canary by one ${what} only`);
    };
    if (name.toLowerCase() === 'cookie') {
      taken(CANARY_BY_COOKIE, 'cookie');
      if (match.exact === undefined) {
        throw new RouterConfigError(
          `${field}.headers.cookie: give the cookie name as exact (requests with <name>=always go to the canary)`,
        );
      }
      annotations[CANARY_BY_COOKIE] = match.exact;
      return;
    }
    taken(CANARY_BY_HEADER, 'header');
    annotations[CANARY_BY_HEADER] = name;
    if (match.exact !== undefined) annotations[CANARY_BY_HEADER_VALUE] = match.exact;
    else if (match.regex !== undefined) annotations[CANARY_BY_HEADER_PATTERN] = match.regex;
    else if (match.prefix !== undefined)
      annotations[CANARY_BY_HEADER_PATTERN] = `^${escapeRegex(match.prefix)}`;
    else if (match.suffix !== undefined)
      annotations[CANARY_BY_HEADER_PATTERN] = `${escapeRegex(match.suffix)}$`;
  });
  return annotations;
}

function isABTesting(canary: RoutableCanary): boolean {
  return (canary.spec.analysis.match?.length ?? 0) > 0;
}

/** The canary annotations for a canary that gets traffic. */
export function canaryAnnotations(canary: RoutableCanary, canaryWeight: number): Record<string, string> {
  const matches = canary.spec.analysis.match;
  // A/B: matching requests all go to the canary, every other one to the primary.
  if (matches !== undefined && matches.length > 0)
    return { [CANARY]: 'true', [CANARY_WEIGHT]: '0', ...abAnnotations(matches) };
  return { [CANARY]: 'true', [CANARY_WEIGHT]: String(canaryWeight) };
}

/** The `<ingress>-canary` copy of the user's Ingress with the canary annotations. */
export function renderCanaryIngress(
  canary: RoutableCanary,
  user: Ingress,
  canaryWeight: number,
  owned: boolean,
): Ingress {
  const names = serviceNames(requireService(canary, NGINX_PROVIDER));
  const copied = Object.entries(user.metadata.annotations ?? {}).filter(
    ([key]) => !key.startsWith(CANARY) && !NOT_COPIED.includes(key),
  );
  const metadata: ObjectMeta = {
    name: canaryIngressName(user.metadata.name ?? ''),
    namespace: canary.metadata.namespace,
    annotations: withFluxOptOut({
      ...Object.fromEntries(copied),
      ...canaryAnnotations(canary, canaryWeight),
    }),
  };
  if (user.metadata.labels !== undefined) metadata.labels = { ...user.metadata.labels };
  if (owned) metadata.ownerReferences = [canaryOwnerReference(canary)];
  return {
    apiVersion: INGRESS_API_VERSION,
    kind: INGRESS_KIND,
    metadata,
    spec: cloneForCanary(user, names.apex, names.canary),
  };
}

export type CanaryIngressWeights =
  { ok: true; canaryWeight: number } | { ok: false; reason: string; canaryWeight?: number };

/** The canary's share as ingress-nginx reads the copy's annotations. */
export function readCanaryWeight(ingress: Ingress | undefined): CanaryIngressWeights {
  const annotations = ingress?.metadata.annotations ?? {};
  if (ingress === undefined || annotations[CANARY] !== 'true') return { ok: true, canaryWeight: 0 };
  // A/B: every matching request goes to the canary (Flagger reads it the same way).
  if (annotations[CANARY_BY_HEADER] !== undefined || annotations[CANARY_BY_COOKIE] !== undefined)
    return { ok: true, canaryWeight: 100 };
  const where = `Ingress ${ingress.metadata.namespace ?? ''}/${ingress.metadata.name ?? ''}`;
  const weight = Number(annotations[CANARY_WEIGHT] ?? '0');
  const total = Number(annotations[CANARY_WEIGHT_TOTAL] ?? '100');
  if (!Number.isInteger(weight) || !Number.isInteger(total) || total <= 0 || weight < 0 || weight > total) {
    return {
      ok: false,
      reason: `${where} has an unreadable ${CANARY_WEIGHT} "${annotations[CANARY_WEIGHT] ?? ''}" (total ${total})`,
    };
  }
  return { ok: true, canaryWeight: Math.round((100 * weight) / total) };
}

export const nginxRouter: RouterDeclaration = {
  provider: NGINX_PROVIDER,
  providers: ['nginx'],
  availability: { state: 'available', create: (deps) => new NginxRouter(deps) },
  objects:
    '`Ingress <ingress>-canary` (`networking.k8s.io/v1`) with the `canary*` annotations, while the canary gets traffic',
  features: ['weighted', 'abTesting', 'blueGreen'],
  ...NO_ROUTING_FIELDS,
  refs: [{ field: 'ingressRef', required: true }],
  alternatives: 'use spec.analysis.stepWeight, iterations, or A/B testing by one header or cookie',
  checkExpressible: (spec) => {
    if (spec.analysis.match !== undefined) abAnnotations(spec.analysis.match);
  },
  permissions: [{ apiGroup: 'networking.k8s.io', resources: ['ingresses'], verbs: MANAGE_VERBS }],
  // Ingress is a core API: no CRD to install.
  metrics: {
    requests: {
      series: 'nginx_ingress_controller_requests',
      selector: canaryIngress,
      successMatcher: 'status!~"5.."',
    },
    latency: {
      kind: 'mean',
      summary: 'nginx_ingress_controller_response_duration_seconds',
      selector: canaryIngress,
      toMilliseconds: 1000,
    },
    source:
      'ingress-nginx metrics of the Canary\'s Ingress (spec.ingressRef); `canary!=""` keeps requests the canary backend served.',
  },
};

export class NginxRouter implements Router {
  readonly provider = NGINX_PROVIDER;
  readonly #client: KubeObjectClient;

  constructor(deps: RouterDeps) {
    this.#client = deps.client;
  }

  /** Checks the user's Ingress can be cloned and keeps an existing copy in step with it. */
  async reconcile(canary: RoutableCanary): Promise<void> {
    const user = await this.#userIngress(canary);
    const live = await liveObject<Ingress>(this.#client, this.#canaryRef(canary));
    const current = live === undefined || !isOwned(live, canary) ? undefined : readCanaryWeight(live);
    const weight = current?.ok === true ? current.canaryWeight : 0;
    if (weight === 0) {
      cloneForCanary(user, ...this.#backends(canary));
      return;
    }
    await applyAdopting(this.#client, this.#canaryRef(canary), live, canary, () =>
      renderCanaryIngress(canary, user, weight, true),
    );
  }

  async setRoutes(canary: RoutableCanary, routes: DesiredRoutes): Promise<SetRoutesResult> {
    validateWeights(routes);
    if (routes.mirror)
      throw new RouterConfigError('provider nginx cannot mirror traffic: remove analysis.mirror');
    const { canaryWeight } = routes;
    if (isABTesting(canary) && canaryWeight !== 0 && canaryWeight !== 100) {
      throw new RouterConfigError(
        `provider nginx sends requests matching spec.analysis.match all to the canary or all to the primary; ` +
          `got canary weight ${canaryWeight}`,
      );
    }
    const user = await this.#userIngress(canary);
    const live = await liveObject<Ingress>(this.#client, this.#canaryRef(canary));
    if (canaryWeight === 0) {
      cloneForCanary(user, ...this.#backends(canary));
      await this.#remove(canary, live);
    } else {
      await applyAdopting(this.#client, this.#canaryRef(canary), live, canary, (owned) =>
        renderCanaryIngress(canary, user, canaryWeight, owned),
      );
    }
    return { cookies: { ...NO_SESSION_COOKIES } };
  }

  async getRoutes(canary: RoutableCanary): Promise<RouteReadback> {
    const live = await liveObject<Ingress>(this.#client, this.#canaryRef(canary));
    if (live === undefined) {
      // No copy is the resting state; it routes only once the Ingress can be cloned and the Services exist.
      const unready = await this.#unready(canary);
      if (unready !== undefined) return { applied: false, reason: unready };
    }
    const read = readCanaryWeight(live);
    if (!read.ok) return { applied: false, reason: read.reason };
    // No copy (or one without the canary annotation): ingress-nginx sends everything to the primary.
    return {
      applied: true,
      primaryWeight: 100 - read.canaryWeight,
      canaryWeight: read.canaryWeight,
      mirrored: false,
      cookies: { ...NO_SESSION_COOKIES },
    };
  }

  async finalize(canary: RoutableCanary): Promise<void> {
    await this.#remove(canary, await liveObject<Ingress>(this.#client, this.#canaryRef(canary)));
  }

  /** Why the user's Ingress does not reach the primary through Fledge's Services yet, if it does not. */
  async #unready(canary: RoutableCanary): Promise<string | undefined> {
    const { namespace } = canary.metadata;
    const names = serviceNames(requireService(canary, NGINX_PROVIDER));
    for (const name of [names.apex, names.primary, names.canary]) {
      if ((await getService(this.#client, namespace, name)) === undefined)
        return `Service ${namespace}/${name} does not exist yet`;
    }
    try {
      cloneForCanary(await this.#userIngress(canary), ...this.#backends(canary));
    } catch (error) {
      return (error as Error).message;
    }
    return undefined;
  }

  /** Deletes the copy Fledge created, or gives an adopted one its original back. */
  async #remove(canary: RoutableCanary, live: Ingress | undefined): Promise<void> {
    if (live === undefined) return;
    if (await restoreAdopted(this.#client, live)) return;
    if (isOwned(live, canary)) await this.#client.delete(refOf(live), { uid: live.metadata.uid ?? '' });
  }

  async #userIngress(canary: RoutableCanary): Promise<Ingress> {
    const ref = this.#userRef(canary);
    const user = await liveObject<Ingress>(this.#client, ref);
    if (user === undefined) {
      // Not terminal: the Ingress may be applied just after the Canary.
      throw new Error(`spec.ingressRef: Ingress ${ref.namespace ?? ''}/${ref.name} not found: create it`);
    }
    return user;
  }

  #backends(canary: RoutableCanary): [string, string] {
    const names = serviceNames(requireService(canary, NGINX_PROVIDER));
    return [names.apex, names.canary];
  }

  #userRef(canary: RoutableCanary): ObjectRef & { name: string } {
    const name = canary.spec.ingressRef?.name;
    if (name === undefined) {
      throw new RouterConfigError(
        'provider nginx needs spec.ingressRef: the Ingress to clone',
        'RouteRefMissing',
      );
    }
    return {
      apiVersion: INGRESS_API_VERSION,
      kind: INGRESS_KIND,
      namespace: canary.metadata.namespace,
      name,
    };
  }

  #canaryRef(canary: RoutableCanary): ObjectRef {
    const user = this.#userRef(canary);
    return { ...user, name: canaryIngressName(user.name) };
  }
}
