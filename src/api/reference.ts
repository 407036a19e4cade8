import type { CustomResourceDefinition, JSONSchemaProps } from './crd.ts';

// Renders the field tables of docs/api.md from the generated CRDs, so the
// reference lists exactly the fields, enums, bounds and CEL messages the
// apiserver enforces. hack/generate.ts splices it between two markers.

export const REFERENCE_BEGIN = '<!-- BEGIN GENERATED FIELD REFERENCE (node hack/generate.ts) -->';
export const REFERENCE_END = '<!-- END GENERATED FIELD REFERENCE -->';

interface CelRuleView {
  message?: string;
  messageExpression?: string;
  fieldPath?: string;
}

function typeOf(node: JSONSchemaProps): string {
  if (node['x-kubernetes-int-or-string'] === true) return 'integer or string';
  if (node['x-kubernetes-preserve-unknown-fields'] === true) return 'object (kept verbatim)';
  if (node.type === 'array') return `list of ${typeOf(node.items as JSONSchemaProps)}`;
  if (node.type === 'object' && typeof node.additionalProperties === 'object') {
    return `map of ${typeOf(node.additionalProperties as JSONSchemaProps)}`;
  }
  return String(node.type);
}

function bounds(node: JSONSchemaProps): string[] {
  const out: string[] = [];
  if (Array.isArray(node.enum)) out.push(`one of ${node.enum.map((v) => `\`${String(v)}\``).join(', ')}`);
  if (node.minimum !== undefined && node.maximum !== undefined) out.push(`${node.minimum}..${node.maximum}`);
  else if (node.minimum !== undefined) out.push(`>= ${node.minimum}`);
  else if (node.maximum !== undefined) out.push(`<= ${node.maximum}`);
  if (node.minItems !== undefined) out.push(`at least ${node.minItems} item(s)`);
  if (node.maxItems !== undefined) out.push(`at most ${node.maxItems} items`);
  if (node['x-kubernetes-list-type'] === 'map') out.push('names unique');
  return out;
}

function ruleText(rule: CelRuleView): string {
  if (rule.message !== undefined) return rule.message;
  // A messageExpression is a CEL string concatenation; show its literal parts.
  return (rule.messageExpression ?? '')
    .replace(/'\s*\+\s*self\.(\w+)\s*\+\s*'/g, '<$1>')
    .replace(/^'|'$/g, '');
}

function escapeCell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}

interface Row {
  path: string;
  type: string;
  required: boolean;
  description: string;
  rules: string[];
}

interface Collected {
  rows: Map<string, Row>;
  /** CEL rules with the path of the node carrying them; placed after the walk. */
  rules: { at: string; rule: CelRuleView }[];
}

const join = (path: string, name: string) => (path === '' ? name : `${path}.${name}`);

/**
 * Flattens a schema into one row per field. List items and map values get no
 * row of their own: their fields appear as `list[].field` / `map[*].field`, and
 * their scalar bounds go on the list's or map's row.
 */
function walk(
  node: JSONSchemaProps,
  path: string,
  required: boolean,
  out: Collected,
  alias: Set<string>,
): void {
  const row: Row = {
    path,
    type: typeOf(node),
    required,
    description: String(node.description ?? ''),
    rules: bounds(node),
  };
  out.rows.set(path, row);
  if (alias.has(path)) return;
  for (const rule of (node['x-kubernetes-validations'] ?? []) as CelRuleView[])
    out.rules.push({ at: path, rule });
  const requiredNames = new Set((node.required ?? []) as string[]);
  for (const [name, child] of Object.entries((node.properties ?? {}) as Record<string, JSONSchemaProps>)) {
    walk(child, join(path, name), requiredNames.has(name), out, alias);
  }
  const inner = (node.items ??
    (typeof node.additionalProperties === 'object' ? node.additionalProperties : undefined)) as
    JSONSchemaProps | undefined;
  if (inner === undefined) return;
  const innerPath = `${path}${node.items !== undefined ? '[]' : '[*]'}`;
  row.rules.push(...bounds(inner));
  for (const rule of (inner['x-kubernetes-validations'] ?? []) as CelRuleView[])
    out.rules.push({ at: innerPath, rule });
  const innerRequired = new Set((inner.required ?? []) as string[]);
  for (const [name, child] of Object.entries((inner.properties ?? {}) as Record<string, JSONSchemaProps>)) {
    walk(child, `${innerPath}.${name}`, innerRequired.has(name), out, alias);
  }
}

function rows(node: JSONSchemaProps, alias: Set<string>): Row[] {
  const out: Collected = { rows: new Map(), rules: [] };
  walk(node, '', false, out, alias);
  for (const { at, rule } of out.rules) {
    const target = rule.fieldPath === undefined ? at : `${at}${rule.fieldPath}`.replace(/^\./, '');
    // A rule on a list item or map value without its own row lands on the list's row.
    const row = out.rows.get(target) ?? out.rows.get(at) ?? out.rows.get(at.replace(/\[[*]?\]$/, ''));
    row?.rules.push(ruleText(rule));
  }
  return [...out.rows.values()].filter((r) => r.path !== '');
}

function table(rows: Row[]): string {
  const lines = ['| Field | Type | Description | Validation |', '|---|---|---|---|'];
  for (const row of rows) {
    const field = `\`${row.path}\`${row.required ? ' (required)' : ''}`;
    lines.push(
      `| ${field} | ${escapeCell(row.type)} | ${escapeCell(row.description)} | ${escapeCell(row.rules.join('; '))} |`,
    );
  }
  return lines.join('\n');
}

/** Markdown tables of every spec and status field of each CRD. */
export function renderFieldReference(crds: CustomResourceDefinition[]): string {
  const sections: string[] = [];
  for (const crd of crds) {
    const root = crd.spec.versions[0]?.schema.openAPIV3Schema;
    const properties = (root?.properties ?? {}) as Record<string, JSONSchemaProps>;
    for (const part of ['spec', 'status'] as const) {
      const node = properties[part];
      if (node === undefined) continue;
      // The deprecated alias has exactly the fields of analysis; list them once.
      const fields = rows(node, new Set(['canaryAnalysis']));
      sections.push(`### ${crd.spec.names.kind} \`${part}\`\n\n${table(fields)}`);
    }
  }
  return sections.join('\n\n');
}

/** Replace the generated section of `document`; throws if the markers are missing. */
export function spliceFieldReference(document: string, reference: string): string {
  const begin = document.indexOf(REFERENCE_BEGIN);
  const end = document.indexOf(REFERENCE_END);
  if (begin < 0 || end < begin) {
    throw new Error(`docs/api.md must contain the markers ${REFERENCE_BEGIN} and ${REFERENCE_END}`);
  }
  // Prettier would re-align the tables and make the section look stale.
  const body = `<!-- prettier-ignore-start -->\n\n${reference}\n\n<!-- prettier-ignore-end -->`;
  return `${document.slice(0, begin + REFERENCE_BEGIN.length)}\n\n${body}\n\n${document.slice(end)}`;
}
