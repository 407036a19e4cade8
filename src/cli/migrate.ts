import type { TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isMap, isScalar, parseAllDocuments, type Document } from 'yaml';
import {
  ALERT_PROVIDER_KIND,
  API_VERSION,
  AlertProviderSchema,
  BuiltinMetrics,
  CANARY_KIND,
  CanarySchema,
  FLAGGER_ANNOTATION_RENAMES,
  FLAGGER_API_VERSION,
  FLAGGER_GROUP,
  METRIC_TEMPLATE_KIND,
  MetricTemplateSchema,
  normalizeCanary,
  type Canary,
  type CanaryAnalysis,
} from '../api/index.ts';
import { providerFactories } from '../analysis/registry.ts';
import { declarationOf, resolveProvider } from '../routers/registry.ts';
import { RunnableTargets, listInProse, workloadDeclarationOf } from '../workloads/registry.ts';
import { fixCanary } from './migrate-canary.ts';
import {
  DocumentEditor,
  applyEdits,
  formatPath,
  replaceWithin,
  type Edit,
  type Path,
} from './migrate-edits.ts';

// `fledge migrate`: rewrites Flagger manifests for Fledge by editing the
// source text in place (only the characters that change), so comments, quoting,
// indentation and key order survive byte for byte. Besides the API group it
// rewrites what Flagger accepted but Fledge's admission rejects into the form
// that means what Flagger did (migrate-canary.ts), and reports as a note each
// change and each field whose meaning differs.

export type MigrationNoteKind =
  /** Text was changed, keeping what Flagger did (apiVersion, annotation key, a field Fledge spells differently). */
  | 'rewritten'
  /** A deprecated Flagger form Fledge still accepts; the note says what to write instead. */
  | 'deprecated'
  /** Fledge behaves differently from Flagger here; the note says how, and what was changed if anything. */
  | 'semantics'
  /** Fledge will reject this manifest at admission until it is changed. */
  | 'rejected'
  /** Admission accepts it, but this version of Fledge has no router, target kind or store for it and refuses to run it. */
  | 'unsupported';

export interface MigrationNote {
  source: string;
  /** 1-based position of the document in its file. */
  document: number;
  /** `Kind/name` when known. */
  object?: string;
  field: string;
  kind: MigrationNoteKind;
  message: string;
}

export interface MigrationResult {
  output: string;
  notes: MigrationNote[];
}

const SCHEMAS: Readonly<Record<string, TSchema>> = {
  [CANARY_KIND]: CanarySchema,
  [METRIC_TEMPLATE_KIND]: MetricTemplateSchema,
  [ALERT_PROVIDER_KIND]: AlertProviderSchema,
};

type NoteSink = (field: string, kind: MigrationNoteKind, message: string) => void;

/** One Flagger document's rewrites of its spec, kept apart so they can be withdrawn. */
interface SpecRewrite {
  index: number;
  /** Undefined when the layout (an alias, say) leaves no place for them. */
  edits: Edit[] | undefined;
  /** The spec the edited text must parse to. */
  spec: unknown;
  /** Notes of the rewrites, to turn into manual instructions if the edit fails. */
  notes: MigrationNote[];
}

/**
 * Convert every Flagger document in a (multi-document) YAML text. Documents
 * that are not Flagger's are kept as they are, apart from known Flagger
 * annotation keys. Throws on YAML syntax errors, naming the source and document.
 */
