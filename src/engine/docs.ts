import { Phases, type Phase } from '../api/index.ts';
import { TRANSITIONS, type Target, type Transition } from './transitions.ts';

// Renders the transition table for docs/state-machine.md, so the documented
// state machine is the one the engine runs (a unit test compares the two).

/** Rows whose `from` is this wide apply to "any live phase" and are drawn as a note, not as edges. */
const WIDE = 4;

function targets(to: Target): string[] {
  if (to === 'runStart') return ['Waiting', 'Progressing'];
  return [to];
}

function cell(text: string): string {
  return text.replaceAll('|', '\\|');
}

function fromLabel(row: Transition): string {
  return row.from.length === Phases.length - 2 ? 'any live phase' : row.from.join(', ');
}

function toLabel(row: Transition): string {
  if (row.to === 'same') return 'same';
  if (row.to === 'runStart') return 'Waiting or Progressing';
  return row.to;
}

/** Inserts `content` between the BEGIN/END markers named `section` in `document`. */
export function replaceGenerated(document: string, section: string, content: string): string {
  const begin = `<!-- BEGIN GENERATED: ${section} -->`;
  const end = `<!-- END GENERATED: ${section} -->`;
  const from = document.indexOf(begin);
  const to = document.indexOf(end);
  if (from < 0 || to < from) throw new Error(`markers for the generated section "${section}" not found`);
  return `${document.slice(0, from + begin.length)}\n${content}\n${document.slice(to)}`;
}

/** The state-machine document with its generated sections brought up to date. */
export function updateStateMachineDoc(document: string): string {
  const diagram = ['```mermaid', renderDiagram(), '```'].join('\n');
  return replaceGenerated(
    replaceGenerated(document, 'diagram', diagram),
    'transitions',
    renderTransitionTable(),
  );
}

export function renderTransitionTable(): string {
  const header = '| # | row | from | when | to | effects | what happens |\n|---|---|---|---|---|---|---|';
  const rows = TRANSITIONS.map((row, i) =>
    [
      String(i + 1),
      `\`${row.id}\``,
      fromLabel(row),
      `\`${row.when}\``,
      toLabel(row) + (row.settles === true ? ' (settles)' : ''),
      row.effects.map((e) => `\`${e}\``).join(', ') || '-',
      cell(row.summary),
    ].join(' | '),
  );
  return [header, ...rows.map((r) => `| ${r} |`)].join('\n');
}

export function renderDiagram(): string {
  const edges = new Map<string, string[]>();
  const notes: string[] = [];
  for (const row of TRANSITIONS) {
    if (row.to === 'same') continue;
    if (row.from.length >= WIDE) {
      notes.push(`${row.id}: from any live phase to ${toLabel(row)}`);
      continue;
    }
    for (const from of row.from) {
      for (const to of targets(row.to)) {
        if (from === to) continue;
        const key = `${from} --> ${to}`;
        edges.set(key, [...(edges.get(key) ?? []), row.id.split('.')[1] as string]);
      }
    }
  }
  const lines = ['stateDiagram-v2', '    [*] --> Initializing'];
  for (const [edge, labels] of edges) lines.push(`    ${edge}: ${labels.join(', ')}`);
  const anchor: Phase = 'Terminating';
  for (const note of notes) lines.push(`    note right of ${anchor}: ${note}`);
  return lines.join('\n');
}
