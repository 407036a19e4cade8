import type { CustomMetadata, NormalizedService } from '../api/index.ts';
import type { KubeObjectClient, ObjectRef } from '../kube/client.ts';
import { isNotFound, normalizeKubeError } from '../kube/errors.ts';
import { applyGuardedJsonPatch, applyObject, type JsonPatchOperation } from '../kube/patch.ts';
import {
  canaryOwnerReference,
  dropFluxOptOutOps,
  ownershipOf,
  pointer,
  originalToSave,
  removeOriginalOp,
  restoreOwnerMetadataOps,
  sameStringMap,
  saveOriginalOps,
  savedOriginal,
  unchangedSince,
  withFluxOptOut,
  type ObjectMeta,
  type OriginalMetadata,
} from './objects.ts';
import {
  RouterConfigError,
  requireService,
  serviceNames,
  type HandBack,
  type RoutableCanary,
} from './router.ts';

// The three ClusterIP Services every Deployment/DaemonSet canary gets: the apex
// `<name>` (what clients call; selects the primary pods), `<name>-primary` and
// `<name>-canary`. Rendering is pure; applying is server-side apply as "fledge",
// so re-applying an unchanged Canary writes nothing. Each carries Flux's opt-out
// marks (see FLUX_OPT_OUT_ANNOTATIONS).

/** Mesh proxies injected into the pod template whose ports are never exposed. */
export const SIDECAR_CONTAINERS: readonly string[] = ['istio-proxy', 'envoy'];

export interface ServicePort {
  name?: string;
  port: number;
  targetPort?: number | string;
  protocol?: string;
  appProtocol?: string;
  nodePort?: number;
}

export interface ServiceObject {
  apiVersion: 'v1';
  kind: 'Service';
  metadata: ObjectMeta;
  spec: {
    type?: string;
    clusterIP?: string;
    selector?: Record<string, string>;
    ports?: ServicePort[];
    trafficDistribution?: string;
  };
}

/** The part of a Deployment/DaemonSet pod template port discovery reads. */
export interface PodTemplateShape {
  spec?: {
    containers: ReadonlyArray<{
      name: string;
      ports?: ReadonlyArray<{ name?: string; containerPort: number; protocol?: string }>;
    }>;
  };
}

/** Label selectors of the primary pods and of the target's (canary) pods. */
export interface ServiceSelectors {
  primary: Record<string, string>;
  canary: Record<string, string>;
}

export interface ServiceInputs {
  canary: RoutableCanary;
  selectors: ServiceSelectors;
  /** The target's pod template; required when spec.service.portDiscovery is true. */
  podTemplate?: PodTemplateShape;
}

export interface RenderedServices {
  apex: ServiceObject;
  primary: ServiceObject;
  canary: ServiceObject;
}

/** Which pods the apex Service selects: the primary's, or the canary's during a kubernetes blue/green switch. */
export type ApexTarget = 'primary' | 'canary';

/** The port every generated Service exposes, from spec.service. */
export function mainServicePort(service: NormalizedService): ServicePort {
  const port: ServicePort = {
    name: service.portName,
    port: service.port,
    targetPort: service.targetPort,
    protocol: 'TCP',
  };
  if (service.appProtocol !== undefined) port.appProtocol = service.appProtocol;
  return port;
}

/**
 * Every container port of the pod template except the mesh sidecars' and the
 * one the main port already targets, each exposed on its own number. Ports
 * without a name (or whose name is taken) are named `<protocol>-<number>`.
 */