export function migrateDocuments(text: string, source: string): MigrationResult {
  const notes: MigrationNote[] = [];
  const edits: Edit[] = [];
  const rewrites: SpecRewrite[] = [];
  parseAllDocuments(text).forEach((doc, index) => {
    const position = index + 1;
    const [error] = doc.errors;
    if (error !== undefined) throw new Error(`${source}: document ${position}: ${error.message}`);
    if (!isMap(doc.contents)) return;
    const kind = stringAt(doc, ['kind']);
    const name = stringAt(doc, ['metadata', 'name']);
    const object = kind !== undefined && name !== undefined ? `${kind}/${name}` : kind;
    const noteFor =
      (into: MigrationNote[]): NoteSink =>
      (field, noteKind, message) =>
        into.push({
          source,
          document: position,
          ...(object === undefined ? {} : { object }),
          field,
          kind: noteKind,
          message,
        });
    const note = noteFor(notes);

    renameAnnotations(text, doc, edits, note);
    const apiVersionNode = doc.get('apiVersion', true);
    if (!isScalar(apiVersionNode) || typeof apiVersionNode.value !== 'string') return;
    const apiVersion = apiVersionNode.value;
    if (!apiVersion.startsWith(`${FLAGGER_GROUP}/`)) return;
    const schema = kind === undefined ? undefined : SCHEMAS[kind];
    if (apiVersion !== FLAGGER_API_VERSION || schema === undefined) {
      note(
        'apiVersion',
        'rejected',
        `${apiVersion} ${kind ?? '(no kind)'} has no Fledge equivalent: only Canary, MetricTemplate and AlertProvider of ${FLAGGER_API_VERSION} are migrated`,
      );
      return;
    }
    edits.push(replaceWithin(text, apiVersionNode, FLAGGER_API_VERSION, API_VERSION));
    note('apiVersion', 'rewritten', `${FLAGGER_API_VERSION} -> ${API_VERSION}`);
    const editor = new DocumentEditor(text, doc);
    if (kind === CANARY_KIND) {
      const fixNotes: MigrationNote[] = [];
      const fixNote = noteFor(fixNotes);
      const analysis = fixCanary(editor, (path, noteKind, message) =>
        fixNote(formatPath(path), noteKind, message),
      );
      notes.push(...fixNotes);
      rewrites.push({
        index,
        edits: editsOf(editor),
        spec: (editor.result() as Canary).spec,
        notes: fixNotes,
      });
      reviewCanary(editor.result() as Canary, analysis, note);
    }
    reviewSupport(kind, editor.result() as Record<string, unknown>, note);
    // Status is the controller's: a manifest exported from a cluster carries Flagger's, which is never applied.
    const { status: _status, ...fields } = editor.result() as Record<string, unknown>;
    for (const problem of schemaProblems(schema, { ...fields, apiVersion: API_VERSION })) {
      note(problem.field, 'rejected', problem.message);
    }
  });
  return { output: applyRewrites(text, edits, rewrites), notes };
}

/**
 * The text with every edit applied. A document whose spec does not parse back
 * to what its rewrites meant (a YAML layout the in-place edits cannot handle)
 * keeps its original spec, and its rewrite notes become instructions.
 */
function applyRewrites(text: string, edits: Edit[], rewrites: SpecRewrite[]): string {
  const render = (kept: SpecRewrite[]) => {
    try {
      return applyEdits(text, [...edits, ...kept.flatMap((r) => r.edits ?? [])]);
    } catch {
      return undefined;
    }
  };
  const output = render(rewrites);
  const parsed = output === undefined ? [] : parseAllDocuments(output).map((d) => d.toJS() as Canary | null);
  const failed = rewrites.filter(
    (r) => r.edits === undefined || (r.edits.length > 0 && !Value.Equal(parsed[r.index]?.spec, r.spec)),
  );
  if (output !== undefined && failed.length === 0) return output;
  for (const rewrite of failed) {
    for (const n of rewrite.notes) {
      if (n.kind === 'rejected') continue;
      n.kind = 'rejected';
      n.message = `not rewritten (an in-place edit cannot handle this YAML layout), change it by hand: ${n.message}`;
    }
  }
  return render(rewrites.filter((r) => !failed.includes(r))) ?? applyEdits(text, edits);
}

function editsOf(editor: DocumentEditor): Edit[] | undefined {
  try {
    return editor.edits();
  } catch {
    return undefined;
  }
}

/** The schema's complaints about an object, one per field (types, enums, ranges; CEL rules are the apiserver's). */
function schemaProblems(schema: TSchema, object: unknown): { field: string; message: string }[] {
  const byField = new Map<string, string>();
  for (const error of Value.Errors(schema, object)) {
    const field = formatPath(
      error.path
        .split('/')
        .slice(1)
        .map((p) => (/^\d+$/.test(p) ? Number(p) : p.replaceAll('~1', '/').replaceAll('~0', '~'))),
    );
    if (!byField.has(field)) byField.set(field, error.message);
  }
  return [...byField].map(([field, message]) => ({ field, message }));
}

function stringAt(doc: Document, path: string[]): string | undefined {
  const value: unknown = doc.getIn(path);
  return typeof value === 'string' ? value : undefined;
}

function renameAnnotations(text: string, doc: Document, edits: Edit[], note: NoteSink): void {
  const annotations = doc.getIn(['metadata', 'annotations'], true);
  if (!isMap(annotations)) return;
  for (const pair of annotations.items) {
    if (!isScalar(pair.key) || typeof pair.key.value !== 'string') continue;
    const key = pair.key.value;
    const renamed = FLAGGER_ANNOTATION_RENAMES[key];
    if (renamed !== undefined) {
      edits.push(replaceWithin(text, pair.key, key, renamed));
      note(`metadata.annotations.${key}`, 'rewritten', `${key} -> ${renamed}`);
    } else if (key.startsWith(`${FLAGGER_GROUP}/`)) {
      note(
        `metadata.annotations.${key}`,
        'semantics',
        `${key} has no Fledge equivalent and is left unchanged`,
      );
    }
  }
}

