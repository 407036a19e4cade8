import { describe, expect, it } from '@jest/globals';
import { goDurationToPrometheus } from '../../../src/analysis/duration.ts';

describe('goDurationToPrometheus', () => {
  it.each([
    ['1m', '1m'],
    ['60s', '1m'],
    ['90s', '1m30s'],
    ['1.5m', '1m30s'],
    ['1h30m', '1h30m'],
    ['0.1h', '6m'],
    ['500ms', '500ms'],
    ['1500ms', '1s500ms'],
    ['48h', '48h'],
    ['1000000us', '1s'],
  ])('%s -> %s', (go, prom) => {
    expect(goDurationToPrometheus(go)).toBe(prom);
  });

  it.each(['', '0s', '1', 'm', '1.5', '-1m', '1d', '1500us', '1 m'])('refuses %s', (go) => {
    expect(goDurationToPrometheus(go)).toBeUndefined();
  });
});
