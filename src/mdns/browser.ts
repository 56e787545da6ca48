/**
 * The browsing half of LAN discovery (RFC 6762 §5, §7, §10; RFC 6763 §4–6): continuous querying
 * for `PTR _liqo._tcp.local` with exponential backoff and known answers, a bounded cache with TTL
 * expiry and refresh queries, resolution of SRV/TXT/A for new instances, and one view per cluster
 * ID turned into `up` / `update` / `down` / `conflict` events.
 *
 * No sockets and no timers of its own: packets come in through `handleResponse`/`handleQuery`,
 * queries leave through `deps.sendQuery`, and time comes from the injected clock.
 */
import type { Logger } from 'pino';
import { Alarm, type Clock, type Random } from './clock.js';
import { CLASS_IN, RRType } from './constants.js';
import { RecordCache, type CacheEntry } from './cache.js';
import { recordKey, typeCodeOf, type DnsPacket, type Question, type ResourceRecord } from './codec.js';
import type { MdnsCounters } from './counters.js';
import { buildQueryPackets, qualifiesAsKnownAnswer } from './knownAnswers.js';
import { instanceLabelOf, nameKey } from './names.js';
import { continuousQueryDelay } from './schedule.js';
import { readClusterTxt, txtWireSize } from './txt.js';
import { MAX_TXT_BYTES, QUERY_SECOND_INTERVAL_MS } from './constants.js';
import { apiUrlFor, sameApiServer } from './apiUrl.js';
import { DropLog } from './dropLog.js';
import { isIPv6LinkLocal, parseIPv6 } from './ip.js';
import type { DiscoveredPeer, PeerConflict, PeerDown, PeerField, PeerUpdate } from './types.js';

export type BrowserEvent =
  | { type: 'up'; peer: DiscoveredPeer }
  | { type: 'update'; peer: PeerUpdate }
  | { type: 'down'; down: PeerDown }
  | { type: 'conflict'; conflict: PeerConflict };

export interface BrowserDeps {
  clock: Clock;
  random: Random;
  counters: MdnsCounters;
  log: Logger;
  emit(event: BrowserEvent): void;
  /** Multicast these query packets on every link. */
  sendQuery(packets: DnsPacket[]): void;
}

export interface BrowserOptions {
  /** `_liqo._tcp.local` */
  serviceName: string;
  ownClusterID: string;
  /** Our own advertised URL and instance, to flag others claiming our ID. */
  ownUrl?: string;
  ownInstance?: string;
  maxInstances: number;
  maxRecords: number;
  maxRecordsPerSet: number;
  goodbyeGraceMs: number;
}

export interface PacketMeta {
  source: string;
  port: number;
  link: string;
  /** The datagram came from one of our own addresses (multicast loopback). */
  fromSelf: boolean;
}

type Role = 'pending' | 'primary' | 'alternate' | 'own' | 'invalid';

interface Instance {
  key: string;
  name: string;
  ptrKey: string;
  role: Role;
  view: DiscoveredPeer | undefined;
  /** Host names (keys) of this instance's live SRV targets, for accepting A/AAAA. */
  targets: Set<string>;
  removalReason: 'goodbye' | 'expired' | undefined;
  resolveAttempts: number;
  nextResolveAt: number;
  conflictReportedFor: string | undefined;
  invalidTxtKey: string | undefined;
}

const MAX_RESOLVE_ATTEMPTS = 4;

/** Order in which a response's records are taken: PTR, then SRV/TXT, then addresses. */
function processingRank(rr: ResourceRecord): number {
  switch (rr.type) {
    case 'PTR':
      return 0;
    case 'SRV':
    case 'TXT':
      return 1;
    case 'A':
    case 'AAAA':
      return 2;
    default:
      return 3;
  }
}

