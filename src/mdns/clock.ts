/**
 * Time and randomness as injected dependencies, so every schedule (probing, announcing, query
 * backoff, cache refresh, expiry) can be driven by a manual clock in tests.
 */

export type TimerHandle = { readonly id: number };

export interface Clock {
  now(): number;
  setTimer(fn: () => void, ms: number): TimerHandle;
  clearTimer(handle: TimerHandle | undefined): void;
}

export type Random = () => number;

let nextId = 1;

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(fn, ms) {
    const t = setTimeout(fn, Math.max(0, ms));
    t.unref?.();
    const handle = { id: nextId++, t };
    return handle;
  },
  clearTimer(handle) {
    if (handle) clearTimeout((handle as unknown as { t: ReturnType<typeof setTimeout> }).t);
  },
};

/**
 * One re-armable timer: `arm(at)` keeps the earliest pending deadline, `fire` runs once. Helps the
 * browser and responder keep a single wake-up each instead of a timer per record.
 */
export class Alarm {
  private handle: TimerHandle | undefined;
  private at = Infinity;

  constructor(
    private readonly clock: Clock,
    private readonly fire: () => void,
  ) {}

  /** Wake at `at` (absolute ms) unless an earlier wake-up is already set. */
  arm(at: number): void {
    if (!Number.isFinite(at) || at >= this.at) return;
    this.clock.clearTimer(this.handle);
    this.at = at;
    this.handle = this.clock.setTimer(() => {
      this.handle = undefined;
      this.at = Infinity;
      this.fire();
    }, at - this.clock.now());
  }

  /** Replace any pending wake-up with `at` (Infinity = none). */
  reset(at: number): void {
    this.cancel();
    this.arm(at);
  }

  cancel(): void {
    this.clock.clearTimer(this.handle);
    this.handle = undefined;
    this.at = Infinity;
  }

  get pendingAt(): number {
    return this.at;
  }
}
