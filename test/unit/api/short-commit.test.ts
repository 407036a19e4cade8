import { describe, expect, it } from '@jest/globals';
import { shortCommit } from '../../../src/api/index.ts';

describe('shortCommit', () => {
  const sha1 = '3f9c2ab0d4e5f60718293a4b5c6d7e8f90a1b2c3';
  it.each([
    [`main@sha1:${sha1}`, '3f9c2ab'],
    [`sha1:${sha1}`, '3f9c2ab'],
    [sha1.toUpperCase(), '3f9c2ab'],
    [`main@sha256:${'ab'.repeat(32)}`, 'abababa'],
    ['v1.2.3', 'v1.2.3'],
    ['3f9c2ab', '3f9c2ab'],
    // A name that merely ends in hex digits is no commit.
    [`release-${sha1}`, `release-${sha1}`],
  ])('%s -> %s', (revision, short) => {
    expect(shortCommit(revision)).toBe(short);
  });
});
