import { redactUrls } from '../telemetry/logger.ts';

const marker = '[redacted]';
// Query values and path segments shorter than this are too common ("1", "true", "/api") to be
// secrets, and blanking them would shred unrelated words in a response body.
const minFragmentLength = 6;

/**
 * Removes a webhook URL, and every part of it that can carry a credential (user info, path,
 * query, each query value), from `text`: response bodies and network errors may echo them.
 * Any other http(s) URL in the text keeps only its scheme and host.
 */
export function redactWebhookUrl(text: string, url: string): string {
  const fragments = new Set<string>([url]);
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (parsed !== undefined) {
    fragments.add(parsed.href);
    fragments.add(parsed.pathname + parsed.search);
    fragments.add(parsed.search);
    fragments.add(parsed.pathname);
    for (const part of [parsed.username, parsed.password, ...parsed.searchParams.values()]) {
      fragments.add(part);
      fragments.add(encodeURIComponent(part));
      fragments.add(decodeOrKeep(part));
    }
  }
  let result = text;
  const ordered = [...fragments]
    .filter((f) => f.length >= minFragmentLength)
    .sort((a, b) => b.length - a.length);
  for (const fragment of ordered) result = result.split(fragment).join(marker);
  return redactUrls(result);
}

function decodeOrKeep(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
