/**
 * Wait for a condition with a deadline; on timeout the error shows the last observed state, so a
 * failing test says what it saw, not just that it waited.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  opts: { timeoutMs?: number; intervalMs?: number; describe?: () => Promise<unknown> | unknown } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  let last: unknown;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await probe();
      last = v;
      if (v !== undefined && v !== null && v !== false) return v as T;
    } catch (e) {
      lastErr = e;
    }
    if (Date.now() > deadline) {
      const state = opts.describe ? await Promise.resolve(opts.describe()).catch((e) => `describe failed: ${e}`) : last;
      throw new Error(
        `timed out after ${(opts.timeoutMs ?? 60_000) / 1000}s waiting for ${what}; last observed: ${JSON.stringify(state, null, 1)?.slice(0, 3000)}${lastErr ? `; last error: ${(lastErr as Error).message}` : ''}`,
      );
    }
    await sleep(opts.intervalMs ?? 200);
  }
}
