import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  isPrometheusDuration,
  renderQuery,
  TemplateError,
  type TemplateVariables,
} from '../../../src/analysis/template.ts';

const vars: TemplateVariables = {
  name: 'podinfo',
  namespace: 'test',
  target: 'podinfo',
  service: 'podinfo-svc',
  ingress: 'podinfo-ing',
  route: 'podinfo-route',
  interval: '1m',
  variables: { code: '5..', window: '5m', metric: 'http_requests_total', quantile: '0.99' },
};

function renderError(template: string, v: TemplateVariables = vars): string {
  try {
    renderQuery(template, v);
  } catch (err) {
    expect(err).toBeInstanceOf(TemplateError);
    return (err as Error).message;
  }
  throw new Error(`expected ${template} to be refused`);
}

describe('renderQuery: substitution', () => {
  it('fills every builtin variable', () => {
    const out = renderQuery(
      'a{n="{{ name }}",ns="{{ namespace }}",t="{{ target }}",s="{{ service }}",i="{{ ingress }}",r="{{ route }}"}[{{ interval }}]',
      vars,
    );
    expect(out).toBe(
      'a{n="podinfo",ns="test",t="podinfo",s="podinfo-svc",i="podinfo-ing",r="podinfo-route"}[1m]',
    );
  });

  it('accepts the Go dot form, no spaces, and templateVariables in both forms', () => {
    expect(renderQuery('{{.name}}/{{ .namespace }}/{{variables.window}}/{{ .variables.window }}', vars)).toBe(
      'podinfo/test/5m/5m',
    );
  });

  it('applies Go whitespace trim markers', () => {
    expect(renderQuery('sum(\n  {{- variables.metric -}}\n)', vars)).toBe('sum(http_requests_total)');
  });

  it('drops template comments', () => {
    expect(renderQuery('{{/* success rate */}}up', vars)).toBe('up');
  });

  it('leaves a template without placeholders untouched, PromQL braces included', () => {
    const q = 'sum(rate(x{job="a"}[5m])) by (le) # note: "quoted" {not a placeholder}';
    expect(renderQuery(q, vars)).toBe(q);
  });
});

describe('renderQuery: missing and unknown variables', () => {
  it('names a missing templateVariable and where to set it', () => {
    const message = renderError('x{a="{{ variables.absent }}"}');
    expect(message).toContain('{{ variables.absent }} is not set');
    expect(message).toContain('templateVariables');
    expect(message).toContain('line 1, column 6');
  });

  it('names a missing ingress and route with the field to set', () => {
    const { ingress: _i, route: _r, ...rest } = vars;
    const message = renderError('x{a="{{ ingress }}"} / y{b="{{ route }}"}', rest);
    expect(message).toContain('{{ ingress }} is not set: the Canary has no spec.ingressRef');
    expect(message).toContain('{{ route }} is not set');
  });

  it('reports every problem at once', () => {
    const message = renderError('{{ variables.a }} {{ variables.b }}\n{{ nope }}');
    expect(message).toContain('variables.a');
    expect(message).toContain('variables.b');
    expect(message).toContain('line 2, column 1: unknown template variable {{ nope }}');
  });

  it('does not read inherited properties as variables', () => {
    expect(renderError('x{a="{{ variables.constructor }}"}')).toContain('is not set');
  });

  it('refuses Go template logic it does not implement', () => {
    expect(renderError('{{ if .x }}a{{ end }}')).toContain('unsupported template action {{ if .x }}');
    expect(renderError('{{ printf "%s" target }}')).toContain('unsupported template action');
    expect(renderError('{{ variables }}')).toContain('needs a key');
  });

  it('refuses an unclosed placeholder', () => {
    expect(renderError('x{a="{{ name "}')).toContain('never closed');
  });

  it('refuses an interval that is not a Prometheus duration', () => {
    expect(renderError('rate(x[{{ interval }}])', { ...vars, interval: '1.5m' })).toContain(
      'not a Prometheus duration',
    );
  });
});