function samePeer(a: DiscoveredPeer, b: DiscoveredPeer): PeerField[] {
  const changed: PeerField[] = [];
  if (a.instance !== b.instance) changed.push('instance');
  if (a.url !== b.url) changed.push('url');
  if (a.port !== b.port) changed.push('port');
  if (nameKey(a.host) !== nameKey(b.host)) changed.push('host');
  if (a.addresses.join(',') !== b.addresses.join(',')) changed.push('addresses');
  if (a.namespace !== b.namespace) changed.push('namespace');
  if (a.name !== b.name) changed.push('name');
  return changed;
}

export class Browser {
  private readonly cache: RecordCache;
  private readonly instances = new Map<string, Instance>();
  /** cluster ID -> key of the instance whose view we report for it. */
  private readonly claims = new Map<string, string>();
  /** host name key -> instance keys whose SRV points at it. */
  private readonly targetRefs = new Map<string, Set<string>>();
  private readonly alarm: Alarm;
  private readonly serviceKey: string;
  private running = false;
  private queryIndex = 0;
  private nextQueryAt = Infinity;
  private readonly dirty = new Set<string>();
  private readonly drops: DropLog;
  /** question key -> when we last sent it: one question is not asked twice within a second. */
  private readonly lastAsked = new Map<string, number>();
  /** §5.4: the first query after starting asks for unicast replies (QU). */
  private firstQuery = true;
  /** Source addresses of our own datagrams (multicast loopback), per family: a handful. */
  private readonly ownSources = new Set<string>();

  constructor(
    private readonly deps: BrowserDeps,
    private opts: BrowserOptions,
  ) {
    this.drops = new DropLog(deps.log, deps.clock);
    this.cache = new RecordCache({
      maxEntries: opts.maxRecords,
      maxPerSet: opts.maxRecordsPerSet,
      random: deps.random,
      goodbyeGraceMs: opts.goodbyeGraceMs,
    });
    this.serviceKey = nameKey(opts.serviceName);
    this.alarm = new Alarm(deps.clock, () => this.tick());
  }

  get isRunning(): boolean {
    return this.running;
  }

  get cacheSize(): number {
    return this.cache.size;
  }

  get instanceCount(): number {
    return this.instances.size;
  }

  /** Our own identity changed (ID is fixed, but URL and instance follow the advertisement). */
  setOwn(own: { ownUrl?: string; ownInstance?: string }): void {
    this.opts = { ...this.opts, ...own };
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.firstQuery = true;
    this.restartQueries();
  }

  /** Restart continuous querying from the beginning (start, or a network change: RFC 6762 §13). */
  restartQueries(): void {
    if (!this.running) return;
    const now = this.deps.clock.now();
    this.queryIndex = 0;
    this.nextQueryAt = now + continuousQueryDelay(0, this.deps.random);
    this.rearm();
  }

  /** Stop browsing and forget everything; with `emitDown`, every reported peer gets `down: disabled`. */
  stop(emitDown: boolean): void {
    if (!this.running) return;
    this.running = false;
    this.alarm.cancel();
    if (emitDown) {
      for (const [clusterID, key] of this.claims) {
        const inst = this.instances.get(key);
        if (inst) this.deps.emit({ type: 'down', down: { clusterID, instance: inst.name, reason: 'disabled' } });
      }
    }
    this.claims.clear();
    this.instances.clear();
    this.targetRefs.clear();
    this.cache.clear();
    this.lastAsked.clear();
    this.nextQueryAt = Infinity;
  }

  /** The peers currently reported (one per cluster ID). */
  peers(): DiscoveredPeer[] {
    const out: DiscoveredPeer[] = [];
    for (const key of this.claims.values()) {
      const v = this.instances.get(key)?.view;
      if (v) out.push({ ...v, addresses: [...v.addresses] });
    }
    return out;
  }

  // -------------------------------------------------------------------------------------------
  // incoming

  handleResponse(packet: DnsPacket, meta: PacketMeta): void {
    if (!this.running) return;
    const now = this.deps.clock.now();
    if (meta.fromSelf && this.ownSources.size < 64) this.ownSources.add(meta.source);
    // RFC 6762 §6: answers and additional records both feed the cache; authorities are for probes
    const records = [...packet.answers, ...packet.additionals].sort((a, b) => processingRank(a) - processingRank(b));
    for (const rr of records) this.take(rr, now, meta);
    this.flush(now);
  }

