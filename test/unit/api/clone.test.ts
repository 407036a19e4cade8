import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { cloneJson } from '../../../src/api/clone.ts';

describe('cloneJson', () => {
  it('copies JSON data as a JSON round trip would', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(cloneJson(value)).toEqual(JSON.parse(JSON.stringify(value)));
      }),
    );
  });

  it('shares nothing with the original', () => {
    const original = { metadata: { labels: { app: 'web' } }, spec: { ports: [{ port: 80 }] } };
    const copy = cloneJson(original);
    copy.metadata.labels.app = 'changed';
    copy.spec.ports[0]!.port = 81;
    copy.spec.ports.push({ port: 82 });
    expect(original).toEqual({ metadata: { labels: { app: 'web' } }, spec: { ports: [{ port: 80 }] } });
  });

  it('writes -0 as 0, as JSON does', () => {
    expect(Object.is(cloneJson({ n: -0 }).n, 0)).toBe(true);
    expect(Object.is(cloneJson([-0])[0], 0)).toBe(true);
  });

  it('keeps a "__proto__" member as data', () => {
    const parsed = JSON.parse('{"labels":{"__proto__":{"x":"1"},"app":"web"}}') as { labels: object };
    const copy = cloneJson(parsed);
    expect(Object.getPrototypeOf(copy.labels)).toBe(Object.prototype);
    expect(copy).toEqual(JSON.parse(JSON.stringify(parsed)));
    expect(Object.keys(copy.labels)).toEqual(['__proto__', 'app']);
  });

  it('leaves out members that are undefined, as JSON does', () => {
    const copy = cloneJson({ kept: 1, dropped: undefined, nested: { dropped: undefined } });
    expect(Object.keys(copy)).toEqual(['kept', 'nested']);
    expect(Object.keys(copy.nested)).toEqual([]);
  });
});
