// Rendering of MetricTemplate queries. The syntax is the subset of Go
// text/template that Flagger's templates use: `{{ name }}`, `{{ .name }}`,
// `{{ variables.key }}` and the `{{-`/`-}}` whitespace trims. Each placeholder
// is rendered for where it sits in the PromQL text (inside a quoted string, a
// regex matcher, a comment, or bare), so a value can never change the shape of
// the query: inside strings it is escaped, in bare positions it must be a
// single identifier, number or duration, and anything else is refused.

export const BuiltinVariableNames = [
  'name',
  'namespace',
  'target',
  'service',
  'ingress',
  'route',
  'interval',
] as const;
export type BuiltinVariableName = (typeof BuiltinVariableNames)[number];

export interface TemplateVariables {
  /** Canary name. */
  readonly name: string;
  readonly namespace: string;
  /** spec.targetRef.name: the canary workload. */
  readonly target: string;
  /** The Service name (spec.service.name, defaulting to the target name). */
  readonly service: string;
  /** spec.ingressRef.name; unset when the Canary has none. */
  readonly ingress?: string;
  /** APISIX spec.routeRef.name, or the Knative revision; unset otherwise. */
  readonly route?: string;
  /** The metric's interval as a Prometheus duration, e.g. 1m. */
  readonly interval: string;
  /** spec.analysis.metrics[].templateVariables. */
  readonly variables: Readonly<Record<string, string>>;
}

export class TemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateError';
  }
}

const missingHints: Partial<Record<BuiltinVariableName, string>> = {
  ingress: 'the Canary has no spec.ingressRef',
  route: 'the Canary has no route (spec.routeRef for APISIX, or a Knative revision)',
};

// Names of Kubernetes objects are literal text: inside a regex matcher their
// dots must not act as wildcards. templateVariables keep regex meaning there,
// since a template author who writes =~ may want `5..|429` from a variable.
const literalNames: ReadonlySet<string> = new Set([
  'name',
  'namespace',
  'target',
  'service',
  'ingress',
  'route',
]);

type Quote = '"' | "'" | '`';
type Position =
  | { readonly kind: 'bare' }
  | { readonly kind: 'string'; readonly quote: Quote; readonly regex: boolean }
  | { readonly kind: 'comment' };

type Reference =
  | { readonly kind: 'builtin'; readonly name: BuiltinVariableName }
  | { readonly kind: 'variable'; readonly key: string };

/** How a store's query language quotes and comments, so placeholders are filled safely in it. */
export interface QuerySyntax {
  /** The language, for messages. */
  readonly name: string;
  /** `#` starts a comment that runs to the end of the line. */
  readonly hashComments: boolean;
  /** Strings after `=~` and `!~` are regular expressions. */
  readonly regexMatchers: boolean;
  /** Whether a value may stand outside quotes. */
  readonly isBareToken: (value: string) => boolean;
  /** What a value outside quotes may be, for the refusal message. */
  readonly bareTokens: string;
  /** `{{ interval }}` in the store's own duration syntax; the Prometheus form when absent. */
  readonly interval?: (ms: number) => string;
}

export const PromQL: QuerySyntax = {
  name: 'PromQL',
  hashComments: true,
  regexMatchers: true,
  isBareToken: isSafeBareToken,
  bareTokens: 'one metric or label name, number or duration',
};

/**
 * The other stores' languages (Datadog, Graphite, NRQL, Flux, JSON, URLs): strings in
 * single, double or back quotes; outside them a value is one name-like word, such as a
 * Kubernetes name, a dotted metric path segment, a tag value or a duration.
 */
export const PlainQuery: QuerySyntax = {
  name: 'query',
  hashComments: false,
  regexMatchers: false,
  isBareToken: (value) => /^[A-Za-z0-9_][A-Za-z0-9_.:-]*$/.test(value),
  bareTokens: 'one word of letters, digits, _ . : and -',
};

/** Renders a query template; throws TemplateError listing every problem found. */
export function renderQuery(template: string, vars: TemplateVariables, syntax: QuerySyntax = PromQL): string {
  const problems: string[] = [];
  let output = '';
  let position: Position = { kind: 'bare' };
  // The last two non-blank characters of bare PromQL, to see whether a string follows =~ or !~.
  let recentCode = '';
  let trimNextWhitespace = false;
  let i = 0;

  while (i < template.length) {
    if (template.startsWith('{{', i)) {
      const end = template.indexOf('}}', i + 2);
      const where = locate(template, i);
      if (end < 0) throw new TemplateError(`${where}: "{{" is never closed with "}}"`);
      const action = parseAction(template.slice(i + 2, end));
      if (action.trimLeft) output = output.replace(/\s+$/, '');
      trimNextWhitespace = action.trimRight;
      i = end + 2;
      if (action.body === undefined) continue; // a {{/* comment */}}
      const shown = `{{ ${action.body} }}`;
      const reference = parseReference(action.body);
      if (typeof reference === 'string') {
        problems.push(`${where}: ${reference}`);
        continue;
      }
      const rendered = renderValue(reference, shown, position, vars, syntax);
      if (rendered.ok) output += rendered.text;
      else problems.push(`${where}: ${rendered.problem}`);
      if (position.kind === 'bare') recentCode = '';
      continue;
    }

    const ch = template[i] as string;
    if (trimNextWhitespace && /\s/.test(ch)) {
      i++;
      continue;
    }
    trimNextWhitespace = false;
    output += ch;
    i++;

    switch (position.kind) {
      case 'bare':
        if (ch === '"' || ch === "'" || ch === '`') {
          position = {
            kind: 'string',
            quote: ch,
            regex: syntax.regexMatchers && (recentCode === '=~' || recentCode === '!~'),
          };
        } else if (ch === '#' && syntax.hashComments) {
          position = { kind: 'comment' };
        } else if (!/\s/.test(ch)) {
          recentCode = (recentCode + ch).slice(-2);
        }
        break;
      case 'string':
        if (ch === '\\' && position.quote !== '`' && i < template.length && !template.startsWith('{{', i)) {
          output += template[i];
          i++;
        } else if (ch === position.quote) {
          position = { kind: 'bare' };
          recentCode = '';
        }
        break;
      case 'comment':
        if (ch === '\n') position = { kind: 'bare' };
        break;
    }
  }

  if (problems.length > 0) throw new TemplateError(problems.join('; '));
  return output;
}

