import { describe, expect, it } from '@jest/globals';
import { groupOf, summarise } from '../../../bench/profile.ts';

const frame = (id: number, functionName: string, url: string) => ({
  id,
  callFrame: { functionName, url, lineNumber: 9 },
});

describe('the bench CPU profile summary', () => {
  it('groups functions by package, Fledge folder, Node and V8', () => {
    expect(groupOf('file:///app/node_modules/@kubernetes/client-node/dist/x.js', 'f')).toBe(
      '@kubernetes/client-node',
    );
    expect(groupOf('file:///app/node_modules/pino/lib/tools.js', 'f')).toBe('pino');
    expect(groupOf('file:///app/src/engine/decide.ts', 'decide')).toBe('fledge engine');
    expect(groupOf('file:///app/.bench/build/dist/kube/watch.js', 'watch')).toBe('fledge kube');
    expect(groupOf('node:internal/streams/readable', 'read')).toBe('node');
    expect(groupOf('', '(garbage collector)')).toBe('(garbage collector)');
    expect(groupOf('', 'JSONParse')).toBe('(native)');
  });

  it('adds self time per sample, leaves idle out, and sorts largest first', () => {
    const summary = summarise({
      nodes: [
        frame(1, '(idle)', ''),
        frame(2, 'decide', 'file:///app/src/engine/decide.ts'),
        frame(3, 'parse', 'file:///app/node_modules/undici/lib/x.js'),
      ],
      samples: [1, 2, 3, 3, 1],
      timeDeltas: [5_000, 1_000, 2_000, 3_000, 7_000],
    });
    expect(summary.totalMs).toBe(6);
    expect(summary.groups).toEqual([
      ['undici', 5],
      ['fledge engine', 1],
    ]);
    expect(summary.functions[0]).toEqual(['parse node_modules/undici/lib/x.js:10', 5]);
  });
});
