import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { BuiltinMetrics, BuiltinRouters, builtinQueryTemplate } from '../../../src/analysis/builtin.ts';
import { withGeneratedSection } from '../../../src/analysis/builtin-docs.ts';

const docPath = new URL('../../../docs/analysis.md', import.meta.url);

describe('docs/analysis.md', () => {
  const doc = readFileSync(docPath, 'utf8');

  it('shows the builtin queries exactly as the table generates them (regenerate: make generate)', () => {
    expect(withGeneratedSection(doc)).toBe(doc);
  });

  it('lists every builtin query of every router', () => {
    for (const router of BuiltinRouters) {
      expect(doc).toContain(`#### ${router}\n`);
      for (const metric of BuiltinMetrics) expect(doc).toContain(builtinQueryTemplate(router, metric));
    }
  });
});
