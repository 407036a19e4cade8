import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  describeCheck,
  formatNumber,
  formatThreshold,
  plainText,
  truncate,
  truncateEscaped,
} from '../../../src/notifiers/format.ts';
import { escapeMrkdwn } from '../../../src/notifiers/slack.ts';
import { rolledBack } from './fixtures.ts';

describe('truncate', () => {
  it('leaves short text alone and ends cut text in an ellipsis', () => {
    expect(truncate('abc', 3)).toBe('abc');
    expect(truncate('abcdef', 4)).toBe('abc…');
  });

  it('never splits a surrogate pair', () => {
    // 'a' + '😀' is 3 UTF-16 units; cutting at 2 would leave half an emoji before the ellipsis.
    expect(truncate('a😀bc', 3)).toBe('a…');
  });

  it('always fits the limit and keeps a prefix of the input', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.integer({ min: 1, max: 50 }), (text, max) => {
        const result = truncate(text, max);
        expect(result.length).toBeLessThanOrEqual(max);
        expect(text.startsWith(result.replace(/…$/, ''))).toBe(true);
        expect(result).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])/);
      }),
    );
  });
});

describe('truncateEscaped', () => {
  it('fits after escaping and never leaves half an entity', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom('<', '>', '&', 'a', ' ') }),
        fc.integer({ min: 1, max: 40 }),
        (text, max) => {
          const result = truncateEscaped(text, max, escapeMrkdwn);
          expect(result.length).toBeLessThanOrEqual(max);
          expect(result).not.toMatch(/&(?!(amp|lt|gt);)/);
        },
      ),
    );
  });
});

describe('describeCheck', () => {
  it('names the metric, its value and the threshold, then the detail', () => {
    expect(describeCheck(rolledBack().failingCheck!)).toBe(
      'Metric request-success-rate: 97.25, expected at least 99 (success rate below threshold)',
    );
  });

  it('says when a metric had no value', () => {
    expect(
      describeCheck({ type: 'metric', name: 'latency', threshold: { max: 500 }, detail: 'no values found' }),
    ).toBe('Metric latency: no value, expected at most 500 (no values found)');
  });

  it('describes a hook failure without inventing a value', () => {
    expect(describeCheck({ type: 'webhook', name: 'load-test', detail: 'HTTP 503' })).toBe(
      'Webhook load-test (HTTP 503)',
    );
  });
});

describe('numbers and thresholds', () => {
  it('drops float noise but keeps meaningful digits', () => {
    expect(formatNumber(0.1 + 0.2)).toBe('0.3');
    expect(formatNumber(99.95)).toBe('99.95');
    expect(formatNumber(Number.NaN)).toBe('NaN');
  });

  it('renders each kind of range', () => {
    expect(formatThreshold({ min: 1, max: 5 })).toBe('between 1 and 5');
    expect(formatThreshold({})).toBeUndefined();
  });
});

describe('plainText', () => {
  it('puts every part of the alert on its own line', () => {
    expect(plainText(rolledBack()).split('\n')).toEqual([
      'Rolled back: podinfo.test',
      'Rolled back after 5 failed checks',
      'Failing check: Metric request-success-rate: 97.25, expected at least 99 (success rate below threshold)',
      'Next: Traffic is back on the primary; fix the release and push a new revision.',
      'Canary: podinfo | Namespace: test | Cluster: prod-eu-1 | Phase: Failed | Weight: 0% | Step: 3 of 5',
    ]);
  });
});