  /**
   * §7.3 duplicate question suppression: another host's query for our service, listing no known
   * answer that we would not list ourselves, counts as our own next query.
   */
  handleQuery(packet: DnsPacket, meta: PacketMeta): void {
    if (!this.running || meta.fromSelf) return;
    const now = this.deps.clock.now();
    const asksOurQuestion = packet.questions.some(
      (q) => !q.unicastResponse && (q.type === RRType.PTR || q.type === RRType.ANY) && nameKey(q.name) === this.serviceKey,
    );
    if (!asksOurQuestion) return;
    const ours = new Set(this.knownAnswersFor({ name: this.opts.serviceName, type: RRType.PTR }, now).map(recordKey));
    const theirs = packet.answers.filter((rr) => rr.type === 'PTR' && nameKey(rr.name) === this.serviceKey);
    if (!theirs.every((rr) => ours.has(recordKey(rr)))) return;
    const interval = continuousQueryDelay(this.queryIndex, this.deps.random);
    const window = Math.max(QUERY_SECOND_INTERVAL_MS, interval * 0.1);
    if (this.nextQueryAt - now <= window) {
      this.queryIndex += 1;
      this.nextQueryAt = now + continuousQueryDelay(this.queryIndex, this.deps.random);
      this.rearm();
    }
  }

  private take(rr: ResourceRecord, now: number, meta: PacketMeta): void {
    const counters = this.deps.counters;
    if (rr.rrclass !== CLASS_IN) {
      counters.ignore('foreign-class');
      return;
    }
    switch (rr.type) {
      case 'PTR': {
        if (nameKey(rr.name) !== this.serviceKey || instanceLabelOf(rr.target, this.opts.serviceName) === undefined) {
          counters.ignore('other-service');
          return;
        }
        const key = nameKey(rr.target);
        let inst = this.instances.get(key);
        if (!inst) {
          if (rr.ttl === 0) return; // goodbye for something we never knew
          if (this.instances.size >= this.opts.maxInstances) {
            counters.ignore('instance-limit');
            this.drops.report({
              instance: rr.target,
              reason: 'TooManyInstances',
              problem: `already tracking ${this.opts.maxInstances} instances of ${this.opts.serviceName}`,
              source: meta.source,
            });
            return;
          }
          inst = {
            key,
            name: rr.target,
            ptrKey: recordKey({ ...rr, ttl: 0, cacheFlush: false }),
            role: 'pending',
            view: undefined,
            targets: new Set(),
            removalReason: undefined,
            resolveAttempts: 0,
            nextResolveAt: Infinity,
            conflictReportedFor: undefined,
            invalidTxtKey: undefined,
          };
          this.instances.set(key, inst);
        }
        if (this.store(rr, now, meta) && rr.ttl > 0 && inst.role === 'pending') {
          // a fresh sighting of an unresolved instance: resolve again from the start
          inst.resolveAttempts = 0;
        }
        this.dirty.add(key);
        return;
      }
      case 'SRV':
      case 'TXT': {
        const key = nameKey(rr.name);
        if (!this.instances.has(key)) {
          counters.ignore(instanceLabelOf(rr.name, this.opts.serviceName) === undefined ? 'other-service' : 'unrelated');
          return;
        }
        if (rr.type === 'TXT' && txtWireSize(rr.strings) > MAX_TXT_BYTES) {
          counters.ignore('oversized-txt');
          this.drops.report({
            instance: rr.name,
            reason: 'TXTTooLarge',
            problem: `the TXT record is ${txtWireSize(rr.strings)} bytes, more than ${MAX_TXT_BYTES} (RFC 6763 §6.2)`,
            source: meta.source,
          });
          return;
        }
        this.store(rr, now, meta);
        if (rr.type === 'SRV' && rr.ttl > 0) this.addTargetRef(nameKey(rr.target), key);
        this.dirty.add(key);
        return;
      }
      case 'A':
      case 'AAAA': {
        const refs = this.targetRefs.get(nameKey(rr.name));
        if (!refs || refs.size === 0) {
          counters.ignore('unrelated');
          return;
        }
        this.store(rr, now, meta);
        for (const k of refs) this.dirty.add(k);
        return;
      }
      default:
        counters.ignore('other-service');
    }
  }