/** Weights Flagger visits with a fixed step: it adds a step while below the maximum, so it can overshoot (capped at 100). */
function flaggerWeights(step: number, max: number): number[] {
  const weights: number[] = [];
  for (let w = step; ; w += step) {
    weights.push(Math.min(w, 100));
    if (w >= max) return weights;
  }
}

/**
 * What this version of Fledge cannot run yet: a router, target kind or metric store it does
 * not implement. Such a manifest applies, and the operator then refuses it with a condition.
 */
function reviewSupport(kind: string | undefined, object: Record<string, unknown>, note: NoteSink): void {
  const spec = (object.spec ?? {}) as Record<string, unknown>;
  if (kind === CANARY_KIND) {
    const provider = spec.provider;
    if (typeof provider === 'string') {
      try {
        resolveProvider(provider);
      } catch (error) {
        const fix =
          declarationOf(provider)?.availability.state === 'withdrawn'
            ? ''
            : '; keep this Canary on Flagger until Fledge has the router, or move it to gatewayapi:v1 or kubernetes';
        note('spec.provider', 'unsupported', `${(error as Error).message}${fix}`);
      }
    }
    const target = (spec.targetRef ?? {}) as { kind?: unknown; apiVersion?: unknown };
    if (typeof target.kind === 'string') {
      const declaration = workloadDeclarationOf(
        target.kind,
        typeof target.apiVersion === 'string' ? target.apiVersion : undefined,
      );
      const coreService = target.kind === 'Service' && target.apiVersion === 'v1';
      if (coreService && (provider === undefined || provider === 'kubernetes')) {
        note(
          'spec.provider',
          'unsupported',
          `a Service target is split between its -primary and -canary copies by a router; ${provider === undefined ? "the controller's default, kubernetes unless --mesh-provider says otherwise," : 'provider kubernetes'} only switches the apex Service's selector and is refused for it: set spec.provider to a router that splits between Services (e.g. gatewayapi:v1 or istio)`,
        );
      }
      if (declaration !== undefined && declaration.create === undefined) {
        note(
          'spec.targetRef.kind',
          'unsupported',
          `this version of Fledge runs ${listInProse(RunnableTargets)} targets, not a ${declaration.title.replaceAll('`', '')}: ${declaration.instead ?? 'keep this Canary on Flagger for now'}`,
        );
      }
    }
  }
  if (kind === METRIC_TEMPLATE_KIND) {
    const type = ((spec.provider ?? {}) as { type?: unknown }).type;
    if (type === 'stackdriver') {
      note(
        'spec.query',
        'semantics',
        "Flagger ran this query as MQL; Fledge runs PromQL through Cloud Monitoring's Prometheus API: rewrite the query in PromQL (see docs/analysis.md#stackdriver)",
      );
    }
    if (typeof type === 'string' && !Object.hasOwn(providerFactories, type)) {
      note(
        'spec.provider.type',
        'unsupported',
        `this version of Fledge queries ${Object.keys(providerFactories).join(', ')}, not ${type}: a Canary that uses this template cannot be analysed until the store is supported`,
      );
    }
  }
}

/** Notes on the rewritten Canary: behaviour that differs, deprecated forms, what is still missing. */
function reviewCanary(canary: Canary, analysisPath: Path | undefined, sink: NoteSink): void {
  let rejected = false;
  const note: NoteSink = (field, kind, message) => {
    rejected ||= kind === 'rejected';
    sink(field, kind, message);
  };
  const spec = canary.spec;
  if (spec.provider === undefined) {
    note(
      'spec.provider',
      'semantics',
      "not set: the controller's --mesh-provider applies (Fledge's default is kubernetes, Flagger's was istio), and the admission checks that depend on the provider are skipped",
    );
  }
  const analysisField = analysisPath === undefined ? 'spec.analysis' : formatPath(analysisPath);
  const analysis: CanaryAnalysis | undefined = spec.analysis ?? spec.canaryAnalysis;
  if (analysis === undefined) {
    note(
      analysisField,
      'rejected',
      'analysis is required: add interval plus stepWeight, stepWeights or iterations',
    );
    return;
  }
  if (analysis.stepWeight !== undefined && analysis.iterations === undefined) {
    const max = analysis.maxWeight ?? 100;
    const flagger = flaggerWeights(analysis.stepWeight, max);
    const last = flagger.at(-1);
    if (last !== undefined && last > max) {
      const fledge = [...flagger.slice(0, -1), max];
      note(
        `${analysisField}.maxWeight`,
        'semantics',
        `the weight never exceeds maxWeight: Fledge steps ${fledge.join(', ')} where Flagger stepped ${flagger.join(', ')}`,
      );
    }
  }
  const metrics = analysis.metrics ?? [];
  if (metrics.length > 0) {
    note(
      `${analysisField}.metrics`,
      'semantics',
      'a query returning no data (empty or NaN) halts advancement instead of counting as a failed check',
    );
  }
  metrics.forEach((metric, i) => {
    if (metric.templateRef !== undefined && (BuiltinMetrics as readonly string[]).includes(metric.name)) {
      note(
        `${analysisField}.metrics[${i}].templateRef`,
        'semantics',
        `Flagger ran its builtin ${metric.name} check on this metric as well as the template; Fledge runs only the template`,
      );
    }
  });
  // Alias notes come from the same normalisation the controller applies; it
  // needs an admissible spec, so skip it once something is already rejected.
  if (rejected) return;
  try {
    // The namespace only fills reference defaults, which migration does not report.
    const namespace = canary.metadata.namespace ?? 'default';
    const { notes } = normalizeCanary({ metadata: { ...canary.metadata, namespace }, spec });
    for (const n of notes) if (n.kind === 'alias') note(n.field, 'deprecated', n.message);
  } catch (err) {
    note(analysisField, 'rejected', (err as Error).message);
  }
}

