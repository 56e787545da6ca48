/**
 * A log line for every DNS-SD instance the browser refuses (a TXT without a usable `id`, an
 * oversized TXT, one instance too many), with the reason, so a person can see why a cluster on the
 * LAN does not show up; counters alone say only that something was dropped. Rate limited, because
 * the records come from the network: at most `burst` lines per window, and the next line that goes
 * out says how many were left out.
 */
import type { Logger } from 'pino';
import type { Clock } from './clock.js';

export interface DroppedInstance {
  instance: string;
  /** CamelCase reason, e.g. InvalidClusterID, InvalidTXT, TXTTooLarge, TooManyInstances. */
  reason: string;
  problem: string;
  /** Address the record came from. */
  source: string;
}

export class DropLog {
  private windowStart = -Infinity;
  private lines = 0;
  private suppressed = 0;

  constructor(
    private readonly log: Logger,
    private readonly clock: Clock,
    private readonly burst = 10,
    private readonly windowMs = 60_000,
  ) {}

  report(d: DroppedInstance): void {
    const now = this.clock.now();
    if (now - this.windowStart >= this.windowMs) {
      this.windowStart = now;
      this.lines = 0;
    }
    if (this.lines >= this.burst) {
      this.suppressed += 1;
      return;
    }
    this.lines += 1;
    const left = this.suppressed > 0 ? { notLoggedBefore: this.suppressed } : {};
    this.suppressed = 0;
    this.log.warn({ ...d, ...left }, `ignoring DNS-SD instance ${d.instance}: ${d.problem}`);
  }
}