  /** Caches one record (honouring the cache-flush bit); false if it was not stored. */
  private store(rr: ResourceRecord, now: number, meta: PacketMeta): boolean {
    if (rr.cacheFlush && rr.ttl > 0) {
      for (const e of this.cache.cacheFlush(rr, now)) this.markDirtyFor(e);
    }
    const r = this.cache.upsert(rr, now, { source: meta.source, link: meta.link });
    if (r.kind === 'full') {
      this.deps.counters.ignore('cache-full');
      return false;
    }
    if (r.kind === 'added' && r.evicted) {
      this.deps.counters.ignore('record-limit');
      this.markDirtyFor(r.evicted);
    }
    return r.kind !== 'ignored';
  }

  private addTargetRef(hostKey: string, instKey: string): void {
    let set = this.targetRefs.get(hostKey);
    if (!set) {
      set = new Set();
      this.targetRefs.set(hostKey, set);
    }
    set.add(instKey);
  }

  private markDirtyFor(e: CacheEntry): void {
    const rr = e.rr;
    if (rr.type === 'PTR') {
      this.dirty.add(nameKey(rr.target));
    } else if (rr.type === 'SRV' || rr.type === 'TXT') {
      this.dirty.add(nameKey(rr.name));
    } else {
      for (const k of this.targetRefs.get(nameKey(rr.name)) ?? []) this.dirty.add(k);
    }
  }

  // -------------------------------------------------------------------------------------------
  // time

  private tick(): void {
    if (!this.running) return;
    const now = this.deps.clock.now();
    for (const e of this.cache.expire(now)) {
      this.markDirtyFor(e);
      const owner = this.ownerOf(e);
      if (owner && !e.flushed) owner.removalReason = e.goodbye ? 'goodbye' : 'expired';
    }
    // Every reason to ask (continuous querying, each record's refresh, resolving a new instance)
    // has its own schedule, and two of them often fall due a few ms apart for the same question
    // (the PTRs of two peers seen together). The question goes out once; a second reason within
    // `minGapMs` is served by the answer to the first. §5.2 wants repeats at least 1 s apart; a
    // refresh ladder (80/85/90/95 % of a short TTL) may step faster, but never by less than 2.5 %
    // of the TTL (5 % steps minus the 2 % jitter).
    const questions = new Map<string, Question>();
    const ask = (name: string, type: number, opts: { unicastResponse?: boolean; minGapMs?: number } = {}): void => {
      const k = `${nameKey(name)}|${type}`;
      const last = this.lastAsked.get(k);
      if (questions.has(k) || (last !== undefined && now - last < (opts.minGapMs ?? QUERY_SECOND_INTERVAL_MS))) return;
      questions.set(k, { name, type, qclass: CLASS_IN, unicastResponse: opts.unicastResponse ?? false });
    };
    for (const e of this.cache.takeDueRefreshes(now)) {
      if (!this.wantsRefresh(e)) continue;
      // when the instance's PTR is itself past half its life, asking for the PTR brings SRV, TXT and
      // addresses back as additional records (RFC 6763 §12): one question instead of several
      const minGapMs = Math.min(QUERY_SECOND_INTERVAL_MS, e.originalTtl * 1000 * 0.025);
      if (e.rr.type !== 'PTR' && this.ptrIsStale(e, now)) {
        ask(this.opts.serviceName, RRType.PTR, { minGapMs });
        continue;
      }
      // An address lives as long as the SRV naming its host (both carry the host-record TTL) and
      // comes back with it as an additional record (§12): asking for the SRV refreshes both with
      // one question, and the second refresh, due a moment later, finds the question just asked.
      const srvOwner = e.rr.type === 'A' || e.rr.type === 'AAAA' ? this.srvOwnerOf(e.rr.name, now) : undefined;
      if (srvOwner) ask(srvOwner, RRType.SRV, { minGapMs });
      else ask(e.rr.name, typeCodeOf(e.rr), { minGapMs });
    }
    for (const inst of this.instances.values()) {
      if (inst.nextResolveAt > now) continue;
      for (const [name, type] of this.missingFor(inst, now)) ask(name, type);
      inst.resolveAttempts += 1;
      inst.nextResolveAt =
        inst.resolveAttempts >= MAX_RESOLVE_ATTEMPTS ? Infinity : now + 1000 * 2 ** (inst.resolveAttempts - 1);
      // no more asking: an instance that waited for an address is reported with what it has
      if (inst.resolveAttempts >= MAX_RESOLVE_ATTEMPTS) this.dirty.add(inst.key);
    }
    if (this.nextQueryAt <= now) {
      ask(this.opts.serviceName, RRType.PTR, { unicastResponse: this.firstQuery });
      this.firstQuery = false;
      this.queryIndex += 1;
      this.nextQueryAt = now + continuousQueryDelay(this.queryIndex, this.deps.random);
    }
    if (questions.size > 0) {
      for (const k of questions.keys()) this.lastAsked.set(k, now);
      if (this.lastAsked.size > 4 * this.opts.maxInstances) {
        for (const [k, at] of this.lastAsked) if (now - at >= QUERY_SECOND_INTERVAL_MS) this.lastAsked.delete(k);
      }
      this.sendQuestions([...questions.values()], now);
    }
    this.flush(now);
  }

