import { describe, expect, it } from '@jest/globals';
import { parse, parseDocument } from 'yaml';
import { DocumentEditor, applyEdits, formatPath, type Path } from '../../../src/cli/migrate-edits.ts';
import { migrateDocuments } from '../../../src/cli/migrate.ts';

// The in-place YAML editor behind `fledge migrate`: each change must leave
// every other character alone and parse back to the editor's own model.

function edit(text: string, change: (editor: DocumentEditor) => void): string {
  const editor = new DocumentEditor(text, parseDocument(text));
  change(editor);
  const output = applyEdits(text, editor.edits());
  expect(parse(output)).toEqual(editor.result());
  return output;
}

const metrics = `analysis:   # the checks
  metrics:
    - name: a # first
      threshold: 5
      # why b
      interval: 1m
    - threshold: 2
      name: b
    - {name: c, threshold: 3}
  stepWeights:
    - 10
    - 20
`;
const metric = (i: number, key: string): Path => ['analysis', 'metrics', i, key];

describe('DocumentEditor', () => {
  it('removes a key with its line, keeping the comments around it', () => {
    expect(edit(metrics, (e) => e.remove(metric(0, 'threshold')))).toBe(
      metrics.replace('      threshold: 5\n', ''),
    );
  });

  it('removes the first key of a list item by moving the next one onto the dash', () => {
    expect(edit(metrics, (e) => e.remove(metric(1, 'threshold')))).toBe(
      metrics.replace('- threshold: 2\n      name: b', '- name: b'),
    );
  });

  it('removes keys of a flow map, first or last', () => {
    expect(edit(metrics, (e) => e.remove(metric(2, 'threshold')))).toBe(
      metrics.replace(', threshold: 3', ''),
    );
    expect(edit(metrics, (e) => e.remove(metric(2, 'name')))).toBe(metrics.replace('name: c, ', ''));
  });

  it('removes block and flow list items', () => {
    expect(edit(metrics, (e) => e.remove(['analysis', 'metrics', 1]))).toBe(
      metrics.replace('    - threshold: 2\n      name: b\n', ''),
    );
    expect(edit('steps: [10, 20, 30]\n', (e) => e.remove(['steps', 2]))).toBe('steps: [10, 20]\n');
  });

  it('renames a key to a nested value in place, block or flow', () => {
    const out = edit(metrics, (e) => {
      e.rename(metric(1, 'threshold'), 'thresholdRange', { max: 2 });
      e.rename(metric(2, 'threshold'), 'thresholdRange', { max: 3 });
    });
    expect(out).toBe(
      metrics
        .replace('- threshold: 2\n', '- thresholdRange:\n        max: 2\n')
        .replace('threshold: 3}', 'thresholdRange: { max: 3 }}'),
    );
  });

  it('sets scalars keeping their trailing comments, and lists in flow style', () => {
    const out = edit(metrics, (e) => {
      e.set(metric(0, 'name'), 'a-2');
      e.set(['analysis', 'stepWeights'], [10, 50]);
    });
    expect(out).toBe(
      metrics
        .replace('name: a # first', 'name: a-2 # first')
        .replace('stepWeights:\n    - 10\n    - 20', 'stepWeights: [ 10, 50 ]'),
    );
  });

  it('adds keys at the end of their map, in the order they were set', () => {
    const out = edit(metrics, (e) => {
      e.set(metric(1, 'interval'), '30s');
      e.set(metric(1, 'thresholdRange'), { min: 1 });
      e.set(metric(2, 'interval'), '1m');
    });
    expect(out).toBe(
      metrics
        .replace(
          '      name: b\n',
          '      name: b\n      interval: 30s\n      thresholdRange:\n        min: 1\n',
        )
        .replace('threshold: 3}', 'threshold: 3, interval: 1m}'),
    );
  });

  it('renames only the key text, keeping its quotes and the value as written', () => {
    const text = '"canaryAnalysis": # old\n  interval: 1m\n';
    expect(edit(text, (e) => e.renameKey(['canaryAnalysis'], 'analysis'))).toBe(
      '"analysis": # old\n  interval: 1m\n',
    );
  });

  it('drops a change inside a subtree removed later, and lists only what is left', () => {
    const editor = new DocumentEditor(metrics, parseDocument(metrics));
    editor.set(metric(1, 'name'), 'x');
    editor.remove(['analysis', 'metrics', 1]);
    expect(editor.indices(['analysis', 'metrics'])).toEqual([0, 2]);
    expect(editor.get(metric(1, 'name'))).toBeUndefined();
    expect(editor.edits()).toHaveLength(1);
  });

  it('refuses overlapping edits', () => {
    expect(() =>
      applyEdits('abc', [
        { start: 0, end: 2, text: '' },
        { start: 1, end: 3, text: '' },
      ]),
    ).toThrow('overlapping');
  });

  it('formats paths the way notes name fields', () => {
    expect(formatPath(['spec', 'analysis', 'metrics', 0, 'threshold'])).toBe(
      'spec.analysis.metrics[0].threshold',
    );
  });
});

describe('migrateDocuments when a rewrite has no place in the text', () => {
  it('keeps the document as written and turns its rewrites into rejected instructions', () => {
    const text = `x-shared: &duration
  name: request-duration
  threshold: 500
apiVersion: flagger.app/v1beta1
kind: Canary
metadata:
  name: app
spec:
  provider: istio
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: app}
  service: {port: 80}
  analysis:
    interval: 5s
    stepWeight: 10
    metrics:
      - *duration
`;
    const { output, notes } = migrateDocuments(text, 'alias.yaml');
    expect(output).toBe(text.replace('flagger.app/v1beta1', 'fledge.dev/v1beta1'));
    const rejected = notes.filter((n) => n.kind === 'rejected').map((n) => n.field);
    expect(rejected).toEqual(['spec.analysis.interval', 'spec.analysis.metrics[0].threshold']);
    expect(notes.find((n) => n.field === 'spec.analysis.interval')?.message).toMatch(
      /^not rewritten .*by hand: /,
    );
  });
});
