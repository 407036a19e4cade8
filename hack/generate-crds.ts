// Writes the CRDs generated from src/api (the single source of truth) and the
// field reference section of docs/api.md.
//   node hack/generate-crds.ts          regenerate every file
//   node hack/generate-crds.ts --check  exit 1 and name the files that are stale
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildCustomResourceDefinitions, generatedCrdFiles } from '../src/api/crd.ts';
import { renderFieldReference, spliceFieldReference } from '../src/api/reference.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const unknown = args.filter((a) => a !== '--check');
if (unknown.length > 0) {
  console.error(`unknown argument ${unknown.join(' ')}; usage: node hack/generate-crds.ts [--check]`);
  process.exit(2);
}
const check = args.includes('--check');

function readOrEmpty(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw err;
  }
}

const API_DOC = 'docs/api.md';
const files = generatedCrdFiles();
files.set(
  API_DOC,
  spliceFieldReference(
    readFileSync(join(root, API_DOC), 'utf8'),
    renderFieldReference(buildCustomResourceDefinitions()),
  ),
);

const stale: string[] = [];
for (const [relative, content] of files) {
  const path = join(root, relative);
  if (readOrEmpty(path) === content) continue;
  stale.push(relative);
  if (!check) {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content);
  }
}

if (check && stale.length > 0) {
  console.error(`stale generated CRD files (run: node hack/generate-crds.ts):\n  ${stale.join('\n  ')}`);
  process.exit(1);
}
console.log(
  check
    ? 'generated CRD files are up to date'
    : `wrote ${stale.length} file(s)${stale.length ? ': ' + stale.join(', ') : ''}`,
);