  /** The name of an instance whose live SRV points at `host`, if any. */
  private srvOwnerOf(host: string, now: number): string | undefined {
    for (const k of this.targetRefs.get(nameKey(host)) ?? []) {
      const inst = this.instances.get(k);
      if (inst && this.cache.getSet(inst.name, RRType.SRV, CLASS_IN, now).some((x) => !x.goodbye)) return inst.name;
    }
    return undefined;
  }

  private ownerOf(e: CacheEntry): Instance | undefined {
    const rr = e.rr;
    if (rr.type === 'PTR') return this.instances.get(nameKey(rr.target));
    if (rr.type === 'SRV' || rr.type === 'TXT') return this.instances.get(nameKey(rr.name));
    return undefined;
  }

  private ptrIsStale(e: CacheEntry, now: number): boolean {
    const owners =
      e.rr.type === 'SRV' || e.rr.type === 'TXT'
        ? [this.ownerOf(e)]
        : [...(this.targetRefs.get(nameKey(e.rr.name)) ?? [])].map((k) => this.instances.get(k));
    return owners.some((o) => {
      const ptr = o ? this.cache.get(o.ptrKey) : undefined;
      return ptr !== undefined && !qualifiesAsKnownAnswer(ptr.expiresAt - now, ptr.originalTtl);
    });
  }

  /** Refresh only what a reported or pending peer needs; never our own records. */
  private wantsRefresh(e: CacheEntry): boolean {
    const rr = e.rr;
    let owners: Instance[] = [];
    if (rr.type === 'PTR' || rr.type === 'SRV' || rr.type === 'TXT') {
      const o = this.ownerOf(e);
      owners = o ? [o] : [];
    } else {
      for (const k of this.targetRefs.get(nameKey(rr.name)) ?? []) {
        const o = this.instances.get(k);
        if (o) owners.push(o);
      }
    }
    return owners.some((o) => o.role !== 'own' && o.role !== 'invalid');
  }

  private sendQuestions(questions: Question[], now: number): void {
    const known: ResourceRecord[] = [];
    for (const q of questions) known.push(...this.knownAnswersFor(q, now));
    const packets = buildQueryPackets(questions, known);
    this.deps.sendQuery(packets);
  }