export function discoverPorts(template: PodTemplateShape, main: ServicePort): ServicePort[] {
  const usedNames = new Set([main.name]);
  const usedNumbers = new Set([`${main.port}/${main.protocol ?? 'TCP'}`]);
  const discovered: ServicePort[] = [];
  for (const container of template.spec?.containers ?? []) {
    if (SIDECAR_CONTAINERS.includes(container.name)) continue;
    for (const containerPort of container.ports ?? []) {
      const protocol = containerPort.protocol ?? 'TCP';
      const number = containerPort.containerPort;
      const isMainTarget = main.targetPort === number || main.targetPort === containerPort.name;
      if (isMainTarget || usedNumbers.has(`${number}/${protocol}`)) continue;
      let name = containerPort.name;
      if (name === undefined || usedNames.has(name)) name = `${protocol.toLowerCase()}-${number}`;
      usedNames.add(name);
      usedNumbers.add(`${number}/${protocol}`);
      discovered.push({ name, port: number, targetPort: number, protocol });
    }
  }
  return discovered;
}

/** The ports of all three Services. */
export function servicePorts(
  service: NormalizedService,
  podTemplate: PodTemplateShape | undefined,
): ServicePort[] {
  const main = mainServicePort(service);
  if (service.portDiscovery !== true) return [main];
  if (podTemplate === undefined) {
    throw new Error(
      'spec.service.portDiscovery needs the target pod template: pass podTemplate to the Services',
    );
  }
  return [main, ...discoverPorts(podTemplate, main)];
}

export function renderServices(inputs: ServiceInputs, apexTarget: ApexTarget = 'primary'): RenderedServices {
  const { canary, selectors } = inputs;
  const service = requireService(canary, 'every Deployment or DaemonSet target');
  const names = serviceNames(service);
  const ports = servicePorts(service, inputs.podTemplate);
  const render = (
    name: string,
    selector: Record<string, string>,
    custom: CustomMetadata | undefined,
    headless: boolean,
  ): ServiceObject => {
    const metadata: ObjectMeta = {
      name,
      namespace: canary.metadata.namespace,
      ownerReferences: [canaryOwnerReference(canary)],
    };
    if (custom?.labels !== undefined) metadata.labels = { ...custom.labels };
    metadata.annotations = withFluxOptOut(custom?.annotations);
    const spec: ServiceObject['spec'] = {
      type: 'ClusterIP',
      selector: { ...selector },
      ports: structuredClone(ports),
    };
    if (headless) spec.clusterIP = 'None';
    if (service.trafficDistribution !== undefined) spec.trafficDistribution = service.trafficDistribution;
    return { apiVersion: 'v1', kind: 'Service', metadata, spec };
  };
  const headless = service.headless === true;
  return {
    // The apex is never headless: clients need its virtual IP.
    apex: render(names.apex, selectors[apexTarget], service.apex, false),
    primary: render(names.primary, selectors.primary, service.primary, headless),
    canary: render(names.canary, selectors.canary, service.canary, headless),
  };
}

/** What an adopted apex Service looked like before Fledge took it over. */
interface OriginalService extends OriginalMetadata {
  selector?: Record<string, string>;
  ports?: ServicePort[];
}

function serviceRef(namespace: string, name: string): ObjectRef {
  return { apiVersion: 'v1', kind: 'Service', namespace, name };
}

