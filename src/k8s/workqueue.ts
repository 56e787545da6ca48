/**
 * A rate-limited work queue of keys, as in client-go: a key is never processed by two workers at
 * once; adding a key that is being processed marks it dirty so it runs again afterwards; failures
 * requeue with per-key exponential backoff; `addAfter` schedules a future reconcile.
 */
/** The longest wait before a requeued key comes back (see addAfter). */
export const MAX_REQUEUE_MS = 24 * 3600_000;

export class WorkQueue {
  private queue: string[] = [];
  private dirty = new Set<string>();
  private processing = new Set<string>();
  private failures = new Map<string, number>();
  private timers = new Map<string, { timer: NodeJS.Timeout; due: number }>();
  private waiters: Array<() => void> = [];
  private shuttingDown = false;

  constructor(
    private readonly baseDelayMs = 250,
    private readonly maxDelayMs = 30_000,
  ) {}

  get length(): number {
    return this.queue.length;
  }

  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return;
    this.queue.push(key);
    this.waiters.shift()?.();
  }

  /** Add after a delay; an earlier pending delay for the same key wins. */
  addAfter(key: string, delayMs: number): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) return this.add(key);
    // Node fires a timer of more than 2^31-1 ms (24.8 days) after 1 ms: a renewal due in months
    // would then reconcile in a tight loop. A day at most; the reconcile asks again for the rest.
    delayMs = Math.min(delayMs, MAX_REQUEUE_MS);
    const due = Date.now() + delayMs;
    const existing = this.timers.get(key);
    if (existing) {
      if (existing.due <= due) return; // keep whichever fires first
      clearTimeout(existing.timer);
    }
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, delayMs);
    timer.unref();
    this.timers.set(key, { timer, due });
  }

  /** Requeue after the key's backoff (base * 2^failures, capped); returns the delay used. */
  addRateLimited(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    const delay = Math.min(this.baseDelayMs * 2 ** n, this.maxDelayMs);
    this.addAfter(key, delay);
    return delay;
  }

  /** Forget the key's failure history (call after a successful reconcile). */
  forget(key: string): void {
    this.failures.delete(key);
  }

  numRequeues(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** Next key to process, or null when shut down. Call done(key) afterwards. */
  async get(): Promise<string | null> {
    while (!this.queue.length) {
      if (this.shuttingDown) return null;
      await new Promise<void>((r) => this.waiters.push(r));
    }
    const key = this.queue.shift()!;
    this.dirty.delete(key);
    this.processing.add(key);
    return key;
  }

  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.has(key)) {
      this.queue.push(key);
      this.waiters.shift()?.();
    }
  }

  shutDown(): void {
    this.shuttingDown = true;
    for (const t of this.timers.values()) clearTimeout(t.timer);
    this.timers.clear();
    for (const w of this.waiters.splice(0)) w();
  }
}