  /** §7.1: cached answers to `q` with at least half their TTL left, with the remaining TTL. */
  knownAnswersFor(q: Pick<Question, 'name' | 'type'>, now: number): ResourceRecord[] {
    const out: ResourceRecord[] = [];
    for (const e of this.cache.getSet(q.name, q.type, CLASS_IN, now)) {
      if (e.goodbye || e.flushed) continue;
      const remaining = e.expiresAt - now;
      if (!qualifiesAsKnownAnswer(remaining, e.originalTtl)) continue;
      out.push({ ...e.rr, cacheFlush: false, ttl: Math.floor(remaining / 1000) });
    }
    return out;
  }

  /** What an instance still lacks: SRV/TXT, then the addresses of its target. */
  private missingFor(inst: Instance, now: number): Array<[string, number]> {
    const missing: Array<[string, number]> = [];
    if (!this.cache.get(inst.ptrKey)) return missing;
    const srv = this.cache.getSet(inst.name, RRType.SRV, CLASS_IN, now);
    const txt = this.cache.getSet(inst.name, RRType.TXT, CLASS_IN, now);
    if (srv.length === 0) missing.push([inst.name, RRType.SRV]);
    if (txt.length === 0) missing.push([inst.name, RRType.TXT]);
    for (const s of srv) {
      if (s.rr.type !== 'SRV') continue;
      const a = this.cache.getSet(s.rr.target, RRType.A, CLASS_IN, now);
      const aaaa = this.cache.getSet(s.rr.target, RRType.AAAA, CLASS_IN, now);
      if (a.length === 0 && aaaa.length === 0) missing.push([s.rr.target, RRType.A], [s.rr.target, RRType.AAAA]);
    }
    return missing;
  }

  private rearm(): void {
    if (!this.running) return;
    let at = Math.min(this.nextQueryAt, this.cache.nextDeadline());
    for (const inst of this.instances.values()) at = Math.min(at, inst.nextResolveAt);
    this.alarm.reset(at);
  }

  // -------------------------------------------------------------------------------------------
  // turning the cache into peers

  private flush(now: number): void {
    // reconciling may dirty other instances (a released claim promotes an alternate)
    for (let rounds = 0; this.dirty.size > 0 && rounds < 4; rounds++) {
      const keys = [...this.dirty];
      this.dirty.clear();
      for (const key of keys) this.reconcile(key, now);
    }
    this.dirty.clear();
    this.rearm();
  }

