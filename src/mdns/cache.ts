/**
 * The browser's record cache: TTL expiry, goodbye handling (RFC 6762 §10.1), cache-flush
 * (§10.2) and the refresh schedule (§5.2). Time is passed in; the cache never sets timers, it
 * only tells the caller its next deadline. Bounded: at most `maxEntries` records, at most
 * `maxPerSet` records per name/type/class (PTR sets excepted: they hold one record per instance).
 */
import { CACHE_FLUSH_GRACE_MS, GOODBYE_GRACE_MS } from './constants.js';
import type { Random } from './clock.js';
import { recordKey, typeCodeOf, type ResourceRecord } from './codec.js';
import { nameKey } from './names.js';
import { refreshOffsets } from './schedule.js';

export interface CacheEntry {
  readonly key: string;
  readonly setKey: string;
  rr: ResourceRecord;
  /** TTL in seconds as last received (before any goodbye or flush shortened it). */
  originalTtl: number;
  receivedAt: number;
  expiresAt: number;
  /** A TTL-0 goodbye arrived; the entry lives `goodbyeGraceMs` more, then goes. */
  goodbye: boolean;
  /** A newer cache-flush record replaced this one; it lives one more second. */
  flushed: boolean;
  /** Absolute times of the remaining refresh queries, ascending. */
  refreshAt: number[];
  source: string;
  link: string;
}

export interface CacheOptions {
  maxEntries: number;
  maxPerSet: number;
  random: Random;
  goodbyeGraceMs?: number;
}

export type UpsertResult =
  | { kind: 'added'; entry: CacheEntry; evicted?: CacheEntry }
  | { kind: 'refreshed'; entry: CacheEntry }
  | { kind: 'goodbye'; entry: CacheEntry }
  | { kind: 'ignored' }
  | { kind: 'full' };

export function setKeyOf(name: string, typeCode: number, rrclass: number): string {
  return `${nameKey(name)}|${typeCode}|${rrclass}`;
}

export class RecordCache {
  private readonly entries = new Map<string, CacheEntry>();
  private readonly sets = new Map<string, Set<string>>();

  constructor(private readonly opts: CacheOptions) {}

  get size(): number {
    return this.entries.size;
  }

  get maxEntries(): number {
    return this.opts.maxEntries;
  }

  upsert(rr: ResourceRecord, now: number, meta: { source: string; link: string }): UpsertResult {
    const key = recordKey(rr);
    const existing = this.entries.get(key);
    if (rr.ttl === 0) {
      if (!existing) return { kind: 'ignored' };
      existing.goodbye = true;
      existing.expiresAt = Math.min(existing.expiresAt, now + (this.opts.goodbyeGraceMs ?? GOODBYE_GRACE_MS));
      existing.refreshAt = [];
      return { kind: 'goodbye', entry: existing };
    }
    const refreshAt = refreshOffsets(rr.ttl, this.opts.random).map((o) => now + o);
    if (existing) {
      existing.rr = rr;
      existing.originalTtl = rr.ttl;
      existing.receivedAt = now;
      existing.expiresAt = now + rr.ttl * 1000;
      existing.goodbye = false;
      existing.flushed = false;
      existing.refreshAt = refreshAt;
      existing.source = meta.source;
      existing.link = meta.link;
      return { kind: 'refreshed', entry: existing };
    }
    const setKey = setKeyOf(rr.name, typeCodeOf(rr), rr.rrclass);
    let set = this.sets.get(setKey);
    let evicted: CacheEntry | undefined;
    // shared PTR sets (one per service, one record per instance) are bounded by maxEntries and the
    // browser's instance limit instead; other RRsets (addresses, SRV, TXT) by maxPerSet
    if (set && rr.type !== 'PTR' && set.size >= this.opts.maxPerSet) {
      // the oldest member of an over-full RRset makes room (a host with many addresses)
      let oldest: CacheEntry | undefined;
      for (const k of set) {
        const e = this.entries.get(k)!;
        if (!oldest || e.receivedAt < oldest.receivedAt) oldest = e;
      }
      if (oldest) {
        this.delete(oldest.key);
        evicted = oldest;
      }
    } else if (this.entries.size >= this.opts.maxEntries) {
      return { kind: 'full' };
    }
    const entry: CacheEntry = {
      key,
      setKey,
      rr,
      originalTtl: rr.ttl,
      receivedAt: now,
      expiresAt: now + rr.ttl * 1000,
      goodbye: false,
      flushed: false,
      refreshAt,
      source: meta.source,
      link: meta.link,
    };
    this.entries.set(key, entry);
    set = this.sets.get(setKey);
    if (!set) {
      set = new Set();
      this.sets.set(setKey, set);
    }
    set.add(key);
    return evicted ? { kind: 'added', entry, evicted } : { kind: 'added', entry };
  }

