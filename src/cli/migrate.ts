import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isMap, isScalar, parseAllDocuments, type Document, type Scalar } from 'yaml';
import {
  ALERT_PROVIDER_KIND,
  API_VERSION,
  CANARY_KIND,
  FLAGGER_ANNOTATION_RENAMES,
  FLAGGER_API_VERSION,
  FLAGGER_GROUP,
  METRIC_TEMPLATE_KIND,
  normalizeCanary,
  parseGoDuration,
  type Canary,
  type CanaryAnalysis,
} from '../api/index.ts';

// `fledge migrate`: rewrites Flagger manifests for Fledge by editing the
// source text in place (only the characters that change), so comments, quoting,
// indentation and key order survive byte for byte. Each field whose meaning
// differs in Fledge is reported as a note rather than silently rewritten.

export type MigrationNoteKind =
  /** Text was changed (apiVersion, annotation key). */
  | 'rewritten'
  /** A deprecated Flagger form Fledge still accepts; the note says what to write instead. */
  | 'deprecated'
  /** Accepted, but Fledge behaves differently from Flagger. */
  | 'semantics'
  /** Fledge will reject this manifest at admission until it is changed. */
  | 'rejected';

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

const FLEDGE_KINDS = new Set([CANARY_KIND, METRIC_TEMPLATE_KIND, ALERT_PROVIDER_KIND]);

interface Edit {
  start: number;
  end: number;
  text: string;
}

type NoteSink = (field: string, kind: MigrationNoteKind, message: string) => void;

/**
 * Convert every Flagger document in a (multi-document) YAML text. Documents
 * that are not Flagger's are kept as they are, apart from known Flagger
 * annotation keys. Throws on YAML syntax errors, naming the source and document.
 */
export function migrateDocuments(text: string, source: string): MigrationResult {
  const notes: MigrationNote[] = [];
  const edits: Edit[] = [];
  parseAllDocuments(text).forEach((doc, index) => {
    const position = index + 1;
    const [error] = doc.errors;
    if (error !== undefined) throw new Error(`${source}: document ${position}: ${error.message}`);
    if (!isMap(doc.contents)) return;
    const kind = stringAt(doc, ['kind']);
    const name = stringAt(doc, ['metadata', 'name']);
    const object = kind !== undefined && name !== undefined ? `${kind}/${name}` : kind;
    const note: NoteSink = (field, noteKind, message) =>
      notes.push({
        source,
        document: position,
        ...(object === undefined ? {} : { object }),
        field,
        kind: noteKind,
        message,
      });

    renameAnnotations(text, doc, edits, note);
    const apiVersionNode = doc.get('apiVersion', true);
    if (!isScalar(apiVersionNode) || typeof apiVersionNode.value !== 'string') return;
    const apiVersion = apiVersionNode.value;
    if (!apiVersion.startsWith(`${FLAGGER_GROUP}/`)) return;
    if (apiVersion !== FLAGGER_API_VERSION || kind === undefined || !FLEDGE_KINDS.has(kind)) {
      note(
        'apiVersion',
        'rejected',
        `${apiVersion} ${kind ?? '(no kind)'} has no Fledge equivalent: only Canary, MetricTemplate and AlertProvider of ${FLAGGER_API_VERSION} are migrated`,
      );
      return;
    }
    edits.push(replaceWithin(text, apiVersionNode, FLAGGER_API_VERSION, API_VERSION));
    note('apiVersion', 'rewritten', `${FLAGGER_API_VERSION} -> ${API_VERSION}`);
    if (kind === CANARY_KIND) reviewCanary(doc.toJS() as Canary, note);
  });
  return { output: applyEdits(text, edits), notes };
}

function stringAt(doc: Document, path: string[]): string | undefined {
  const value: unknown = doc.getIn(path);
  return typeof value === 'string' ? value : undefined;
}