// ------------------------------------------------------------------ CLI entry

export interface MigrateIO {
  readStdin(): Promise<string>;
  stdout(text: string): void;
  stderr(text: string): void;
}

const processIO: MigrateIO = {
  readStdin: async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  },
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

export const MIGRATE_USAGE = `Usage: fledge migrate [--write] <file|directory|->...

Converts Flagger (flagger.app/v1beta1) Canary, MetricTemplate and AlertProvider
manifests to fledge.dev/v1beta1, keeping comments and formatting. Settings
Flagger accepted but Fledge rejects are rewritten into what Flagger did with
them; every change, and every field whose meaning differs, is reported as a
note on stderr. Directories are searched recursively for *.yaml and *.yml;
"-" reads standard input.

  -w, --write   rewrite files in place (default: print the result to stdout)
  -h, --help    show this help

Exit status: 0 migrated, 1 some manifests need manual changes before Fledge
accepts them (see the "rejected" notes), 2 usage, read or YAML errors.
`;

async function collectFiles(path: string): Promise<string[]> {
  if (!(await stat(path)).isDirectory()) return [path];
  const entries = await readdir(path, { withFileTypes: true });
  const nested = await Promise.all(
    entries
      .filter((e) => !e.name.startsWith('.'))
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((e) => {
        const child = join(path, e.name);
        if (e.isDirectory()) return collectFiles(child);
        return Promise.resolve(/\.ya?ml$/.test(e.name) ? [child] : []);
      }),
  );
  return nested.flat();
}

export function formatNote(note: MigrationNote): string {
  const where = [note.source, `document ${note.document}`, note.object].filter(Boolean).join(' ');
  return `${where}: ${note.field}: ${note.kind}: ${note.message}`;
}

/** `fledge migrate ...args`; resolves to the exit status. */
export async function runMigrate(args: readonly string[], io: MigrateIO = processIO): Promise<number> {
  let write = false;
  const inputs: string[] = [];
  for (const arg of args) {
    if (arg === '-w' || arg === '--write') write = true;
    else if (arg === '-h' || arg === '--help') {
      io.stdout(MIGRATE_USAGE);
      return 0;
    } else if (arg.startsWith('-') && arg !== '-') {
      io.stderr(`fledge migrate: unknown option ${arg}\n\n${MIGRATE_USAGE}`);
      return 2;
    } else inputs.push(arg);
  }
  if (inputs.length === 0) {
    io.stderr(`fledge migrate: name at least one file or directory, or - for stdin\n\n${MIGRATE_USAGE}`);
    return 2;
  }
  if (write && inputs.includes('-')) {
    io.stderr('fledge migrate: --write cannot rewrite standard input; drop --write or name files\n');
    return 2;
  }

  const results: { source: string; input: string; result: MigrationResult }[] = [];
  try {
    for (const input of inputs) {
      const files = input === '-' ? ['-'] : await collectFiles(input);
      for (const file of files) {
        const text = file === '-' ? await io.readStdin() : await readFile(file, 'utf8');
        const source = file === '-' ? '<stdin>' : file;
        results.push({ source, input: text, result: migrateDocuments(text, source) });
      }
    }
  } catch (err) {
    io.stderr(`fledge migrate: ${(err as Error).message}\n`);
    return 2;
  }

  const many = results.length > 1;
  for (const { source, input, result } of results) {
    if (write) {
      if (result.output !== input) await writeFile(source, result.output);
    } else {
      const body =
        result.output.endsWith('\n') || result.output === '' ? result.output : `${result.output}\n`;
      io.stdout(many ? `---\n# Source: ${source}\n${body}` : body);
    }
    for (const note of result.notes) io.stderr(`${formatNote(note)}\n`);
  }
  return results.some((r) => r.result.notes.some((n) => n.kind === 'rejected')) ? 1 : 0;
}
