import type { CanaryStatus } from '../api/index.ts';

// A decision carries the complete next status; the apiserver takes a JSON merge
// patch (RFC 7386), in which a key left out is kept. This computes the patch
// that turns `previous` into `next`, with null for every key to remove.

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type MergePatch = { [key: string]: Json };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * JSON equality regardless of key order: the apiserver serves objects with their keys
 * sorted, the engine builds them in its own order, and either is the same status.
 */
function sameJson(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) || Array.isArray(b)) {
    return (
      Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((v, i) => sameJson(v, b[i]))
    );
  }
  if (isObject(a) && isObject(b)) {
    const keys = (o: Record<string, unknown>) => Object.keys(o).filter((key) => o[key] !== undefined);
    const left = keys(a);
    return left.length === keys(b).length && left.every((key) => sameJson(a[key], b[key]));
  }
  return JSON.stringify(a) === JSON.stringify(b);
}

function diff(previous: Record<string, unknown>, next: Record<string, unknown>): MergePatch {
  const patch: MergePatch = {};
  for (const [key, value] of Object.entries(next)) {
    if (value === undefined) continue;
    const before = previous[key];
    if (sameJson(before, value)) continue;
    patch[key] = isObject(before) && isObject(value) ? diff(before, value) : (value as Json);
  }
  for (const key of Object.keys(previous)) {
    if (previous[key] !== undefined && next[key] === undefined) patch[key] = null;
  }
  return patch;
}

/** The merge patch from `previous` to `next`; empty when nothing changed. Send it as `{ status: patch }`. */
export function statusMergePatch(previous: CanaryStatus, next: CanaryStatus): MergePatch {
  return diff(previous, next);
}