describe('renderQuery: injection', () => {
  it('escapes quotes and backslashes inside a double-quoted label value', () => {
    const evil = { ...vars, variables: { v: 'x"} or vector(1) or up{a="' } };
    expect(renderQuery('up{a="{{ variables.v }}"}', evil)).toBe('up{a="x\\"} or vector(1) or up{a=\\""}');
  });

  it('escapes single quotes inside a single-quoted string', () => {
    const evil = { ...vars, variables: { v: "x'} or vector(1) #" } };
    expect(renderQuery("up{a='{{ variables.v }}'}", evil)).toBe("up{a='x\\'} or vector(1) #'}");
  });

  it('refuses a backtick inside a raw string, which cannot be escaped', () => {
    const evil = { ...vars, variables: { v: 'x`} or vector(1) or up{a=`' } };
    expect(renderError('up{a=`{{ variables.v }}`}', evil)).toContain('backtick');
  });

  it('refuses line breaks anywhere, so a value cannot end a comment', () => {
    const evil = { ...vars, variables: { v: 'x\nvector(1)' } };
    expect(renderError('up # {{ variables.v }}', evil)).toContain('control character');
    expect(renderError('up{a="{{ variables.v }}"}', evil)).toContain('control character');
  });

  it('allows only one identifier, number or duration in a bare position', () => {
    for (const ok of ['http_requests_total', 'job:rate5m', '0.99', '42', '5m', '1h30m']) {
      expect(renderQuery('{{ variables.v }}', { ...vars, variables: { v: ok } })).toBe(ok);
    }
    for (const bad of [
      'up or vector(1)',
      'up)',
      '5m:1m',
      '-1',
      '',
      'a{b="c"}',
      'x[5m]',
      'or',
      'OFFSET',
      'bool',
    ]) {
      expect(renderError('sum({{ variables.v }})', { ...vars, variables: { v: bad } })).toContain(
        'unsafe outside quotes',
      );
    }
  });

  it('refuses a Kubernetes name with a dash in a bare position, suggesting quotes', () => {
    expect(renderError('{{ service }}')).toContain('quote the placeholder');
  });

  it('matches builtin names literally in a regex matcher but keeps templateVariables as regex', () => {
    const dotted = { ...vars, target: 'my.app', variables: { codes: '5..|429' } };
    expect(renderQuery('x{w=~"{{ target }}-.*",c!~"{{ variables.codes }}"}', dotted)).toBe(
      'x{w=~"my\\\\.app-.*",c!~"5..|429"}',
    );
    // Not a regex matcher: no regex escaping.
    expect(renderQuery('x{w="{{ target }}"}', dotted)).toBe('x{w="my.app"}');
  });

  it('tracks strings across escaped quotes so later placeholders get the right context', () => {
    const out = renderQuery('x{a="q\\"{{ variables.v }}",b="{{ name }}"} {{ variables.n }}', {
      ...vars,
      variables: { v: '"', n: 'foo' },
    });
    expect(out).toBe('x{a="q\\"\\"",b="podinfo"} foo');
  });

  it('never lets a quoted value leave its string literal, and refuses control characters (property)', () => {
    const hasControl = (s: string) => [...s].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f);
    fc.assert(
      // Biased towards the characters that matter to PromQL's lexer, plus any code point.
      fc.property(
        fc.string({
          unit: fc.oneof(
            fc.constantFrom('"', "'", '\\', '`', '{', '}', '#', '\n', 'x'),
            fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
          ),
        }),
        (value) => {
          const template = 'up{a="{{ variables.v }}"} > 0';
          const withValue = { ...vars, variables: { v: value } };
          if (hasControl(value)) {
            expect(renderError(template, withValue)).toContain('control character');
            return;
          }
          const match = /^up\{a="((?:[^"\\]|\\.)*)"\} > 0$/s.exec(renderQuery(template, withValue));
          expect(match).not.toBeNull();
          // Decoding the literal the way PromQL does gives the value back.
          expect((match?.[1] ?? '').replace(/\\(.)/gs, '$1')).toBe(value);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('isPrometheusDuration', () => {
  it.each(['1m', '30s', '1h30m', '500ms', '2d', '1y2w'])('accepts %s', (d) => {
    expect(isPrometheusDuration(d)).toBe(true);
  });
  it.each(['', '0s', '1.5m', '30m1h', '1 m', 'm', '10'])('refuses %s', (d) => {
    expect(isPrometheusDuration(d)).toBe(false);
  });
});