  /**
   * The current view of an instance from the cache, or why there is none.
   *
   * `departed`: the instance said goodbye (its PTR, or every SRV, arrived with TTL 0). The cache
   * keeps those records one more second as RFC 6762 §10.1 asks, so that a cooperating responder
   * can rescue them; the peer, though, is reported gone at once (the issue asks for a reaction to
   * goodbyes within a second) and comes back as a fresh `up` if a rescue arrives.
   */
  private evaluate(inst: Instance, now: number): { view?: DiscoveredPeer; gone: boolean; invalid?: string; departed?: boolean } {
    const ptr = this.cache.get(inst.ptrKey);
    if (!ptr || ptr.expiresAt <= now) return { gone: true };
    const srvs = this.cache.getSet(inst.name, RRType.SRV, CLASS_IN, now);
    if (ptr.goodbye || (srvs.length > 0 && srvs.every((e) => e.goodbye))) return { gone: false, departed: true };
    // Two hosts' SRV/TXT at one name coexist for a second after a conflict (§10.2 keeps records
    // younger than 1 s when flushing), ours among them: our own copy, looped back over the other
    // family a few ms later, must not turn the winner's instance into ours and back (down, up).
    const othersFirst = (entries: CacheEntry[]): CacheEntry[] => [
      ...entries.filter((e) => !this.ownSources.has(e.source)),
      ...entries.filter((e) => this.ownSources.has(e.source)),
    ];
    const srvEntry = othersFirst(srvs.filter((e) => !e.goodbye))[0];
    const txtEntry = othersFirst(this.cache.getSet(inst.name, RRType.TXT, CLASS_IN, now))[0];
    const targets = new Set<string>();
    for (const s of srvs) {
      if (s.rr.type === 'SRV') targets.add(nameKey(s.rr.target));
    }
    this.setTargets(inst, targets);
    if (!srvEntry || !txtEntry || srvEntry.rr.type !== 'SRV' || txtEntry.rr.type !== 'TXT') return { gone: false };
    const parsed = readClusterTxt([txtEntry.rr.strings]);
    if (!parsed.ok) {
      if (inst.invalidTxtKey !== txtEntry.key) {
        // once per distinct TXT record: the same record arrives with every announcement
        inst.invalidTxtKey = txtEntry.key;
        this.deps.counters.ignore('invalid-txt');
        this.drops.report({ instance: inst.name, reason: parsed.reason, problem: parsed.problem, source: txtEntry.source });
      }
      return { gone: false, invalid: parsed.reason };
    }
    const srv = srvEntry.rr;
    const addresses = new Set<string>();
    for (const t of [RRType.A, RRType.AAAA]) {
      for (const e of this.cache.getSet(srv.target, t, CLASS_IN, now)) {
        if (e.rr.type === 'A' || e.rr.type === 'AAAA') addresses.add(e.rr.address);
      }
    }
    const sorted = [...addresses].sort();
    let url = parsed.value.url;
    if (url === undefined) {
      // The seeds' layout (id and namespace in TXT, the address in SRV and A, as in unicast DNS-SD):
      // the API server is the SRV target's address and port. A link-local IPv6 address needs a zone
      // a URL cannot carry, so then the target's name is used, as it is when no address comes.
      const usable = sorted.find((a) => !a.includes(':')) ?? sorted.find((a) => !isIPv6LinkLocal(parseIPv6(a) ?? new Uint8Array(0)));
      if (usable === undefined && inst.resolveAttempts < MAX_RESOLVE_ATTEMPTS) return { gone: false };
      url = apiUrlFor(usable ?? srv.target, srv.port);
    }
    const view: DiscoveredPeer = {
      instance: inst.name,
      clusterID: parsed.value.clusterID,
      namespace: parsed.value.namespace,
      url,
      port: srv.port,
      host: srv.target,
      addresses: sorted,
      ttl: srvEntry.originalTtl,
      sourceAddress: txtEntry.source,
      interface: txtEntry.link,
    };
    if (parsed.value.clusterName !== undefined) view.name = parsed.value.clusterName;
    return { view, gone: false };
  }

  private setTargets(inst: Instance, targets: Set<string>): void {
    for (const t of inst.targets) {
      if (!targets.has(t)) {
        const refs = this.targetRefs.get(t);
        refs?.delete(inst.key);
        if (refs && refs.size === 0) this.targetRefs.delete(t);
      }
    }
    for (const t of targets) this.addTargetRef(t, inst.key);
    inst.targets = targets;
  }

