import { isMap, isScalar, isSeq, stringify, type Document, type Node, type Pair, type Scalar } from 'yaml';

// Structural changes to one YAML document (remove a key or a list item, set or
// add a value, rename a key), made as edits of its source text so everything
// around them (comments, quoting, indentation, key order) stays byte for byte.
// A plain-data model of the document follows every change, so a rule can read
// the effect of the rules before it, and the result can be checked against a
// re-parse of the edited text.

export interface Edit {
  start: number;
  end: number;
  text: string;
}

export type Path = readonly (string | number)[];

/** `spec.analysis.metrics[0].threshold` */
export function formatPath(path: Path): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

/** An edit replacing `from` with `to` inside the source text of a scalar, keeping its quoting. */
export function replaceWithin(text: string, node: Scalar, from: string, to: string): Edit {
  const [start, end] = node.range ?? [];
  if (start === undefined || end === undefined) throw new Error(`no source position for "${from}"`);
  const original = text.slice(start, end);
  const at = original.indexOf(from);
  if (at < 0) throw new Error(`cannot rewrite "${original}": it spells "${from}" with escapes`);
  return { start: start + at, end: start + at + from.length, text: to };
}

/** Applies non-overlapping edits; insertions at one position keep their order. */
export function applyEdits(text: string, edits: readonly Edit[]): string {
  const sorted = edits.map((edit, order) => ({ edit, order }));
  sorted.sort((a, b) => a.edit.start - b.edit.start || a.order - b.order);
  let out = '';
  let at = 0;
  for (const { edit } of sorted) {
    if (edit.start < at) throw new Error(`overlapping edits at offset ${edit.start}`);
    out += text.slice(at, edit.start) + edit.text;
    at = edit.end;
  }
  return out + text.slice(at);
}

type Change =
  | { op: 'remove'; path: Path }
  | { op: 'set'; path: Path; value: unknown }
  | { op: 'rename'; path: Path; key: string; value: unknown }
  | { op: 'renameKey'; path: Path; key: string };

const REMOVED = Symbol('removed');
type Container = Record<string | number, unknown>;

const isPrefix = (prefix: Path, path: Path) =>
  prefix.length <= path.length && prefix.every((p, i) => p === path[i]);

export class DocumentEditor {
  private readonly text: string;
  private readonly doc: Document;
  private readonly model: unknown;
  private readonly changes: Change[] = [];

  constructor(text: string, doc: Document) {
    this.text = text;
    this.doc = doc;
    this.model = doc.toJS();
  }

  /** The current value at `path`, undefined when absent or removed. */
  get(path: Path): unknown {
    let value: unknown = this.model;
    for (const key of path) {
      if (value === null || typeof value !== 'object') return undefined;
      value = (value as Container)[key];
      if (value === REMOVED) return undefined;
    }
    return value;
  }

  /** Indices (in the original list) of the items still present at `path`. */
  indices(path: Path): number[] {
    const list = this.get(path);
    if (!Array.isArray(list)) return [];
    return list.flatMap((item, i) => (item === REMOVED ? [] : [i]));
  }