  /**
   * §10.2: a record with the cache-flush bit makes other records of the same name/type/class that
   * were received more than one second ago expire one second from now.
   */
  cacheFlush(rr: ResourceRecord, now: number): CacheEntry[] {
    const set = this.sets.get(setKeyOf(rr.name, typeCodeOf(rr), rr.rrclass));
    if (!set) return [];
    const key = recordKey(rr);
    const flushed: CacheEntry[] = [];
    for (const k of set) {
      if (k === key) continue;
      const e = this.entries.get(k)!;
      if (e.receivedAt >= now - CACHE_FLUSH_GRACE_MS) continue;
      if (e.expiresAt > now + CACHE_FLUSH_GRACE_MS) {
        e.expiresAt = now + CACHE_FLUSH_GRACE_MS;
        e.flushed = true;
        e.refreshAt = [];
        flushed.push(e);
      }
    }
    return flushed;
  }

  /** Live records of one RRset, newest first. */
  getSet(name: string, typeCode: number, rrclass: number, now: number): CacheEntry[] {
    const set = this.sets.get(setKeyOf(name, typeCode, rrclass));
    if (!set) return [];
    const out: CacheEntry[] = [];
    for (const k of set) {
      const e = this.entries.get(k)!;
      if (e.expiresAt > now) out.push(e);
    }
    return out.sort((a, b) => b.receivedAt - a.receivedAt);
  }

  get(key: string): CacheEntry | undefined {
    return this.entries.get(key);
  }

  /** Removes and returns every entry whose time is up. */
  expire(now: number): CacheEntry[] {
    const gone: CacheEntry[] = [];
    for (const e of this.entries.values()) {
      if (e.expiresAt <= now) gone.push(e);
    }
    for (const e of gone) this.delete(e.key);
    return gone;
  }

  /** Entries with a refresh point at or before `now`; each point is consumed once. */
  takeDueRefreshes(now: number): CacheEntry[] {
    const due: CacheEntry[] = [];
    for (const e of this.entries.values()) {
      if (e.refreshAt.length === 0 || e.refreshAt[0]! > now) continue;
      while (e.refreshAt.length > 0 && e.refreshAt[0]! <= now) e.refreshAt.shift();
      due.push(e);
    }
    return due;
  }

  /** The earliest expiry or refresh point, or Infinity. */
  nextDeadline(): number {
    let at = Infinity;
    for (const e of this.entries.values()) {
      if (e.expiresAt < at) at = e.expiresAt;
      const r = e.refreshAt[0];
      if (r !== undefined && r < at) at = r;
    }
    return at;
  }

  delete(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    this.entries.delete(key);
    const set = this.sets.get(e.setKey);
    if (set) {
      set.delete(key);
      if (set.size === 0) this.sets.delete(e.setKey);
    }
  }

  clear(): void {
    this.entries.clear();
    this.sets.clear();
  }

  values(): IterableIterator<CacheEntry> {
    return this.entries.values();
  }
}
