// Flagger's load tester runs `hey` command lines; Fledge reads the same command lines and
// generates the load in-process. This is the parser: a command line in, a load plan out.
import { parseGoDuration } from '../api/duration.ts';
import { knownSecrets } from '../telemetry/secrets.ts';

/** Headers whose value is a credential. */
const CREDENTIAL_HEADER = /authorization|cookie|token|secret|api-?key|password/;

/** What one `hey` command asks for. */
export interface LoadPlan {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string | undefined;
  /** Workers sending at once (`-c`). */
  concurrency: number;
  /** Requests per second of each worker (`-q`); undefined: as fast as answers come. */
  ratePerWorker: number | undefined;
  /** How long to send (`-z`); when undefined, `requests` are sent. */
  durationMs: number | undefined;
  /** Requests in all (`-n`), when no duration is given. */
  requests: number;
  /** Per-request timeout (`-t`, seconds in hey). */
  timeoutMs: number;
}

export class CommandError extends Error {
  override name = 'CommandError';
}

/** Splits a command line as a POSIX shell would for words and quotes; anything else a shell does is refused. */
export function splitWords(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (ch === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new CommandError(`unterminated ' in: ${line}`);
      word += line.slice(i + 1, end);
      i = end;
      inWord = true;
    } else if (ch === '"') {
      let j = i + 1;
      for (; j < line.length && line[j] !== '"'; j++) {
        if (line[j] === '\\' && j + 1 < line.length && '"\\$`'.includes(line[j + 1]!)) j++;
        else if (line[j] === '$' || line[j] === '`')
          throw new CommandError(`shell expansion is not supported in a hey command: ${line}`);
        word += line[j];
      }
      if (j >= line.length) throw new CommandError(`unterminated " in: ${line}`);
      i = j;
      inWord = true;
    } else if (ch === '\\' && i + 1 < line.length) {
      word += line[++i];
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else if ('|&;<>()$`*?'.includes(ch)) {
      throw new CommandError(
        `"${ch}" needs a shell, which a hey command does not get: run it as type "bash" (allowed by --allow-bash) or drop it`,
      );
    } else {
      word += ch;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}

const valueFlags = new Set(['-z', '-q', '-c', '-n', '-m', '-H', '-d', '-t', '-T', '-A', '-host']);
const switches = new Set(['-disable-keepalive', '-disable-compression', '-disable-redirects']);

/** Reads `hey [flags] URL`. Flags hey has that change nothing here are accepted; unknown ones are refused. */
export function parseHey(line: string): LoadPlan {
  const [program, ...args] = splitWords(line.trim());
  if (program !== 'hey') throw new CommandError(`not a hey command: ${line}`);
  const plan: LoadPlan = {
    url: '',
    method: 'GET',
    headers: {},
    body: undefined,
    concurrency: 50,
    ratePerWorker: undefined,
    durationMs: undefined,
    requests: 200,
    timeoutMs: 20_000,
  };
  const positive = (flag: string, value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0)
      throw new CommandError(`hey ${flag} needs a positive number, got "${value}"`);
    return n;
  };
  for (let i = 0; i < args.length; i++) {
    const flag = args[i]!;
    if (switches.has(flag)) continue;
    if (!flag.startsWith('-')) {
      if (plan.url) throw new CommandError(`hey takes one URL, got "${plan.url}" and "${flag}"`);
      plan.url = flag;
      continue;
    }
    if (!valueFlags.has(flag)) {
      throw new CommandError(
        `hey flag ${flag} is not supported; supported: ${[...valueFlags, ...switches].join(' ')}`,
      );
    }
    const value = args[++i];
    if (value === undefined) throw new CommandError(`hey ${flag} needs a value`);
    switch (flag) {
      case '-z':
        try {
          plan.durationMs = parseGoDuration(value, 'hey -z');
        } catch (err) {
          throw new CommandError((err as Error).message);
        }
        break;
      case '-q':
        plan.ratePerWorker = positive(flag, value);
        break;
      case '-c':
        plan.concurrency = Math.floor(positive(flag, value));
        break;
      case '-n':
        plan.requests = Math.floor(positive(flag, value));
        break;
      case '-t':
        plan.timeoutMs = positive(flag, value) * 1000;
        break;
      case '-m':
        plan.method = value.toUpperCase();
        break;
      case '-d':
        plan.body = value;
        break;
      case '-H': {
        const colon = value.indexOf(':');
        if (colon <= 0) throw new CommandError(`hey -H needs "Name: value", got "${value}"`);
        const name = value.slice(0, colon).trim().toLowerCase();
        const headerValue = value.slice(colon + 1).trim();
        plan.headers[name] = headerValue;
        // The command line is logged: a credential it carries is remembered, so every log line
        // blanks it (the value, and the token after an auth scheme such as Bearer).
        if (CREDENTIAL_HEADER.test(name)) {
          knownSecrets.remember(headerValue);
          knownSecrets.remember(headerValue.split(/\s+/).at(-1));
        }
        break;
      }
      case '-T':
        plan.headers['content-type'] = value;
        break;
      case '-A':
        plan.headers.accept = value;
        break;
      case '-host':
        plan.headers.host = value;
        break;
    }
  }
  if (!plan.url) throw new CommandError(`hey needs a URL: ${line}`);
  knownSecrets.remember(plan.url);
  let url: URL;
  try {
    url = new URL(plan.url);
  } catch {
    throw new CommandError(`hey URL "${plan.url}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new CommandError(`hey URL "${plan.url}" must be http or https`);
  return plan;
}
