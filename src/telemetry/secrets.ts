import { Buffer } from 'node:buffer';

/**
 * Every credential value the process has read (Secret data, URL user info, headers it
 * built), so that anything written out (log lines, status, events, alerts) can be
 * scrubbed of it, whatever a remote endpoint echoed back and however a message was cut.
 *
 * Matching is by 8-character pieces: any run of text made of pieces of a known value is
 * blanked, so a value cut in half by truncation, or quoted only in part, still goes.
 * Values shorter than a piece are blanked only where they appear whole, and only from
 * `minWholeLength` characters on: shorter ones are too common to be worth shredding text for.
 */
export class KnownSecrets {
  static readonly piece = 8;
  static readonly minWholeLength = 6;
  static readonly marker = '[redacted]';

  /** Every 8-character piece of every known value (and of its encoded forms). */
  readonly #pieces = new Set<string>();
  /** Values shorter than a piece, blanked where they appear whole. */
  readonly #short = new Set<string>();
  readonly #values = new Set<string>();
  readonly #maxValues: number;

  /** `maxValues`: values remembered before the oldest are forgotten (rotated credentials pile up otherwise). */
  constructor(maxValues = 4096) {
    this.#maxValues = maxValues;
  }

  /**
   * Remembers a credential value, with the forms it travels in: base64, URL- and JSON-encoded.
   * A URL is remembered by the parts that carry its credential (user info, query values, path
   * segments that look like keys), never its scheme and host, which are no secret.
   */
  remember(value: string | undefined): void {
    if (value === undefined || value.length < KnownSecrets.minWholeLength || this.#values.has(value)) return;
    const url = secretUrl(value);
    if (url !== undefined) {
      if (url.password !== '') this.rememberBasic(decodeOrKeep(url.username), decodeOrKeep(url.password));
      // Webhook tokens sit in long path segments with digits (Slack, Teams, Discord) or in query values.
      const segments = url.pathname
        .split('/')
        .filter((part) => part.length >= KnownSecrets.piece && /\d/.test(part));
      for (const part of [...segments, ...url.searchParams.values()]) this.remember(decodeOrKeep(part));
      return;
    }
    this.#values.add(value);
    for (const form of new Set([
      value,
      Buffer.from(value, 'utf8').toString('base64'),
      encodeURIComponent(value),
      JSON.stringify(value).slice(1, -1),
    ])) {
      if (form.length < KnownSecrets.piece) this.#short.add(form);
      else
        for (let i = 0; i + KnownSecrets.piece <= form.length; i++)
          this.#pieces.add(form.slice(i, i + KnownSecrets.piece));
    }
    if (this.#values.size > this.#maxValues)
      this.#rebuildWithout(this.#values.values().next().value as string);
  }

  /** Remembers basic-auth credentials, including the header value built from them. */
  rememberBasic(username: string, password: string): void {
    this.remember(password);
    this.remember(`${username}:${password}`);
  }

  /** `text` with every known value, or piece of one, replaced by the marker. */
  redact(text: string): string {
    if (this.#values.size === 0 || text.length === 0) return text;
    let result = text;
    if (this.#pieces.size > 0 && result.length >= KnownSecrets.piece) {
      const covered: [number, number][] = [];
      for (let i = 0; i + KnownSecrets.piece <= result.length; i++) {
        if (!this.#pieces.has(result.slice(i, i + KnownSecrets.piece))) continue;
        const last = covered.at(-1);
        if (last !== undefined && i <= last[1]) last[1] = i + KnownSecrets.piece;
        else covered.push([i, i + KnownSecrets.piece]);
      }
      for (const [start, end] of covered.reverse()) {
        result = result.slice(0, start) + KnownSecrets.marker + result.slice(end);
      }
    }
    for (const value of this.#short) result = result.split(value).join(KnownSecrets.marker);
    return result;
  }

  /** A copy of `value` with every string in it redacted (objects and arrays walked). */
  redactDeep<T>(value: T): T {
    if (this.#values.size === 0) return value;
    if (typeof value === 'string') return this.redact(value) as T;
    if (Array.isArray(value)) return value.map((item: unknown) => this.redactDeep(item)) as T;
    if (typeof value === 'object' && value !== null) {
      return Object.fromEntries(
        Object.entries(value as Record<string, unknown>).map(([key, item]) => [key, this.redactDeep(item)]),
      ) as T;
    }
    return value;
  }

  #rebuildWithout(oldest: string): void {
    const kept = [...this.#values].filter((value) => value !== oldest);
    this.#values.clear();
    this.#pieces.clear();
    this.#short.clear();
    for (const value of kept) this.remember(value);
  }
}

function decodeOrKeep(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function secretUrl(value: string): URL | undefined {
  if (!/^https?:\/\//i.test(value)) return undefined;
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
}

/** The process's credentials: filled where Fledge reads them, applied wherever it writes. */
export const knownSecrets = new KnownSecrets();
