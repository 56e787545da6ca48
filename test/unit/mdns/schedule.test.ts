import { describe, expect, it } from 'vitest';
import { announceGap, conflictBackoff, continuousQueryDelay, refreshOffsets, responseDelay } from '../../../src/mdns/schedule.js';
import { seededRandom } from './support.js';

describe('RFC 6762 schedules', () => {
  it('continuous querying waits 20-120 ms, then 1 s, then doubles up to 60 minutes (§5.2)', () => {
    const r = seededRandom(3);
    for (let i = 0; i < 100; i++) {
      const d = continuousQueryDelay(0, r);
      expect(d).toBeGreaterThanOrEqual(20);
      expect(d).toBeLessThanOrEqual(120);
    }
    const intervals = Array.from({ length: 16 }, (_, i) => continuousQueryDelay(i + 1, r) / 1000);
    expect(intervals).toEqual([1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 3600, 3600, 3600, 3600]);
  });

  it('refresh queries fall at 80, 85, 90 and 95 % of the TTL plus at most 2 % jitter (§5.2)', () => {
    const r = seededRandom(4);
    for (let i = 0; i < 200; i++) {
      const offs = refreshOffsets(100, r);
      [0.8, 0.85, 0.9, 0.95].forEach((f, j) => {
        expect(offs[j]).toBeGreaterThanOrEqual(100_000 * f);
        expect(offs[j]).toBeLessThanOrEqual(100_000 * (f + 0.02));
      });
    }
  });

  it('shared answers wait 20-120 ms, unique ones none, truncated queries 400-500 ms (§6, §7.2)', () => {
    const r = seededRandom(5);
    for (let i = 0; i < 100; i++) {
      const s = responseDelay('shared', r);
      expect(s).toBeGreaterThanOrEqual(20);
      expect(s).toBeLessThanOrEqual(120);
      const t = responseDelay('truncated', r);
      expect(t).toBeGreaterThanOrEqual(400);
      expect(t).toBeLessThanOrEqual(500);
    }
    expect(responseDelay('unique', r)).toBe(0);
  });

  it('announcements go out at 0, +1 s, +2 s (§8.3)', () => {
    expect([0, 1, 2].map(announceGap)).toEqual([0, 1000, 2000]);
  });

  it('after 15 conflicts within 10 s, probing waits 5 s (§9)', () => {
    const now = 100_000;
    const burst = Array.from({ length: 15 }, (_, i) => now - 9_000 + i * 100);
    expect(conflictBackoff(burst, now).delay).toBe(5000);
    expect(conflictBackoff(burst.slice(1), now).delay).toBe(0);
    expect(conflictBackoff(burst, now + 20_000)).toEqual({ delay: 0, history: [] });
  });
});
