/**
 * RFC 6762 timing decisions as pure functions of an index, a TTL and a random source.
 */
import {
  ANNOUNCE_FIRST_INTERVAL_MS,
  CONFLICT_BACKOFF_MS,
  CONFLICT_BURST,
  CONFLICT_WINDOW_MS,
  PROBE_WAIT_MAX_MS,
  QUERY_FIRST_MAX_MS,
  QUERY_FIRST_MIN_MS,
  QUERY_MAX_INTERVAL_MS,
  QUERY_SECOND_INTERVAL_MS,
  REFRESH_FRACTIONS,
  REFRESH_JITTER_FRACTION,
  SHARED_DELAY_MAX_MS,
  SHARED_DELAY_MIN_MS,
  TC_DELAY_MAX_MS,
  TC_DELAY_MIN_MS,
} from './constants.js';
import type { Random } from './clock.js';

function between(min: number, max: number, random: Random): number {
  return min + random() * (max - min);
}

/**
 * §5.2 continuous querying: the delay before query number `index` (0-based) of a browse, counted
 * from the previous query (or from the start for index 0): 20–120 ms, then 1 s, then doubling
 * intervals, capped at 60 minutes.
 */
export function continuousQueryDelay(index: number, random: Random): number {
  if (index <= 0) return between(QUERY_FIRST_MIN_MS, QUERY_FIRST_MAX_MS, random);
  const interval = QUERY_SECOND_INTERVAL_MS * 2 ** Math.min(index - 1, 32);
  return Math.min(interval, QUERY_MAX_INTERVAL_MS);
}

/**
 * §5.2 cache maintenance: offsets (ms from reception) of the refresh queries for a record of
 * `ttlSeconds`, at 80/85/90/95 % of the TTL plus 0–2 % random jitter each.
 */
export function refreshOffsets(ttlSeconds: number, random: Random): number[] {
  const ttlMs = ttlSeconds * 1000;
  return REFRESH_FRACTIONS.map((f) => ttlMs * (f + random() * REFRESH_JITTER_FRACTION));
}

/** §6: delay before answering with shared records (20–120 ms), or after a TC query (400–500 ms). */
export function responseDelay(kind: 'unique' | 'shared' | 'truncated', random: Random): number {
  if (kind === 'truncated') return between(TC_DELAY_MIN_MS, TC_DELAY_MAX_MS, random);
  if (kind === 'shared') return between(SHARED_DELAY_MIN_MS, SHARED_DELAY_MAX_MS, random);
  return 0;
}

/** §8.1: random 0–250 ms before the first probe. */
export function initialProbeDelay(random: Random): number {
  return random() * PROBE_WAIT_MAX_MS;
}

/** §8.3: gaps between announcements: 1 s, then doubling. `index` 0 is the first announcement. */
export function announceGap(index: number): number {
  return index <= 0 ? 0 : ANNOUNCE_FIRST_INTERVAL_MS * 2 ** (index - 1);
}

/**
 * §9: given the times of recent conflicts, the extra wait before the next probe sequence: 5 s once
 * 15 conflicts have happened within 10 s, otherwise nothing. Returns the pruned history too.
 */
export function conflictBackoff(history: readonly number[], now: number): { delay: number; history: number[] } {
  const recent = history.filter((t) => now - t < CONFLICT_WINDOW_MS);
  return { delay: recent.length >= CONFLICT_BURST ? CONFLICT_BACKOFF_MS : 0, history: recent };
}
