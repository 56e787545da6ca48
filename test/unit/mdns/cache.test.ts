import { describe, expect, it } from 'vitest';
import { RecordCache } from '../../../src/mdns/cache.js';
import type { ResourceRecord } from '../../../src/mdns/codec.js';
import { ManualClock, seededRandom } from './support.js';

const ptr = (target: string, ttl = 100): ResourceRecord => ({
  name: '_liqo._tcp.local',
  rrclass: 1,
  cacheFlush: false,
  ttl,
  type: 'PTR',
  target,
});
const a = (address: string, ttl = 120): ResourceRecord => ({ name: 'h.local', rrclass: 1, cacheFlush: true, ttl, type: 'A', address });
const meta = { source: '10.0.0.2', link: 'eth0' };

function newCache(max = 100) {
  return new RecordCache({ maxEntries: max, maxPerSet: 4, random: seededRandom(9) });
}

describe('record cache', () => {
  it('expires a record exactly at its TTL', () => {
    const clock = new ManualClock();
    const cache = newCache();
    cache.upsert(ptr('x._liqo._tcp.local', 10), clock.now(), meta);
    clock.advance(9_999);
    expect(cache.expire(clock.now())).toEqual([]);
    clock.advance(1);
    expect(cache.expire(clock.now()).map((e) => e.rr)).toEqual([ptr('x._liqo._tcp.local', 10)]);
    expect(cache.size).toBe(0);
  });

  it('asks for refreshes at 80, 85, 90 and 95 % of the TTL, each once', () => {
    const clock = new ManualClock();
    const cache = newCache();
    const t0 = clock.now();
    cache.upsert(ptr('x._liqo._tcp.local', 100), t0, meta);
    const dueAt: number[] = [];
    for (let t = 0; t <= 100_000; t += 100) {
      if (cache.takeDueRefreshes(t0 + t).length > 0) dueAt.push(t / 1000);
    }
    expect(dueAt).toHaveLength(4);
    [80, 85, 90, 95].forEach((p, i) => {
      expect(dueAt[i]).toBeGreaterThanOrEqual(p);
      expect(dueAt[i]).toBeLessThanOrEqual(p + 2.1);
    });
    expect(cache.nextDeadline()).toBe(t0 + 100_000);
  });

  it('restarts the refresh schedule when the record is received again', () => {
    const clock = new ManualClock();
    const cache = newCache();
    const t0 = clock.now();
    cache.upsert(ptr('x._liqo._tcp.local', 100), t0, meta);
    cache.upsert(ptr('x._liqo._tcp.local', 100), t0 + 50_000, meta);
    expect(cache.takeDueRefreshes(t0 + 80_000 + 2_000)).toEqual([]);
    expect(cache.takeDueRefreshes(t0 + 50_000 + 82_100)).toHaveLength(1);
  });

  it('keeps a goodbye (TTL 0) record for one more second, then drops it (§10.1)', () => {
    const clock = new ManualClock();
    const cache = newCache();
    cache.upsert(ptr('x._liqo._tcp.local'), clock.now(), meta);
    clock.advance(5_000);
    const r = cache.upsert(ptr('x._liqo._tcp.local', 0), clock.now(), meta);
    expect(r.kind).toBe('goodbye');
    expect(cache.expire(clock.now() + 999)).toEqual([]);
    const gone = cache.expire(clock.now() + 1000);
    expect(gone).toHaveLength(1);
    expect(gone[0]!.goodbye).toBe(true);
  });

  it('ignores a goodbye for a record it does not hold', () => {
    expect(newCache().upsert(ptr('x._liqo._tcp.local', 0), 0, meta)).toEqual({ kind: 'ignored' });
  });

  it('on cache-flush, records of the same name and type older than 1 s expire in 1 s (§10.2)', () => {
    const clock = new ManualClock();
    const cache = newCache();
    const t0 = clock.now();
    cache.upsert(a('10.0.0.1'), t0, meta);
    cache.upsert(a('10.0.0.9'), t0 + 1500, meta); // received less than 1 s before the flush: kept
    const flushed = cache.cacheFlush(a('10.0.0.2'), t0 + 2000);
    expect(flushed.map((e) => e.rr)).toEqual([a('10.0.0.1')]);
    cache.upsert(a('10.0.0.2'), t0 + 2000, meta);
    expect(cache.getSet('h.local', 1, 1, t0 + 2999).map((e) => (e.rr as { address: string }).address)).toEqual(['10.0.0.2', '10.0.0.9', '10.0.0.1']);
    expect(cache.getSet('h.local', 1, 1, t0 + 3000).map((e) => (e.rr as { address: string }).address)).toEqual(['10.0.0.2', '10.0.0.9']);
  });

  it('never holds more than maxEntries records, nor more than maxPerSet per RRset', () => {
    const cache = newCache(50);
    for (let i = 0; i < 500; i++) cache.upsert(ptr(`i${i}._liqo._tcp.local`), i, meta);
    expect(cache.size).toBe(50);
    expect(cache.upsert(ptr('late._liqo._tcp.local'), 1000, meta)).toEqual({ kind: 'full' });
    const small = newCache(50);
    for (let i = 0; i < 20; i++) small.upsert(a(`10.0.1.${i}`), i, meta);
    expect(small.getSet('h.local', 1, 1, 100)).toHaveLength(4);
  });
});
