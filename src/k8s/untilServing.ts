/**
 * Waits out an API server that is restarting. A step the agent cannot do without its API server
 * (reading a ConfigMap, creating a serving Secret) and that fails because the server is down or
 * not ready yet (connection refused or reset, 5xx, 429) is retried with backoff up to a deadline,
 * so that a restart of the API server while the agent starts does not end the agent (an agent
 * without a supervisor would stay down, its webhook with it). Anything else (403, 404, 422, a
 * bug) is thrown at once: waiting would not change it.
 */
import { ApiError } from './rest.js';
import type { Logger } from '../observability/logger.js';

/** True for errors a restarting API server gives, which a later attempt may not. */
export function isUnavailable(e: unknown): boolean {
  if (!(e instanceof ApiError)) return (e as NodeJS.ErrnoException | undefined)?.code !== undefined && /^E[A-Z]+$/.test(String((e as NodeJS.ErrnoException).code));
  return e.code === 0 || e.code === 429 || e.code >= 500;
}

export interface UntilServingOptions {
  /** What the step does, for the log line ("read ConfigMap kube-system/x"). */
  what: string;
  log?: Logger;
  /** Give up (throw the last error) after this long; default 2 minutes. */
  waitMs?: number;
  /** Stop waiting when this is aborted (the agent stopping). */
  signal?: AbortSignal;
}

export async function untilServing<T>(step: () => Promise<T>, opts: UntilServingOptions): Promise<T> {
  const deadline = Date.now() + (opts.waitMs ?? 120_000);
  for (let delay = 250; ; delay = Math.min(delay * 2, 5000)) {
    try {
      return await step();
    } catch (e) {
      if (!isUnavailable(e) || Date.now() + delay > deadline || opts.signal?.aborted) throw e;
      opts.log?.warn({ err: (e as Error).message, retryInMs: delay }, `cannot ${opts.what} yet (API server unavailable); retrying`);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
