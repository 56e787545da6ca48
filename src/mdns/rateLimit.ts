/**
 * Token buckets keyed by source address, with a bounded number of keys, plus one global bucket:
 * a flood from one or many on-link senders costs O(1) memory and is dropped before parsing.
 */

interface Bucket {
  tokens: number;
  at: number;
}

export interface RateLimitOptions {
  /** Sustained packets per second accepted from one source. */
  perSourceRate: number;
  perSourceBurst: number;
  /** Sustained packets per second accepted from all sources together. */
  globalRate: number;
  globalBurst: number;
  /** At most this many sources are tracked; the oldest entry is forgotten first. */
  maxSources: number;
}

export const DEFAULT_RATE_LIMITS: RateLimitOptions = {
  perSourceRate: 100,
  perSourceBurst: 200,
  globalRate: 1000,
  globalBurst: 2000,
  maxSources: 1024,
};

export class PacketRateLimiter {
  private readonly sources = new Map<string, Bucket>();
  private readonly global: Bucket;

  constructor(private readonly opts: RateLimitOptions) {
    this.global = { tokens: opts.globalBurst, at: -Infinity };
  }

  private take(b: Bucket, rate: number, burst: number, now: number): boolean {
    if (Number.isFinite(b.at)) b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * rate);
    else b.tokens = burst;
    b.at = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /** True if a packet from `source` at `now` may be processed. */
  allow(source: string, now: number): boolean {
    let b = this.sources.get(source);
    if (!b) {
      if (this.sources.size >= this.opts.maxSources) {
        const oldest = this.sources.keys().next().value;
        if (oldest !== undefined) this.sources.delete(oldest);
      }
      b = { tokens: this.opts.perSourceBurst, at: now };
      this.sources.set(source, b);
    }
    if (!this.take(b, this.opts.perSourceRate, this.opts.perSourceBurst, now)) return false;
    return this.take(this.global, this.opts.globalRate, this.opts.globalBurst, now);
  }

  get trackedSources(): number {
    return this.sources.size;
  }
}
