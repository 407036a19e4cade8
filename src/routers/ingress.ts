import { RouterConfigError } from './router.ts';
import type { SpecObject } from './adoption.ts';

// Pure helpers for routers that clone the Ingress named by spec.ingressRef into
// `<ingress>-canary` (ingress-nginx; Skipper later): the clone sends what the user's
// Ingress sends to the apex Service to the `-canary` Service instead.

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
  if (moved === 0) {
    throw new RouterConfigError(
      `spec.ingressRef: Ingress ${user.metadata.namespace ?? ''}/${user.metadata.name ?? ''} has no backend on ` +
        `Service ${apex}: point a path of it at ${apex} (spec.service.name), or fix spec.ingressRef`,
    );
  }
  return spec;
}