  private reconcile(key: string, now: number): void {
    const inst = this.instances.get(key);
    if (!inst) return;
    const { view, gone, invalid, departed } = this.evaluate(inst, now);
    const previous = inst.view;
    if (!view) {
      if (departed) inst.removalReason = 'goodbye';
      if (inst.role === 'primary' && previous) this.release(previous.clusterID, inst);
      inst.view = undefined;
      inst.role = invalid ? 'invalid' : 'pending';
      if (gone) {
        this.setTargets(inst, new Set());
        this.instances.delete(key);
      } else if (!invalid && !departed && inst.resolveAttempts < MAX_RESOLVE_ATTEMPTS && !Number.isFinite(inst.nextResolveAt)) {
        // ask for what did not come with the PTR, after the usual 20–120 ms
        inst.nextResolveAt = now + continuousQueryDelay(0, this.deps.random);
      }
      return;
    }
    inst.nextResolveAt = Infinity;
    inst.removalReason = undefined;
    if (this.missingFor(inst, now).length > 0 && inst.resolveAttempts < MAX_RESOLVE_ATTEMPTS) {
      inst.nextResolveAt = now + continuousQueryDelay(0, this.deps.random);
    }
    // the same instance now claims another ID: let go of the old one first
    if (inst.role === 'primary' && previous && previous.clusterID !== view.clusterID) {
      this.release(previous.clusterID, inst);
      inst.role = 'pending';
    }
    inst.view = view;

    if (view.clusterID === this.opts.ownClusterID) {
      if (inst.role !== 'own') this.deps.counters.ignore('own-id');
      inst.role = 'own';
      const ownUrl = this.opts.ownUrl;
      const isOurs = this.opts.ownInstance !== undefined && nameKey(this.opts.ownInstance) === key;
      if (ownUrl && !sameApiServer(view.url, ownUrl) && !isOurs) this.reportConflict(inst, view, { instance: this.opts.ownInstance ?? '', url: ownUrl }, true);
      return;
    }

    const claimKey = this.claims.get(view.clusterID);
    if (claimKey === undefined) {
      this.claims.set(view.clusterID, key);
      inst.role = 'primary';
      this.deps.emit({ type: 'up', peer: { ...view } });
      return;
    }
    if (claimKey === key) {
      inst.role = 'primary';
      if (previous) {
        const changed = samePeer(previous, view);
        if (changed.length > 0) this.deps.emit({ type: 'update', peer: { ...view, changed } });
      }
      return;
    }
    // another instance already speaks for this cluster ID
    inst.role = 'alternate';
    const primary = this.instances.get(claimKey);
    const primaryView = primary?.view;
    if (!primary || !primaryView) return;
    if (primaryView.url === view.url) return; // same cluster seen under a second name
    if (this.isDeparting(primary)) return; // it said goodbye; we may take over once it is gone
    if (this.reportConflict(inst, view, { instance: primaryView.instance, url: primaryView.url }, false)) {
      this.deps.log.warn(
        { clusterID: view.clusterID, instance: view.instance, url: view.url, existing: primaryView.instance },
        'an mDNS announcement claims a known cluster ID with a different URL; keeping the first',
      );
    }
  }

  /** Reports, once per URL, an instance claiming a cluster ID that `existing` (or we, `own`) speak for. */
  private reportConflict(inst: Instance, view: DiscoveredPeer, existing: { instance: string; url: string }, own: boolean): boolean {
    if (inst.conflictReportedFor === view.url) return false;
    inst.conflictReportedFor = view.url;
    this.deps.emit({
      type: 'conflict',
      conflict: { clusterID: view.clusterID, instance: view.instance, url: view.url, sourceAddress: view.sourceAddress, existing, own },
    });
    return true;
  }

  private isDeparting(inst: Instance): boolean {
    const ptr = this.cache.get(inst.ptrKey);
    return !ptr || ptr.goodbye;
  }

  /**
   * The instance reporting `clusterID` is gone or changed. An alternate with the same URL takes
   * over silently (an `update`); otherwise `down`, then an `up` for any other live alternate.
   */
  private release(clusterID: string, inst: Instance): void {
    if (this.claims.get(clusterID) !== inst.key) return;
    this.claims.delete(clusterID);
    const old = inst.view;
    const alternates = [...this.instances.values()].filter(
      (i) => i !== inst && i.role === 'alternate' && i.view?.clusterID === clusterID && !this.isDeparting(i),
    );
    const successor = alternates.find((i) => i.view!.url === old?.url) ?? alternates[0];
    if (successor && old && successor.view!.url === old.url) {
      this.claims.set(clusterID, successor.key);
      successor.role = 'primary';
      const changed = samePeer(old, successor.view!);
      this.deps.emit({ type: 'update', peer: { ...successor.view!, changed } });
      return;
    }
    this.deps.emit({
      type: 'down',
      down: { clusterID, instance: inst.name, reason: inst.removalReason ?? 'expired' },
    });
    if (successor) {
      successor.role = 'pending';
      this.dirty.add(successor.key);
    }
  }
}
