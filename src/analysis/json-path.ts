// The JSONPath subset a metric needs to point at one value in an answer:
// `$.data.items[0].value`, `$['key with spaces']`, `$.list[-1]`. Argo Rollouts
// writes it in braces (`{$.data.ok}`); those are accepted too.

export type PathStep = string | number;

/** The steps of a path, or a message saying what is wrong with it. */
export function parseJsonPath(path: string): PathStep[] | string {
  let text = path.trim();
  if (text.startsWith('{') && text.endsWith('}')) text = text.slice(1, -1).trim();
  if (!text.startsWith('$')) return `JSONPath "${path}" must start with $`;
  const steps: PathStep[] = [];
  let i = 1;
  while (i < text.length) {
    const rest = text.slice(i);
    const dotted = /^\.([A-Za-z_$][\w$-]*)/.exec(rest);
    const index = /^\[\s*(-?\d+)\s*\]/.exec(rest);
    const quoted = /^\[\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")\s*\]/.exec(rest);
    if (dotted) {
      steps.push(dotted[1] as string);
      i += dotted[0].length;
    } else if (index) {
      steps.push(Number(index[1]));
      i += index[0].length;
    } else if (quoted) {
      steps.push((quoted[1] ?? quoted[2] ?? '').replace(/\\(.)/g, '$1'));
      i += quoted[0].length;
    } else {
      return `JSONPath "${path}": cannot read "${rest}"; use .key, ['key'] or [index] steps (filters and wildcards pick several values)`;
    }
  }
  return steps;
}

/** The value at the path, or undefined when a step is missing. */
export function selectJsonPath(document: unknown, steps: readonly PathStep[]): unknown {
  let value: unknown = document;
  for (const step of steps) {
    if (typeof step === 'number') {
      if (!Array.isArray(value)) return undefined;
      value = value.at(step);
    } else {
      if (typeof value !== 'object' || value === null || Array.isArray(value) || !Object.hasOwn(value, step))
        return undefined;
      value = (value as Record<string, unknown>)[step];
    }
  }
  return value;
}
