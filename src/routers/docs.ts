import { ROUTING_SERVICE_FIELDS, type RoutingFeature, type RoutingServiceField } from './capabilities.ts';
import type { RouterDeclaration } from './declaration.ts';
import { availableRouters, routerDeclarations } from './registry.ts';

// The provider and capability tables of docs/routers.md, rendered from the routers'
// declarations (hack/generate.ts splices them in; generated-check keeps them current).

const code = (text: string) => `\`${text}\``;

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

const featureLabels: Readonly<Record<RoutingFeature, string>> = {
  weighted: 'canary',
  abTesting: 'A/B testing',
  blueGreen: 'blue/green',
  mirroring: 'mirroring',
  sessionAffinity: 'session affinity',
};

function state(declaration: RouterDeclaration): string {
  switch (declaration.availability.state) {
    case 'available':
      return 'runs';
    case 'planned':
      return 'accepted, no router yet (`ProviderUnavailable`)';
    case 'withdrawn':
      return 'refused for good (`ProviderUnavailable`)';
  }
}

/** Every provider: its spellings, whether it runs, what it writes and the traffic shapes it makes. */
export function providersTable(): string {
  return table(
    ['`spec.provider`', 'router', 'in this version', 'objects written', 'strategies', 'builtin metrics'],
    routerDeclarations.map((d) => [
      d.providers.map(code).join(', '),
      code(d.provider),
      state(d),
      d.objects,
      d.features.map((f) => featureLabels[f]).join(', '),
      d.metrics === undefined ? 'none' : 'yes',
    ]),
  );
}

const featureRows: readonly { feature: RoutingFeature; label: string }[] = [
  { feature: 'weighted', label: 'progressive weights (`stepWeight`, `stepWeights`)' },
  { feature: 'abTesting', label: 'A/B testing (`analysis.match`)' },
  { feature: 'blueGreen', label: 'blue/green (`iterations`)' },
  { feature: 'mirroring', label: 'mirroring (`analysis.mirror`)' },
  { feature: 'sessionAffinity', label: 'session affinity (`analysis.sessionAffinity`)' },
];

function fieldVerdict(declaration: RouterDeclaration, field: RoutingServiceField): string {
  if (declaration.serviceFields.includes(field)) return 'yes';
  return declaration.ignoredServiceFields.includes(field) ? 'ignored' : 'refused';
}

/** What each router of this version does with each traffic shape and spec.service routing field. */
export function capabilitiesTable(): string {
  const routers = availableRouters();
  const rows = featureRows.map(({ feature, label }) => [
    label,
    ...routers.map((d) => (d.features.includes(feature) ? 'yes' : 'refused')),
  ]);
  // One row per distinct verdict pattern, so the table stays short.
  const groups = new Map<string, RoutingServiceField[]>();
  for (const field of ROUTING_SERVICE_FIELDS) {
    const key = routers.map((d) => fieldVerdict(d, field)).join('|');
    groups.set(key, [...(groups.get(key) ?? []), field]);
  }
  for (const [key, fields] of groups) {
    rows.push([
      `\`service.${fields[0]}\`${fields
        .slice(1)
        .map((f) => `, ${code(f)}`)
        .join('')}`,
      ...key.split('|'),
    ]);
  }
  return table(['asked for', ...routers.map((d) => code(d.provider))], rows);
}