interface Action {
  /** The trimmed inside of the braces, or undefined for a template comment. */
  readonly body: string | undefined;
  readonly trimLeft: boolean;
  readonly trimRight: boolean;
}

function parseAction(inner: string): Action {
  let body = inner;
  const trimLeft = /^-\s/.test(body);
  if (trimLeft) body = body.slice(1);
  const trimRight = /\s-$/.test(body);
  if (trimRight) body = body.slice(0, -1);
  body = body.trim();
  return { body: /^\/\*[\s\S]*\*\/$/.test(body) ? undefined : body, trimLeft, trimRight };
}

const supportedForms = `${BuiltinVariableNames.map((n) => `{{ ${n} }}`).join(', ')} and {{ variables.KEY }}`;

/** A Reference, or a problem description. */
function parseReference(body: string): Reference | string {
  const variable = /^\.?variables\.([A-Za-z_][A-Za-z0-9_]*)$/.exec(body);
  if (variable) return { kind: 'variable', key: variable[1] as string };
  const ident = /^\.?([A-Za-z_][A-Za-z0-9_]*)$/.exec(body);
  if (ident) {
    const name = ident[1] as string;
    if ((BuiltinVariableNames as readonly string[]).includes(name)) {
      return { kind: 'builtin', name: name as BuiltinVariableName };
    }
    if (name === 'variables') return `{{ ${body} }} needs a key: write {{ variables.KEY }}`;
    return `unknown template variable {{ ${body} }}; known: ${supportedForms}`;
  }
  return `unsupported template action {{ ${body} }}: query templates only substitute ${supportedForms}`;
}

type Rendered =
  { readonly ok: true; readonly text: string } | { readonly ok: false; readonly problem: string };

function renderValue(
  reference: Reference,
  shown: string,
  position: Position,
  vars: TemplateVariables,
  syntax: QuerySyntax,
): Rendered {
  let value: string | undefined;
  if (reference.kind === 'variable') {
    value = Object.hasOwn(vars.variables, reference.key) ? vars.variables[reference.key] : undefined;
    if (value === undefined) {
      return {
        ok: false,
        problem: `${shown} is not set; add "${reference.key}" to templateVariables of this metric in the Canary`,
      };
    }
  } else {
    value = vars[reference.name];
    if (value === undefined) {
      const hint = missingHints[reference.name];
      return { ok: false, problem: `${shown} is not set${hint ? `: ${hint}` : ''}` };
    }
    if (reference.name === 'interval' && !isPrometheusDuration(value)) {
      return {
        ok: false,
        problem: `${shown} is "${value}", which is not a Prometheus duration such as 30s, 1m or 1h30m`,
      };
    }
  }

  switch (position.kind) {
    case 'string': {
      if (hasControlCharacter(value)) return { ok: false, problem: `${shown} contains a control character` };
      const text =
        position.regex && reference.kind === 'builtin' && literalNames.has(reference.name)
          ? escapeRegex(value)
          : value;
      if (position.quote === '`') {
        // A raw string has no escapes, so a backtick could only end it.
        if (text.includes('`'))
          return {
            ok: false,
            problem: `${shown} contains a backtick, which cannot appear in a \`raw\` string`,
          };
        return { ok: true, text };
      }
      return { ok: true, text: escapeStringLiteral(text, position.quote) };
    }
    case 'comment':
      // Only a line break could end the comment.
      if (hasControlCharacter(value)) return { ok: false, problem: `${shown} contains a control character` };
      return { ok: true, text: value };
    case 'bare':
      if (syntax.isBareToken(value)) return { ok: true, text: value };
      return {
        ok: false,
        problem: `${shown} is "${value}", which is unsafe outside quotes: there a value must be ${syntax.bareTokens}; quote the placeholder in the template, e.g. label="${shown}"`,
      };
  }
}

const promqlKeywords = new Set([
  'and',
  'or',
  'unless',
  'atan2',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'offset',
  'start',
  'end',
]);

function isSafeBareToken(value: string): boolean {
  if (/^[0-9]+(\.[0-9]+)?$/.test(value) || isPrometheusDuration(value)) return true;
  return /^[A-Za-z_:][A-Za-z0-9_:]*$/.test(value) && !promqlKeywords.has(value.toLowerCase());
}

/** A Prometheus duration: units from largest to smallest, each at most once (e.g. 1h30m, 500ms), not zero. */
export function isPrometheusDuration(value: string): boolean {
  const match = /^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/.exec(
    value,
  );
  return match !== null && match.slice(1).some((n) => n !== undefined && Number(n) > 0);
}

function hasControlCharacter(value: string): boolean {
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u001f\u007f]/.test(value);
}

function escapeRegex(value: string): string {
  return value.replace(/[\\.+*?()|[\]{}^$]/g, '\\$&');
}

function escapeStringLiteral(value: string, quote: '"' | "'"): string {
  return value.replace(/\\/g, '\\\\').replaceAll(quote, `\\${quote}`);
}

function locate(text: string, offset: number): string {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - before.lastIndexOf('\n');
  return `line ${line}, column ${column}`;
}
