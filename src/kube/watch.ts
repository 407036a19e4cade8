import { request } from 'undici';
import type { WatchClient } from '../runtime/list-watch.ts';
import { apiserverPool } from './agent.ts';
import type { KubeConfig } from './config.ts';
import { ApiResponseError } from './errors.ts';

type WatchCallback = Parameters<WatchClient['watch']>[2];
type WatchDone = Parameters<WatchClient['watch']>[3];
type WatchQuery = Parameters<WatchClient['watch']>[1];

/**
 * The watch a ListWatch runs on (src/runtime/list-watch.ts), on the pooled connections
 * and undici's `request`. client-node's own Watch pipes every event through fetch's web
 * stream, a Node stream adapter and readline, and re-arms a timer per chunk: on a
 * busy cluster, a visible part of the operator's CPU. Here a chunk is split into lines
 * in place and the inactivity timer is refreshed, not replaced.
 */
export class PooledWatch implements WatchClient {
  readonly #kubeConfig: KubeConfig;
  /** Until the answer arrives, then between chunks: longer without one ends the watch with a TimeoutError. */
  readonly #timeoutMs: number;

  constructor(kubeConfig: KubeConfig, timeoutMs = 30_000) {
    this.#kubeConfig = kubeConfig;
    this.#timeoutMs = timeoutMs;
  }

  async watch(
    path: string,
    query: WatchQuery,
    callback: WatchCallback,
    done: WatchDone,
  ): Promise<AbortController> {
    const cluster = this.#kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    const search = new URLSearchParams({ watch: 'true' });
    for (const [name, value] of Object.entries(query ?? {})) {
      if (value !== undefined) search.set(name, String(value));
    }
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new DOMException('the watch went quiet for too long', 'TimeoutError'));
    }, this.#timeoutMs);
    timer.unref();
    let ended = false;
    const end = (error: unknown) => {
      if (ended) return;
      ended = true;
      clearTimeout(timer);
      controller.abort();
      done(timedOut ? new DOMException('the watch timed out', 'TimeoutError') : error);
    };
    try {
      const { headers, dispatcher } = await apiserverPool(this.#kubeConfig).authenticate(
        'watch',
        controller.signal,
      );
      const response = await request(`${cluster.server}${path}?${search}`, {
        method: 'GET',
        headers: { ...headers, accept: 'application/json' },
        dispatcher,
        signal: controller.signal,
      });
      if (response.statusCode !== 200) {
        // The Status says why (a 403 names the missing permission); ListWatch reads its code (410: list again).
        const text = await response.body.text().catch(() => '');
        throw new ApiResponseError(response.statusCode, `watch ${path}`, text, {});
      }
      timer.refresh();
      let partial = '';
      const body = response.body;
      body.setEncoding('utf8');
      body.on('data', (chunk: string) => {
        if (ended) return;
        timer.refresh();
        const lines = (partial + chunk).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) {
          if (line === '') continue;
          let event: { type: string; object: object };
          try {
            event = JSON.parse(line) as { type: string; object: object };
          } catch {
            // A torn line cannot be trusted: end, and let ListWatch watch again from its last version.
            end(new Error('the watch sent a line that is not JSON'));
            return;
          }
          callback(event.type, event.object);
        }
      });
      body.on('error', end);
      body.on('end', () => end(null));
      body.on('close', () => end(null));
    } catch (error) {
      end(error);
    }
    return controller;
  }
}
