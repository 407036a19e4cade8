import type { MetricStore } from './store.ts';
import { metricStores } from './stores/index.ts';

// The metric store table of docs/analysis.md is generated from the store
// declarations, so it cannot drift from what runs; hack/generate.ts writes it
// (make generate) and generated-check fails while it is stale.

export const STORES_BEGIN = '<!-- BEGIN generated metric stores: make generate -->';
export const STORES_END = '<!-- END generated metric stores -->';

function address(store: MetricStore): string {
  switch (store.address.kind) {
    case 'required':
      return 'required';
    case 'default':
      return `default \`${store.address.value}\``;
    case 'metrics-server':
      return "default: the Canary's `spec.metricsServer`, then the controller's";
    case 'cluster':
      return 'not used (read from the cluster)';
  }
}

function secretKeys(store: MetricStore): string {
  if (store.secretKeys.length === 0) return 'none';
  const keys = store.secretKeys.map((k) => `\`${k.key}\`${k.required ? ' (required)' : ''}`).join(', ');
  return store.needsSecret ? keys : `optional: ${keys}`;
}

export function storeTableMarkdown(): string {
  const rows = metricStores.map((store) => {
    const settings = [
      ...(store.region ? [`\`region\` (${store.region})`] : []),
      ...(store.headers ? ['`headers`'] : []),
      ...(store.insecureSkipVerify ? ['`insecureSkipVerify`'] : []),
    ];
    return [
      `\`${store.type}\``,
      store.factory ? 'yes' : 'not yet',
      store.summary,
      address(store),
      settings.length > 0 ? settings.join(', ') : 'none',
      secretKeys(store),
    ];
  });
  const header = ['type', 'runs', 'what is queried', '`address`', 'other settings', 'Secret keys'];
  // Padded as Prettier pads a Markdown table, so the lint check leaves it alone.
  const widths = header.map((cell, i) => Math.max(3, cell.length, ...rows.map((row) => row[i]?.length ?? 0)));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** The document with its generated section replaced; throws when the markers are missing. */
export function withStoreTable(document: string): string {
  const begin = document.indexOf(STORES_BEGIN);
  const end = document.indexOf(STORES_END);
  if (begin < 0 || end < begin)
    throw new Error(`the document needs the markers\n${STORES_BEGIN}\n${STORES_END}`);
  return `${document.slice(0, begin + STORES_BEGIN.length)}\n\n${storeTableMarkdown()}\n\n${document.slice(end)}`;
}