export async function getService(
  client: KubeObjectClient,
  namespace: string,
  name: string,
): Promise<ServiceObject | undefined> {
  try {
    return await client.get<ServiceObject>(serviceRef(namespace, name));
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/**
 * Creates or updates the apex, primary and canary Services. An apex the
 * kubernetes router switched to the canary pods stays switched. An apex that
 * existed before the Canary (and no controller owns) is adopted: its selector and
 * ports are saved in an annotation and replaced, and finalizeServices restores them.
 */
export async function applyServices(
  client: KubeObjectClient,
  inputs: ServiceInputs,
): Promise<RenderedServices> {
  const { canary, selectors } = inputs;
  const { namespace } = canary.metadata;
  const names = serviceNames(requireService(canary, 'every Deployment or DaemonSet target'));
  const live = await getService(client, namespace, names.apex);
  const description = `Service ${namespace}/${names.apex}`;
  const adopted = live !== undefined && ownershipOf(live.metadata, canary, description) === 'adopted';
  // Until adoption saved the original, a selector equal to the target's is the user's own, not a switch.
  const switched =
    live !== undefined &&
    (!adopted || savedOriginal(live.metadata, description) !== undefined) &&
    sameStringMap(live.spec.selector, selectors.canary);
  const rendered = renderServices(inputs, switched ? 'canary' : 'primary');
  const [apex, primary, canaryService] = await Promise.all([
    adopted
      ? updateAdoptedApex(client, live, rendered.apex, description)
      : applyObject(client, rendered.apex),
    applyOwnedService(client, rendered.primary, canary),
    applyOwnedService(client, rendered.canary, canary),
  ]);
  return { apex, primary, canary: canaryService };
}

/**
 * Applies a primary or canary Service. clusterIP cannot change once set: when
 * spec.service.headless is switched on, the apiserver refuses the apply; when
 * switched off, it keeps "None". Either way a Service this Canary owns is deleted
 * (only that very object: uid precondition) and created again with the new setting.
 */
async function applyOwnedService(
  client: KubeObjectClient,
  desired: ServiceObject,
  canary: RoutableCanary,
): Promise<ServiceObject> {
  const { namespace = '', name = '' } = desired.metadata;
  const wantHeadless = desired.spec.clusterIP === 'None';
  let live: ServiceObject | undefined;
  try {
    live = await applyObject(client, desired);
    if ((live.spec.clusterIP === 'None') === wantHeadless) return live;
  } catch (error) {
    const { reason, message } = normalizeKubeError(error);
    if (reason !== 'Invalid' || !message.includes('clusterIP')) throw error;
    live = await getService(client, namespace, name);
    if (live === undefined || (live.spec.clusterIP === 'None') === wantHeadless) throw error;
  }
  const description = `Service ${namespace}/${name}`;
  if (ownershipOf(live.metadata, canary, description) !== 'owned') {
    throw new RouterConfigError(
      `${description} must be recreated to switch spec.service.headless, and Canary "${canary.metadata.name}" ` +
        'does not own it: delete it and Fledge creates it again',
    );
  }
  await client.delete(
    serviceRef(namespace, name),
    live.metadata.uid === undefined ? {} : { uid: live.metadata.uid },
  );
  return applyObject(client, desired);
}

/**
 * An adopted apex is edited with a guarded JSON patch rather than applied: server-side
 * apply would merge Fledge's ports into the owner's instead of replacing them.
 * Its type and node ports are kept.
 */
async function updateAdoptedApex(
  client: KubeObjectClient,
  live: ServiceObject,
  desired: ServiceObject,
  description: string,
): Promise<ServiceObject> {
  const ports = (desired.spec.ports ?? []).map((port) => {
    const nodePort = live.spec.ports?.find((p) => p.name === port.name)?.nodePort;
    return nodePort === undefined ? port : { ...port, nodePort };
  });
  const operations: JsonPatchOperation[] = [];
  const original = originalToSave(live.metadata, desired.metadata, () => originalSpec(live), description);
  if (original !== undefined) operations.push(...saveOriginalOps(live.metadata, original));
  if (!sameStringMap(live.spec.selector, desired.spec.selector)) {
    operations.push({ op: 'add', path: '/spec/selector', value: desired.spec.selector });
  }
  if (!samePorts(live.spec.ports ?? [], ports)) {
    operations.push({ op: 'add', path: '/spec/ports', value: ports });
  }
  operations.push(...mapEntryOps(live.metadata, 'labels', desired.metadata.labels));
  operations.push(...mapEntryOps(live.metadata, 'annotations', desired.metadata.annotations, operations));
  if (operations.length === 0) return live;
  return applyGuardedJsonPatch<ServiceObject>(
    client,
    serviceRef(desired.metadata.namespace ?? '', desired.metadata.name ?? ''),
    [...unchangedSince(live.metadata), ...operations],
  );
}

function originalSpec(live: ServiceObject): OriginalService {
  const original: OriginalService = {};
  if (live.spec.selector !== undefined) original.selector = live.spec.selector;
  if (live.spec.ports !== undefined) original.ports = live.spec.ports;
  return original;
}

/** Sets `entries` in metadata.labels/annotations, creating the map when neither it nor an earlier op does. */
function mapEntryOps(
  meta: ObjectMeta,
  field: 'labels' | 'annotations',
  entries: Record<string, string> | undefined,
  earlier: readonly JsonPatchOperation[] = [],
): JsonPatchOperation[] {
  const current = meta[field];
  const changed = Object.entries(entries ?? {}).filter(([key, value]) => current?.[key] !== value);
  if (changed.length === 0) return [];
  const mapCreatedEarlier = earlier.some((op) => op.op === 'add' && op.path === `/metadata/${field}`);
  if (current === undefined && !mapCreatedEarlier) {
    return [{ op: 'add', path: `/metadata/${field}`, value: Object.fromEntries(changed) }];
  }
  return changed.map(([key, value]) => ({ op: 'add', path: `/metadata/${field}/${pointer(key)}`, value }));
}

function samePorts(live: readonly ServicePort[], desired: readonly ServicePort[]): boolean {
  const key = (p: ServicePort) =>
    JSON.stringify([
      p.name,
      p.port,
      String(p.targetPort ?? p.port),
      p.protocol ?? 'TCP',
      p.appProtocol,
      p.nodePort,
    ]);
  return (
    live.length === desired.length && live.every((port, i) => key(port) === key(desired[i] as ServicePort))
  );
}

/**
 * On Canary deletion, before the primary goes: an adopted apex gets its original
 * selector and ports back, and the owner's values of the labels and annotations
 * Fledge set; an apex Fledge created is pointed at the target's pods (`targetSelector`;
 * undefined when the target is gone, and the apex is left as it is), loses Flux's
 * opt-out marks and, with `release`, its owner reference, so it outlives the Canary.
 * The primary and canary Services are left to garbage collection.
 */
export async function finalizeServices(
  client: KubeObjectClient,
  canary: RoutableCanary,
  targetSelector: Record<string, string> | undefined,
  handBack: HandBack,
): Promise<void> {
  const { namespace } = canary.metadata;
  const service = requireService(canary, 'every Deployment or DaemonSet target');
  const { apex } = serviceNames(service);
  const live = await getService(client, namespace, apex);
  if (live === undefined) return;
  const description = `Service ${namespace}/${apex}`;
  const original = savedOriginal<OriginalService>(live.metadata, description);
  const operations: JsonPatchOperation[] = [];
  if (original !== undefined) {
    if (original.selector === undefined) operations.push({ op: 'remove', path: '/spec/selector' });
    else operations.push({ op: 'add', path: '/spec/selector', value: original.selector });
    if (original.ports !== undefined)
      operations.push({ op: 'add', path: '/spec/ports', value: original.ports });
    operations.push(...restoreOwnerMetadataOps(live.metadata, original), removeOriginalOp());
  } else if (targetSelector !== undefined && ownershipOf(live.metadata, canary, description) === 'owned') {
    operations.push({ op: 'add', path: '/spec/selector', value: targetSelector });
    operations.push(...dropFluxOptOutOps(live.metadata, service.apex?.annotations));
    if (handBack.release) {
      const index = live.metadata.ownerReferences?.findIndex((ref) => ref.uid === canary.metadata.uid) ?? -1;
      operations.push(
        { op: 'test', path: `/metadata/ownerReferences/${index}/uid`, value: canary.metadata.uid },
        { op: 'remove', path: `/metadata/ownerReferences/${index}` },
      );
    }
  } else {
    return;
  }
  await applyGuardedJsonPatch(client, serviceRef(namespace, apex), [
    ...unchangedSince(live.metadata),
    ...operations,
  ]);
}
