/**
 * Remembers, per Canary key, the resourceVersions that Fledge's own writes made
 * obsolete, so a reconcile never decides on a cached copy older than its last write.
 *
 * The informer cache lags the apiserver: the reconcile that follows a status patch
 * can still read the version the patch was computed from, and deciding on it would
 * judge the same tick again (a hook or query sent twice, a tick counted twice).
 * Every write is guarded by the resourceVersion it was computed from, so nothing can
 * land between that version and the write's result: a cached copy is stale exactly
 * when its version is one a write replaced. resourceVersions stay opaque strings;
 * they are only compared for equality, as the API asks.
 */
export class OwnWrites {
  /** Per key: the latest versions Fledge's writes replaced, oldest first. */
  readonly #replaced = new Map<string, string[]>();
  readonly #keep: number;

  /** `keep`: replaced versions remembered per key; a relist served from a lagging watch cache is the only way back to an old one. */
  constructor(keep = 16) {
    this.#keep = keep;
  }

  /** Whether the cached copy at `resourceVersion` predates a write Fledge made. */
  isStale(key: string, resourceVersion: string | undefined): boolean {
    return resourceVersion !== undefined && (this.#replaced.get(key)?.includes(resourceVersion) ?? false);
  }

  /** A write computed from `from` succeeded, or was refused because `from` is out of date. */
  replaced(key: string, from: string | undefined): void {
    if (from === undefined) return;
    const versions = this.#replaced.get(key) ?? [];
    if (versions.includes(from)) return;
    versions.push(from);
    if (versions.length > this.#keep) versions.shift();
    this.#replaced.set(key, versions);
  }

  forget(key: string): void {
    this.#replaced.delete(key);
  }
}
