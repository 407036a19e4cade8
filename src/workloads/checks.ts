import { WorkloadConfigError } from './errors.ts';

// Setups that would run, and even "succeed", while serving nothing the user meant:
// checked before a run starts, from the informer's copy of the target.

/** The part of a Deployment or DaemonSet these checks read. */
export interface TargetShape {
  spec?: {
    replicas?: number;
    template?: {
      spec?: {
        containers?: ReadonlyArray<{
          name: string;
          ports?: ReadonlyArray<{ name?: string; containerPort: number; protocol?: string }>;
        }>;
      };
    };
  };
}

/**
 * spec.service.targetPort must be a port of a container of the target: a name no
 * container declares leaves the Services with no endpoints, and a number none of the
 * declared ports has is almost always a typo. A template declaring no ports at all
 * cannot be checked (containers may listen on undeclared ports) and passes.
 */
export function checkTargetPort(
  target: TargetShape,
  describe: string,
  targetPort: number | string,
  field: string,
): void {
  const ports = (target.spec?.template?.spec?.containers ?? []).flatMap((container) =>
    (container.ports ?? []).map((port) => ({ container: container.name, ...port })),
  );
  if (ports.length === 0) return;
  const wanted = typeof targetPort === 'string' && /^\d+$/.test(targetPort) ? Number(targetPort) : targetPort;
  const found = ports.some((port) =>
    typeof wanted === 'number' ? port.containerPort === wanted : port.name === wanted,
  );
  if (found) return;
  const exposed = ports
    .map(
      (port) =>
        `${port.name === undefined ? '' : `${port.name} `}${port.containerPort}/${port.protocol ?? 'TCP'} (${port.container})`,
    )
    .join(', ');
  const what = typeof wanted === 'number' ? `port ${wanted}` : `a port named "${wanted}"`;
  throw new WorkloadConfigError(
    'TargetInvalid',
    `${field}: no container of ${describe} exposes ${what} (it exposes ${exposed}): ` +
      `set ${field} to one of those, or add it to the container's ports`,
  );
}

/**
 * A Deployment at 0 replicas before Fledge ever initialised it: the primary would take
 * its size from it, so Fledge cannot tell how many replicas should serve. Fledge's own
 * scale to zero (after initialising, after a promotion) always has a primary next to it,
 * and an autoscaler (KEDA scales to zero) decides the size itself: neither is refused.
 */
export function checkNotScaledToZero(
  target: TargetShape,
  describe: string,
  name: string,
  field: string,
): void {
  if (target.spec?.replicas !== 0) return;
  throw new WorkloadConfigError(
    'TargetScaledToZero',
    `${field}: ${describe} has spec.replicas 0 and no primary yet, so Fledge cannot tell how many ` +
      `replicas the primary should serve with: scale it to that size (kubectl scale deployment/${name} ` +
      '--replicas=N) and Fledge scales it back to zero itself once the primary serves; or set ' +
      'spec.autoscalerRef to let an autoscaler size it',
  );
}
