import { canonicalJson, sha256Hex } from './canonical.ts';
import type { PodTemplate } from './objects.ts';
import { FLEDGE_KEY_PREFIX } from './options.ts';

/**
 * The pod template as the user wrote it: without the keys Fledge itself puts on
 * a target (the DaemonSet scale-to-zero nodeSelector, any fledge.dev/ label or
 * annotation). Maps left empty are dropped, because the apiserver never returns
 * an empty map either. The input is not modified.
 */
export function userPodTemplate(template: PodTemplate): PodTemplate {
  const result: PodTemplate = {};
  const metadata = template.metadata;
  if (metadata) {
    // creationTimestamp (always null in a template) is bookkeeping, not content.
    const { labels, annotations, ...rest } = metadata as PodTemplate['metadata'] & {
      creationTimestamp?: unknown;
    };
    delete rest.creationTimestamp;
    const userLabels = withoutFledgeKeys(labels);
    const userAnnotations = withoutFledgeKeys(annotations);
    result.metadata = {
      ...rest,
      ...(userLabels && { labels: userLabels }),
      ...(userAnnotations && { annotations: userAnnotations }),
    };
  }
  if (template.spec) {
    const { nodeSelector, ...spec } = template.spec;
    const userNodeSelector = withoutFledgeKeys(nodeSelector);
    result.spec = { ...spec, ...(userNodeSelector && { nodeSelector: userNodeSelector }) };
  }
  return result;
}

function withoutFledgeKeys(map: Record<string, string> | undefined): Record<string, string> | undefined {
  if (!map) return undefined;
  const kept = Object.entries(map).filter(([key]) => !key.startsWith(FLEDGE_KEY_PREFIX));
  return kept.length > 0 ? Object.fromEntries(kept) : undefined;
}

/**
 * Identity of a pod template: SHA-256 (hex) of its canonical JSON, Fledge's own
 * keys left out. Scaling never changes it (replicas are not part of the template,
 * the DaemonSet scale-to-zero key is ignored), and neither does key order.
 */
export function templateRevision(template: PodTemplate): string {
  return sha256Hex(canonicalJson(userPodTemplate(template)));
}
