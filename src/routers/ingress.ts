import type { SpecObject } from './adoption.ts';
import { canaryOwnerReference, withFluxOptOut, type ObjectMeta } from './objects.ts';
import { ORIGINAL_CONFIGURATION_ANNOTATION, RouterConfigError, type RoutableCanary } from './router.ts';

// Pure helpers for routers that clone the Ingress named by spec.ingressRef into
// `<ingress>-canary` (ingress-nginx, Skipper): the copy sends what the user's Ingress
// sends to the apex Service to the canary (and, for Skipper, the primary) instead.

export const INGRESS_API_VERSION = 'networking.k8s.io/v1';
export const INGRESS_KIND = 'Ingress';

export interface IngressBackend {
  service?: { name: string; port?: { number?: number; name?: string } };
  resource?: { apiGroup?: string; kind: string; name: string };
}

export interface IngressSpec {
  ingressClassName?: string;
  defaultBackend?: IngressBackend;
  rules?: {
    host?: string;
    http?: { paths: { path?: string; pathType: string; backend: IngressBackend }[] };
  }[];
  tls?: { hosts?: string[]; secretName?: string }[];
}

export type Ingress = SpecObject<IngressSpec>;

export function canaryIngressName(ingress: string): string {
  return `${ingress}-canary`;
}

/** Annotations of the user's Ingress that never go onto the copy. */
const NOT_COPIED = ['kubectl.kubernetes.io/last-applied-configuration', ORIGINAL_CONFIGURATION_ANNOTATION];

/**
 * The copy's metadata: the user's labels and annotations (less Fledge's own and those
 * starting with `replacedPrefix`, which the data plane's `own` annotations replace), `own`,
 * Flux's opt-out marks, and the owner reference when Fledge creates the copy.
 */
export function canaryIngressMetadata(
  canary: RoutableCanary,
  user: Ingress,
  own: Record<string, string>,
  owned: boolean,
  replacedPrefix: string,
): ObjectMeta {
  const copied = Object.entries(user.metadata.annotations ?? {}).filter(
    ([key]) => !key.startsWith(replacedPrefix) && !NOT_COPIED.includes(key),
  );
  const metadata: ObjectMeta = {
    name: canaryIngressName(user.metadata.name ?? ''),
    namespace: canary.metadata.namespace,
    annotations: withFluxOptOut({ ...Object.fromEntries(copied), ...own }),
  };
  if (user.metadata.labels !== undefined) metadata.labels = { ...user.metadata.labels };
  if (owned) metadata.ownerReferences = [canaryOwnerReference(canary)];
  return metadata;
}

function noBackend(user: Ingress, apex: string): RouterConfigError {
  return new RouterConfigError(
    `spec.ingressRef: Ingress ${user.metadata.namespace ?? ''}/${user.metadata.name ?? ''} has no backend on ` +
      `Service ${apex}: point a path of it at ${apex} (spec.service.name), or fix spec.ingressRef`,
  );
}

/**
 * The user's Ingress spec with every backend on Service `apex` moved to `canary`. An
 * Ingress with no such backend would give the canary nothing to serve: refused.
 */
export function cloneForCanary(user: Ingress, apex: string, canary: string): IngressSpec {
  const spec = structuredClone(user.spec);
  let moved = 0;
  const move = (backend: IngressBackend | undefined) => {
    if (backend?.service?.name !== apex) return;
    backend.service.name = canary;
    moved++;
  };
  move(spec.defaultBackend);
  for (const rule of spec.rules ?? []) for (const path of rule.http?.paths ?? []) move(path.backend);
  if (moved === 0) throw noBackend(user, apex);
  return spec;
}

/**
 * The user's Ingress spec with every path on Service `apex` sent to `primary`, followed
 * by the same path to `canary` (Skipper splits a path between its backends by weight).
 */
export function splitForCanary(user: Ingress, apex: string, primary: string, canary: string): IngressSpec {
  const spec = structuredClone(user.spec);
  let split = 0;
  for (const rule of spec.rules ?? []) {
    if (rule.http === undefined) continue;
    rule.http.paths = rule.http.paths.flatMap((path) => {
      const service = path.backend.service;
      if (service?.name !== apex) return [path];
      split++;
      const toCanary = structuredClone(path);
      service.name = primary;
      (toCanary.backend.service as { name: string }).name = canary;
      return [path, toCanary];
    });
  }
  if (split === 0) throw noBackend(user, apex);
  return spec;
}