  /** The document as it reads after every change. */
  result(): unknown {
    const compact = (value: unknown): unknown => {
      if (Array.isArray(value)) return value.filter((v) => v !== REMOVED).map(compact);
      if (value !== null && typeof value === 'object') {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, compact(v)]));
      }
      return value;
    };
    return compact(this.model);
  }

  remove(path: Path): void {
    const { parent, key } = this.parentOf(path);
    if (Array.isArray(parent)) parent[key as number] = REMOVED;
    else delete parent[key];
    this.changes.push({ op: 'remove', path });
  }

  /** Replaces the value at `path`, or adds the key at the end of its map. */
  set(path: Path, value: unknown): void {
    const { parent, key } = this.parentOf(path);
    parent[key] = structuredClone(value);
    this.changes.push({ op: 'set', path, value });
  }

  /** Replaces the key at `path` and its value, in place. */
  rename(path: Path, key: string, value: unknown): void {
    const { parent, key: old } = this.parentOf(path);
    delete parent[old];
    parent[key] = structuredClone(value);
    this.changes.push({ op: 'rename', path, key, value });
  }

  /**
   * Renames the key at `path` and keeps its value as it is written. Paths keep
   * naming the original key, so this goes after every change below it.
   */
  renameKey(path: Path, key: string): void {
    const { parent, key: old } = this.parentOf(path);
    parent[key] = parent[old];
    delete parent[old];
    this.changes.push({ op: 'renameKey', path, key });
  }

  /** Text edits for every change; a change inside a removed subtree is dropped. */
  edits(): Edit[] {
    const removed = this.changes.filter((c) => c.op === 'remove').map((c) => c.path);
    const last = new Map<string, Change>();
    for (const change of this.changes) last.set(JSON.stringify(change.path), change);
    return [...last.values()]
      .filter(
        (c) => !removed.some((r) => isPrefix(r, c.path) && (r.length < c.path.length || c.op !== 'remove')),
      )
      .map((c) => this.editFor(c));
  }

  private parentOf(path: Path): { parent: Container; key: string | number } {
    const parent = this.get(path.slice(0, -1));
    const key = path.at(-1);
    if (parent === null || typeof parent !== 'object' || key === undefined) {
      throw new Error(`${formatPath(path)}: no such place in the document`);
    }
    return { parent: parent as Container, key };
  }

  private editFor(change: Change): Edit {
    const parentPath = change.path.slice(0, -1);
    const key = change.path.at(-1);
    const parent = this.doc.getIn(parentPath, true) as Node | undefined;
    if (isSeq(parent) && typeof key === 'number' && change.op === 'remove') {
      return this.removeItem(parent.items as Node[], key, parent.flow === true);
    }
    if (!isMap(parent)) throw new Error(`${formatPath(change.path)}: the parent is not a map`);
    const pairs = parent.items as Pair<Node, Node | null>[];
    const index = pairs.findIndex((p) => isScalar(p.key) && p.key.value === key);
    const flow = parent.flow === true;
    if (change.op === 'remove') return this.removePair(pairs, index, flow);
    const pair = pairs[index];
    if (change.op === 'renameKey') {
      if (pair === undefined || !isScalar(pair.key))
        throw new Error(`${formatPath(change.path)}: nothing to rename`);
      return replaceWithin(this.text, pair.key, String(key), change.key);
    }
    if (change.op === 'rename') {
      if (pair === undefined) throw new Error(`${formatPath(change.path)}: nothing to rename`);
      const start = range(pair.key).start;
      return {
        start,
        end: this.pairEnd(pair),
        text: `${change.key}:${this.valueText(change.value, start, flow)}`,
      };
    }
    if (pair === undefined) return this.addPair(pairs, String(key), change.value, flow);
    const value = pair.value;
    if (isScalar(value) && !isCollection(change.value)) {
      const { start, end } = range(value);
      return { start, end, text: scalarText(change.value) };
    }
    const colon = this.text.indexOf(':', range(pair.key).end);
    return {
      start: colon + 1,
      end: this.pairEnd(pair),
      text: this.valueText(change.value, range(pair.key).start, flow),
    };
  }

  /** After the last character of the pair's value (before a trailing comment of a scalar). */
  private pairEnd(pair: Pair<Node, Node | null>): number {
    const node = pair.value ?? pair.key;
    return isScalar(node) ? range(node).end : this.contentEnd(node);
  }

  private contentEnd(node: Node): number {
    const { start, end } = range(node);
    let at = end;
    while (at > start && /\s/.test(this.text[at - 1] ?? '')) at--;
    return at;
  }

  private lineStart(at: number): number {
    return this.text.lastIndexOf('\n', at - 1) + 1;
  }

  private lineEnd(at: number): number {
    const newline = this.text.indexOf('\n', at);
    return newline < 0 ? this.text.length : newline + 1;
  }

  private column(at: number): number {
    return at - this.lineStart(at);
  }

  /** ` 5`, ` [10, 20]`, or a nested block indented below the key at `keyStart`. */
  private valueText(value: unknown, keyStart: number, flow: boolean): string {
    if (!isCollection(value)) return ` ${scalarText(value)}`;
    if (flow || Array.isArray(value)) return ` ${stringify(value, { collectionStyle: 'flow' }).trimEnd()}`;
    const indent = ' '.repeat(this.column(keyStart) + 2);
    const lines = stringify(value).trimEnd().split('\n');
    return lines.map((line) => `\n${indent}${line}`).join('');
  }

  private removePair(pairs: Pair<Node, Node | null>[], index: number, flow: boolean): Edit {
    const pair = pairs[index];
    if (pair === undefined) throw new Error('no such key to remove');
    const start = range(pair.key).start;
    const next = pairs[index + 1];
    if (flow) {
      if (next !== undefined) return { start, end: range(next.key).start, text: '' };
      const previous = pairs[index - 1];
      const from = previous === undefined ? start : this.pairEnd(previous);
      return { start: from, end: this.pairEnd(pair), text: '' };
    }
    const lineStart = this.lineStart(start);
    if (this.text.slice(lineStart, start).trim() === '') {
      return { start: lineStart, end: this.lineEnd(this.pairEnd(pair)), text: '' };
    }
    // The first key of a list item ("- key: ..."): the next key moves up onto the dash.
    if (next === undefined) throw new Error('cannot remove the only key of a list item');
    return { start, end: range(next.key).start, text: '' };
  }

  private removeItem(items: Node[], index: number, flow: boolean): Edit {
    const item = items[index];
    if (item === undefined) throw new Error('no such list item to remove');
    const start = range(item).start;
    const end = isScalar(item) ? range(item).end : this.contentEnd(item);
    if (flow) {
      const next = items[index + 1];
      if (next !== undefined) return { start, end: range(next).start, text: '' };
      const previous = items[index - 1];
      return { start: previous === undefined ? start : this.contentEnd(previous), end, text: '' };
    }
    const lineStart = this.lineStart(start);
    if (!/^\s*-\s+$/.test(this.text.slice(lineStart, start)))
      throw new Error('list item not on its own line');
    return { start: lineStart, end: this.lineEnd(end), text: '' };
  }

  private addPair(pairs: Pair<Node, Node | null>[], key: string, value: unknown, flow: boolean): Edit {
    const first = pairs[0];
    const last = pairs.at(-1);
    if (first === undefined || last === undefined) throw new Error(`cannot add ${key} to an empty map`);
    const end = this.pairEnd(last);
    if (flow) return { start: end, end, text: `, ${key}:${this.valueText(value, end, true)}` };
    const keyStart = range(first.key).start;
    const at = this.lineEnd(end);
    const indent = ' '.repeat(this.column(keyStart));
    const newline = at === this.text.length && !this.text.endsWith('\n') ? '\n' : '';
    return {
      start: at,
      end: at,
      text: `${newline}${indent}${key}:${this.valueText(value, keyStart, false)}\n`,
    };
  }
}

function isCollection(value: unknown): value is object {
  return value !== null && typeof value === 'object';
}

function scalarText(value: unknown): string {
  return stringify(value).trimEnd();
}

function range(node: Node): { start: number; end: number } {
  const [start, end] = node.range ?? [];
  if (start === undefined || end === undefined) throw new Error('a node has no source position');
  return { start, end };
}
