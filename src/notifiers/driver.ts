import type { AlertProviderType } from '../api/index.ts';
import type { ResolvedProvider } from './config.ts';
import type { AlertMessage } from './message.ts';

/** One HTTP POST with a JSON body. `url` and `headers` may hold secrets: never log them. */
export interface AlertRequest {
  url: string;
  body: unknown;
  headers: Record<string, string>;
}

/** How one chat service is addressed. Building is pure, so payloads are tested without a network. */
export interface AlertProviderDriver {
  type: AlertProviderType;
  build(message: AlertMessage, provider: ResolvedProvider): AlertRequest;
  /**
   * The failure reported inside a 2xx reply, for APIs that answer 200 with an error flag
   * (Slack's Web API, Rocket.Chat); undefined when the reply means success.
   */
  rejection?(responseBody: string): string | undefined;
}

export const jsonHeaders: Readonly<Record<string, string>> = {
  'Content-Type': 'application/json; charset=utf-8',
};

/** For APIs that answer 2xx with `{ "<flag>": false, "error": "…" }`: the reported error, else undefined. */
export function falseFlagError(responseBody: string, flag: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(responseBody);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const reply = parsed as Record<string, unknown>;
  // Only an explicit false is a failure; a reply without the flag is not evidence of one.
  return reply[flag] === false ? String(reply.error ?? 'unknown error') : undefined;
}
