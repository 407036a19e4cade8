import { describe, expect, it } from '@jest/globals';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import prettier from 'prettier';
import {
  replaceGenerated,
  renderDiagram,
  renderTransitionTable,
  updateStateMachineDoc,
} from '../../../src/engine/docs.ts';
import { TRANSITIONS } from '../../../src/engine/index.ts';

// docs/state-machine.md shows the table the engine runs. Regenerate with
// UPDATE_STATE_MACHINE_DOC=1 npm run -s test:unit -- test/unit/engine/docs

const DOC = fileURLToPath(new URL('../../../docs/state-machine.md', import.meta.url));

describe('docs/state-machine.md', () => {
  it('matches the transition table', async () => {
    const current = readFileSync(DOC, 'utf8');
    // Formatted as `prettier --write` leaves the file, so both checks agree.
    const options = { ...(await prettier.resolveConfig(DOC)), filepath: DOC };
    const expected = await prettier.format(updateStateMachineDoc(current), options);
    if (process.env.UPDATE_STATE_MACHINE_DOC === '1') writeFileSync(DOC, expected);
    expect(current).toBe(expected);
  });

  it('lists every row once, in order', () => {
    const table = renderTransitionTable();
    const ids = [...table.matchAll(/^\| \d+ \| `([^`]+)`/gm)].map((m) => m[1]);
    expect(ids).toEqual(TRANSITIONS.map((t) => t.id));
  });

  it('draws every phase change, and the deletion from any live phase as a note', () => {
    const diagram = renderDiagram();
    expect(diagram).toContain('Promoting --> Finalising: finalShift');
    expect(diagram).toContain('Initialized --> Waiting: newRevision');
    expect(diagram).toContain('Initialized --> Progressing: newRevision');
    expect(diagram).toContain(
      'note right of Terminating: deleting.revert: from any live phase to Terminating',
    );
    expect(diagram).toContain(
      'note right of Terminating: deleting.handBack: from any live phase to Terminating',
    );
    expect(diagram).not.toMatch(/(\w+) --> \1:/);
  });

  it('refuses a document without the markers', () => {
    expect(() => replaceGenerated('no markers here', 'diagram', 'x')).toThrow(/"diagram" not found/);
  });
});
