// Writes every file generated from a single source of truth: the CRDs and docs/api.md's
// field reference (from src/api), and the parts derived from the provider declarations
// (chart RBAC and values schema, builtin queries, router and support tables in docs/).
//   node hack/generate.ts          regenerate every file
//   node hack/generate.ts --check  exit 1 and name the files that are stale
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';
import { withGeneratedSection } from '../src/analysis/builtin-docs.ts';
import { withStoreTable } from '../src/analysis/store-docs.ts';
import { RouterProviders } from '../src/api/index.ts';
import { buildCustomResourceDefinitions, generatedCrdFiles } from '../src/api/crd.ts';
import { renderFieldReference, spliceFieldReference } from '../src/api/reference.ts';
import { supportTable } from '../src/cli/migrate-docs.ts';
import {
  chartRules,
  leaderElectionPermissions,
  watchedNamespacePermissions,
} from '../src/controller/permissions.ts';
import { capabilitiesTable, providersTable } from '../src/routers/docs.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const unknown = args.filter((a) => a !== '--check');
if (unknown.length > 0) {
  console.error(`unknown argument ${unknown.join(' ')}; usage: node hack/generate.ts [--check]`);
  process.exit(2);
}
const check = args.includes('--check');

function readOrEmpty(relative: string): string {
  try {
    return readFileSync(join(root, relative), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw err;
  }
}

/** A file with what stands between each `BEGIN generated: name` and `END` marker pair replaced. */
function splice(relative: string, comment: '<!--' | '#', sections: Record<string, string>): string {
  let document = readOrEmpty(relative);
  for (const [name, body] of Object.entries(sections))
    document = spliceOne(relative, document, name, body, comment);
  return document;
}

function spliceOne(
  relative: string,
  document: string,
  name: string,
  body: string,
  comment: '<!--' | '#',
): string {
  const [open, close] = comment === '#' ? ['# ', ''] : ['<!-- ', ' -->'];
  const begin = `${open}BEGIN generated: ${name} (node hack/generate.ts)${close}`;
  const end = `${open}END generated: ${name}${close}`;
  const from = document.indexOf(begin);
  const to = document.indexOf(end);
  if (from < 0 || to < from) throw new Error(`${relative} needs the markers\n${begin}\n${end}`);
  const gap = comment === '#' ? '\n' : '\n\n';
  const indent = document.slice(document.lastIndexOf('\n', from) + 1, from);
  return `${document.slice(0, from + begin.length)}${gap}${body}${gap}${indent}${document.slice(to)}`;
}

async function formatted(relative: string, content: string): Promise<string> {
  const options = await prettier.resolveConfig(join(root, relative));
  return prettier.format(content, { ...options, filepath: join(root, relative) });
}

function valuesSchema(): string {
  const path = 'charts/fledge/values.schema.json';
  const schema = JSON.parse(readOrEmpty(path)) as { properties: { meshProvider: { enum: string[] } } };
  schema.properties.meshProvider.enum = [...RouterProviders];
  return JSON.stringify(schema, null, 2);
}

const files = generatedCrdFiles();
files.set(
  'docs/api.md',
  spliceFieldReference(readOrEmpty('docs/api.md'), renderFieldReference(buildCustomResourceDefinitions())),
);
files.set('docs/analysis.md', withStoreTable(withGeneratedSection(readOrEmpty('docs/analysis.md'))));
const RBAC = 'charts/fledge/templates/rbac.yaml';
files.set(
  RBAC,
  splice(RBAC, '#', {
    'watched namespaces': chartRules(watchedNamespacePermissions),
    'leader election': chartRules(leaderElectionPermissions),
  }),
);
const unformatted = new Map<string, string>([
  ['charts/fledge/values.schema.json', valuesSchema()],
  [
    'docs/routers.md',
    splice('docs/routers.md', '<!--', { providers: providersTable(), capabilities: capabilitiesTable() }),
  ],
  [
    'docs/migrating-from-flagger.md',
    splice('docs/migrating-from-flagger.md', '<!--', { support: supportTable() }),
  ],
]);
for (const [relative, content] of unformatted) files.set(relative, await formatted(relative, content));

const stale: string[] = [];
for (const [relative, content] of files) {
  if (readOrEmpty(relative) === content) continue;
  stale.push(relative);
  if (!check) {
    const path = join(root, relative);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content);
  }
}

if (check && stale.length > 0) {
  console.error(`stale generated files (run: make generate):\n  ${stale.join('\n  ')}`);
  process.exit(1);
}
console.log(
  check
    ? 'generated files are up to date'
    : `wrote ${stale.length} file(s)${stale.length ? ': ' + stale.join(', ') : ''}`,
);