/** An edit replacing `from` with `to` inside the source text of a scalar, keeping its quoting. */
function replaceWithin(text: string, node: Scalar, from: string, to: string): Edit {
  const [start, end] = node.range ?? [];
  if (start === undefined || end === undefined) throw new Error(`no source position for "${from}"`);
  const original = text.slice(start, end);
  const at = original.indexOf(from);
  if (at < 0) throw new Error(`cannot rewrite "${original}": it spells "${from}" with escapes`);
  return { start: start + at, end: start + at + from.length, text: to };
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

function applyEdits(text: string, edits: Edit[]): string {
  let out = text;
  for (const edit of [...edits].sort((a, b) => b.start - a.start)) {
    out = out.slice(0, edit.start) + edit.text + out.slice(edit.end);
  }
  return out;
}

/** Weights Flagger visits with a fixed step: it adds a step while below the maximum, so it can overshoot. */
function flaggerWeights(step: number, max: number): number[] {
  const weights: number[] = [];
  for (let w = step; ; w += step) {
    weights.push(w);
    if (w >= max) return weights;
  }
}

function reviewCanary(canary: Canary, sink: NoteSink): void {
  let rejected = false;
  const note: NoteSink = (field, kind, message) => {
    rejected ||= kind === 'rejected';
    sink(field, kind, message);
  };
  const spec = canary.spec;
  const analysisField = spec.analysis !== undefined ? 'spec.analysis' : 'spec.canaryAnalysis';
  const analysis: CanaryAnalysis | undefined = spec.analysis ?? spec.canaryAnalysis;
  if (spec.provider === undefined) {
    note(
      'spec.provider',
      'semantics',
      "not set: Fledge uses its own --provider default and rejects unknown names (Flagger's flag fell back to istio)",
    );
  }
  if (analysis === undefined) {
    note(
      analysisField,
      'rejected',
      'analysis is required: add interval plus stepWeight, stepWeights or iterations',
    );
    return;
  }
  reviewSchedule(analysis, analysisField, spec.provider, note);
  reviewMetrics(analysis, analysisField, note);
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

function reviewSchedule(
  analysis: CanaryAnalysis,
  field: string,
  provider: string | undefined,
  note: NoteSink,
): void {
  if (analysis.interval !== undefined) {
    try {
      if (parseGoDuration(analysis.interval, `${field}.interval`) < 10_000) {
        note(
          `${field}.interval`,
          'rejected',
          `${analysis.interval} is below 10s: Flagger silently used 10s; write 10s or more`,
        );
      }
    } catch (err) {
      note(`${field}.interval`, 'rejected', (err as Error).message);
    }
  }
  if (provider === 'kubernetes' && analysis.iterations === undefined) {
    note(
      `${field}.iterations`,
      'rejected',
      'provider kubernetes supports only blue/green: Flagger silently ran 10 iterations; write iterations: 10 and remove stepWeight/stepWeights',
    );
  }
  if (analysis.iterations === undefined && analysis.match !== undefined) {
    note(
      `${field}.match`,
      'rejected',
      'Flagger ignored match without iterations; add iterations for A/B testing or remove match',
    );
  }
  if (analysis.iterations !== undefined) {
    for (const key of ['maxWeight', 'stepWeightPromotion'] as const) {
      if (analysis[key] !== undefined) {
        note(
          `${field}.${key}`,
          'rejected',
          `Flagger ignored ${key} with iterations (blue/green, A/B); remove it`,
        );
      }
    }
  }
  if (analysis.stepWeight !== undefined) {
    const max = analysis.maxWeight ?? 100;
    const flagger = flaggerWeights(analysis.stepWeight, max);
    const last = flagger.at(-1);
    if (last !== undefined && last > max) {
      const fledge = [...flagger.slice(0, -1), max];
      note(
        `${field}.maxWeight`,
        'semantics',
        `the weight never exceeds maxWeight: Fledge steps ${fledge.join(', ')} where Flagger stepped ${flagger.join(', ')}`,
      );
    }
  }
}

function reviewMetrics(analysis: CanaryAnalysis, field: string, note: NoteSink): void {
  const metrics = analysis.metrics ?? [];
  if (metrics.length > 0) {
    note(
      `${field}.metrics`,
      'semantics',
      'a query returning no data (empty or NaN) halts advancement instead of counting as a failed check',
    );
  }
  metrics.forEach((metric, i) => {
    const path = `${field}.metrics[${i}]`;
    if (metric.threshold === undefined && metric.thresholdRange === undefined) {
      note(
        `${path}.thresholdRange`,
        'rejected',
        `metric "${metric.name}" has no threshold: Flagger passed it unconditionally; add thresholdRange or remove the metric`,
      );
    }
    if (metric.threshold !== undefined && metric.templateRef !== undefined) {
      note(
        `${path}.threshold`,
        'rejected',
        'Flagger ignored threshold on template metrics; write thresholdRange instead',
      );
    }
  });
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
manifests to fledge.dev/v1beta1, keeping comments and formatting, and reports
every field whose meaning differs in Fledge. Directories are searched
recursively for *.yaml and *.yml; "-" reads standard input.

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
