import { BuiltinMetrics, BuiltinRouters, builtinQueryTemplate, builtinRouterMetrics } from './builtin.ts';

// The "builtin queries" section of docs/analysis.md is generated from the routers'
// declarations, so the docs cannot drift from what runs (hack/generate.ts).

export const GENERATED_BEGIN = '<!-- BEGIN generated builtin queries: make generate -->';
export const GENERATED_END = '<!-- END generated builtin queries -->';

const units: Record<(typeof BuiltinMetrics)[number], string> = {
  'request-success-rate': 'percent',
  'request-duration': 'milliseconds',
};

export function builtinQueriesMarkdown(): string {
  const sections = BuiltinRouters.map((router) => {
    const queries = BuiltinMetrics.map(
      (metric) => `# ${metric} (${units[metric]})\n${builtinQueryTemplate(router, metric)}`,
    ).join('\n\n');
    return `#### ${router}\n\n${builtinRouterMetrics.get(router)?.source ?? ''}\n\n\`\`\`promql\n${queries}\n\`\`\``;
  });
  return sections.join('\n\n');
}

/** The document with its generated section replaced; throws when the markers are missing. */
export function withGeneratedSection(document: string): string {
  const begin = document.indexOf(GENERATED_BEGIN);
  const end = document.indexOf(GENERATED_END);
  if (begin < 0 || end < begin) {
    throw new Error(`the document needs the markers\n${GENERATED_BEGIN}\n${GENERATED_END}`);
  }
  return `${document.slice(0, begin + GENERATED_BEGIN.length)}\n\n${builtinQueriesMarkdown()}\n\n${document.slice(end)}`;
}
