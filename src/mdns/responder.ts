/**
 * The advertising half of LAN discovery (RFC 6762 §6–§10): probe, announce, answer, defend,
 * rename on conflict, update and say goodbye, for one `<name>-<short id>._liqo._tcp.local.`
 * instance and its host name.
 *
 * No sockets: packets come in through `handleQuery`/`handleResponse` and leave through `deps.send`;
 * time comes from the injected clock. One state machine for all links; per-link address records
 * (RFC 6762 §14) and per-link multicast rate limits.
 */
import type { Logger } from 'pino';
import { Alarm, type Clock, type Random } from './clock.js';
import {
  ANNOUNCE_COUNT,
  CLASS_IN,
  LEGACY_UNICAST_MAX_TTL_SECONDS,
  MULTICAST_RATE_LIMIT_MS,
  PROBE_COUNT,
  PROBE_DEFENCE_RATE_LIMIT_MS,
  PROBE_DEFER_MS,
  PROBE_INTERVAL_MS,
  RRType,
} from './constants.js';
import {
  RESPONSE_FLAGS,
  isTruncated,
  rdataKey,
  recordKey,
  typeCodeOf,
  type DnsPacket,
  type Question,
  type ResourceRecord,
} from './codec.js';
import type { MdnsCounters } from './counters.js';
import { indexKnownAnswers, isSuppressed, type KnownAnswerIndex } from './knownAnswers.js';
import { hostLabelWithSuffix, instanceLabelWithSuffix, nameKey } from './names.js';
import { answersQuestion, buildRecordSet, recordsOf, tieBreak, withTtl, type AdvertisementSpec, type LinkAddresses, type RecordSet } from './records.js';
import { announceGap, conflictBackoff, initialProbeDelay, responseDelay } from './schedule.js';
import type { AdvertisementStatus, RenameEvent } from './types.js';

export type Family = 'IPv4' | 'IPv6';

export interface LinkState extends LinkAddresses {
  name: string;
}

export type SendTarget =
  | { kind: 'multicast'; link: string; family: Family | 'both' }
  | { kind: 'unicast'; link: string; family: Family; address: string; port: number };

export type ResponderEvent =
  | { type: 'renamed'; rename: RenameEvent }
  | { type: 'announced'; status: AdvertisementStatus }
  | { type: 'withdrawn'; instance: string };

export interface ResponderDeps {
  clock: Clock;
  random: Random;
  counters: MdnsCounters;
  log: Logger;
  emit(event: ResponderEvent): void;
  send(packet: DnsPacket, target: SendTarget, kind: 'probe' | 'announcement' | 'goodbye' | 'response'): void;
}

export interface QueryMeta {
  source: string;
  port: number;
  link: string;
  family: Family;
  /** Our own multicast looped back to us. */
  fromSelf: boolean;
}

export interface ResponderOptions {
  /** The UDP port mDNS uses (5353); queries from other ports are legacy unicast (§6.7). */
  mdnsPort: number;
}

type Phase = 'idle' | 'probing' | 'announcing' | 'announced';

/** The labels we want (from configuration) and the ones we use after conflict renames. */
interface Naming {
  instanceBase: string;
  hostBase: string;
  instanceN: number;
  hostN: number;
}

interface PendingAnswer {
  answers: Map<string, ResourceRecord>;
  additionals: Map<string, ResourceRecord>;
  timer: ReturnType<Clock['setTimer']>;
  dueAt: number;
}

interface TruncatedQuery {
  /** The query's message ID, echoed in legacy unicast replies (§6.7). */
  id: number;
  link: string;
  family: Family;
  source: string;
  known: KnownAnswerIndex;
  questions: Question[];
  isProbe: boolean;
}

export class Responder {
  private phase: Phase = 'idle';
  private spec: Omit<AdvertisementSpec, 'instanceLabel' | 'hostLabel'> | undefined;
  private naming: Naming | undefined;
  private links: LinkState[] = [];
  private readonly alarm: Alarm;
  private step = 0;
  /** What we last multicast per link (to say goodbye to what changes or disappears). */
  private published = new Map<string, ResourceRecord[]>();
  /** link|family|record key -> last multicast time (§6 rate limit). */
  private readonly lastMulticast = new Map<string, number>();
  private readonly pending = new Map<string, PendingAnswer>();
  private readonly truncated = new Map<string, { query: TruncatedQuery; timer: ReturnType<Clock['setTimer']> }>();
  private conflictHistory: number[] = [];
  /** Record sets built for the current spec and names, by link addresses (rebuilt on change). */
  private readonly memo = new Map<string, RecordSet>();
  private byName: Map<string, ResourceRecord[]> | undefined;

  constructor(
    private readonly deps: ResponderDeps,
    private readonly opts: ResponderOptions,
  ) {
    this.alarm = new Alarm(deps.clock, () => this.onAlarm());
  }

  // -------------------------------------------------------------------------------------------
  // control

  status(): AdvertisementStatus | undefined {
    if (this.phase === 'idle' || !this.spec || !this.naming) return undefined;
    const set = this.recordSet({ ipv4: [], ipv6: [] });
    return { instance: set.instanceName, host: set.hostName, phase: this.phase };
  }

  /**
   * Advertise (or change the advertisement). New names: goodbye for the old ones, then probe.
   * Same names, new rdata (port, TXT, TTL): re-announce (RFC 6762 §8.4). `null` withdraws.
   */
  advertise(
    desired: (Omit<AdvertisementSpec, 'instanceLabel' | 'hostLabel'> & { instanceBase: string; hostBase: string }) | null,
  ): void {
    if (!desired) {
      this.withdraw();
      return;
    }
    const { instanceBase, hostBase, ...spec } = desired;
    const namesChanged =
      !this.naming ||
      this.naming.instanceBase !== instanceBase ||
      this.naming.hostBase !== hostBase ||
      !this.spec ||
      nameKey(this.spec.service) !== nameKey(spec.service) ||
      nameKey(this.spec.domain) !== nameKey(spec.domain);
    if (namesChanged) {
      this.withdraw();
      this.spec = spec;
      this.naming = { instanceBase, hostBase, instanceN: 1, hostN: 1 };
      this.invalidate();
      this.startProbing(initialProbeDelay(this.deps.random));
      return;
    }
    const before = this.spec;
    this.spec = spec;
    this.invalidate();
    if (JSON.stringify(before) === JSON.stringify(spec)) return;
    if (this.phase === 'announcing' || this.phase === 'announced') this.startAnnouncing();
  }

  /** Goodbye (TTL 0) for everything we announced, then idle. */
  withdraw(): void {
    const wasAnnounced = this.phase === 'announcing' || this.phase === 'announced';
    const status = this.status();
    if (wasAnnounced) {
      for (const [link, records] of this.published) {
        if (!this.links.some((l) => l.name === link)) continue;
        this.sendGoodbye(link, records);
      }
    }
    this.alarm.cancel();
    this.cancelPending();
    this.published.clear();
    this.phase = 'idle';
    this.spec = undefined;
    this.naming = undefined;
    this.invalidate();
    if (wasAnnounced && status) this.deps.emit({ type: 'withdrawn', instance: status.instance });
  }

  /**
   * The links (and their addresses) changed. A new link means probing again (RFC 6762 §8, §13);
   * addresses that went away get a goodbye; new addresses are announced.
   */
  setLinks(links: LinkState[]): void {
    const before = new Map(this.links.map((l) => [l.name, l]));
    this.links = links.map((l) => ({ name: l.name, ipv4: [...l.ipv4], ipv6: [...l.ipv6] }));
    this.byName = undefined;
    // a link we leave gets a goodbye while it can still be sent (the caller updates sockets after)
    for (const [link, records] of [...this.published]) {
      if (links.some((l) => l.name === link)) continue;
      if (this.phase === 'announcing' || this.phase === 'announced') this.sendGoodbye(link, records);
      this.published.delete(link);
    }
    if (this.phase === 'idle') return;
    const added = links.some((l) => !before.has(l.name));
    if (added) {
      this.startProbing(initialProbeDelay(this.deps.random));
      return;
    }
    let changed = false;
    for (const l of links) {
      const old = before.get(l.name)!;
      if (old.ipv4.join() === l.ipv4.join() && old.ipv6.join() === l.ipv6.join()) continue;
      changed = true;
      if (this.phase !== 'announced' && this.phase !== 'announcing') continue;
      const current = new Set(this.recordSet(l).addresses.map(recordKey));
      const gone = (this.published.get(l.name) ?? []).filter((rr) => (rr.type === 'A' || rr.type === 'AAAA') && !current.has(recordKey(rr)));
      if (gone.length > 0) this.sendGoodbye(l.name, gone);
    }
    if (changed && (this.phase === 'announced' || this.phase === 'announcing')) this.startAnnouncing();
  }

  // -------------------------------------------------------------------------------------------
  // state machine

  private invalidate(): void {
    this.memo.clear();
    this.byName = undefined;
  }

  private recordSet(addresses: LinkAddresses): RecordSet {
    const key = `${addresses.ipv4.join(',')}|${addresses.ipv6.join(',')}`;
    const hit = this.memo.get(key);
    if (hit) return hit;
    if (this.memo.size > 16) this.memo.clear();
    const set = this.buildSet(addresses);
    this.memo.set(key, set);
    return set;
  }

  private buildSet(addresses: LinkAddresses): RecordSet {
    const spec = this.spec!;
    const n = this.naming!;
    return buildRecordSet(
      {
        ...spec,
        instanceLabel: instanceLabelWithSuffix(n.instanceBase, n.instanceN),
        hostLabel: hostLabelWithSuffix(n.hostBase, n.hostN),
      },
      addresses,
    );
  }

  private startProbing(delay: number): void {
    const now = this.deps.clock.now();
    const backoff = conflictBackoff(this.conflictHistory, now);
    this.conflictHistory = backoff.history;
    this.cancelPending();
    this.phase = 'probing';
    this.step = 0;
    this.alarm.reset(now + Math.max(delay, backoff.delay));
  }

  private startAnnouncing(): void {
    this.phase = 'announcing';
    this.step = 0;
    this.alarm.reset(this.deps.clock.now());
  }

  private onAlarm(): void {
    const now = this.deps.clock.now();
    if (this.phase === 'probing') {
      if (this.step < PROBE_COUNT) {
        this.sendProbes();
        this.step += 1;
        this.alarm.reset(now + PROBE_INTERVAL_MS);
        return;
      }
      // 250 ms after the third probe without a conflict: the names are ours
      this.startAnnouncing();
      return;
    }
    if (this.phase === 'announcing') {
      this.sendAnnouncements(this.step === 0);
      this.step += 1;
      if (this.step >= ANNOUNCE_COUNT) {
        this.phase = 'announced';
        return;
      }
      this.alarm.reset(now + announceGap(this.step));
    }
  }

  private sendProbes(): void {
    for (const link of this.links) {
      const set = this.recordSet(link);
      // §8.1: probes ask for unicast replies (QU), so a defender answers us without flooding the link
      const questions: Question[] = [
        { name: set.instanceName, type: RRType.ANY, qclass: CLASS_IN, unicastResponse: true },
      ];
      const authorities: ResourceRecord[] = [set.srv, set.txt].map((r) => ({ ...r, cacheFlush: false }));
      if (set.addresses.length > 0) {
        questions.push({ name: set.hostName, type: RRType.ANY, qclass: CLASS_IN, unicastResponse: true });
        authorities.push(...set.addresses.map((r) => ({ ...r, cacheFlush: false })));
      }
      this.deps.send(
        { id: 0, flags: 0, questions, answers: [], authorities, additionals: [] },
        { kind: 'multicast', link: link.name, family: 'both' },
        'probe',
      );
    }
  }

  private sendAnnouncements(first: boolean): void {
    const now = this.deps.clock.now();
    for (const link of this.links) {
      const set = this.recordSet(link);
      const records = recordsOf(set);
      const previous = this.published.get(link.name) ?? [];
      // shared records whose rdata changed get a goodbye first (§8.4); unique ones are flushed
      const current = new Set(records.map(recordKey));
      const staleShared = previous.filter((rr) => !rr.cacheFlush && !current.has(recordKey(rr)));
      if (staleShared.length > 0) this.sendGoodbye(link.name, staleShared);
      this.deps.send(
        { id: 0, flags: RESPONSE_FLAGS, questions: [], answers: records, authorities: [], additionals: [] },
        { kind: 'multicast', link: link.name, family: 'both' },
        'announcement',
      );
      for (const fam of ['IPv4', 'IPv6'] as const) this.noteMulticast(link.name, fam, records, now);
      this.published.set(link.name, records);
    }
    if (first && this.links.length > 0) {
      const status = this.status();
      if (status) this.deps.emit({ type: 'announced', status: { ...status, phase: 'announcing' } });
    }
  }

  private sendGoodbye(link: string, records: ResourceRecord[]): void {
    if (records.length === 0) return;
    this.deps.send(
      {
        id: 0,
        flags: RESPONSE_FLAGS,
        questions: [],
        answers: records.map((r) => withTtl(r, 0)),
        authorities: [],
        additionals: [],
      },
      { kind: 'multicast', link, family: 'both' },
      'goodbye',
    );
  }

  private noteMulticast(link: string, family: Family, records: ResourceRecord[], now: number): void {
    if (this.lastMulticast.size > 512) {
      // forget what is too old to matter (renames and address changes leave stale keys behind)
      for (const [k, at] of this.lastMulticast) if (now - at > 60_000) this.lastMulticast.delete(k);
    }
    for (const rr of records) this.lastMulticast.set(`${link}|${family}|${recordKey(rr)}`, now);
  }

  private recentlyMulticast(link: string, family: Family, rr: ResourceRecord, now: number, windowMs: number): boolean {
    const at = this.lastMulticast.get(`${link}|${family}|${recordKey(rr)}`);
    return at !== undefined && now - at < windowMs;
  }

  private cancelPending(): void {
    for (const p of this.pending.values()) this.deps.clock.clearTimer(p.timer);
    this.pending.clear();
    for (const t of this.truncated.values()) this.deps.clock.clearTimer(t.timer);
    this.truncated.clear();
  }

  // -------------------------------------------------------------------------------------------
  // conflicts

  /** Every name we hold or are probing for, with all of our rdata for it (all links). */
  private ourRecordsByName(): Map<string, ResourceRecord[]> {
    if (this.byName) return this.byName;
    const byName = new Map<string, ResourceRecord[]>();
    const sets = this.links.length > 0 ? this.links.map((l) => this.recordSet(l)) : [this.recordSet({ ipv4: [], ipv6: [] })];
    for (const set of sets) {
      for (const rr of [set.srv, set.txt, ...set.addresses]) {
        const k = nameKey(rr.name);
        const list = byName.get(k) ?? [];
        if (!list.some((x) => recordKey(x) === recordKey(rr))) list.push(rr);
        byName.set(k, list);
      }
    }
    this.byName = byName;
    return byName;
  }

  private isOurs(rr: ResourceRecord, ours: ResourceRecord[]): boolean {
    return ours.some((o) => typeCodeOf(o) === typeCodeOf(rr) && rdataKey(o) === rdataKey(rr));
  }

  private onConflict(name: string, detail: Record<string, unknown>): void {
    if (!this.naming || !this.spec) return;
    const now = this.deps.clock.now();
    this.conflictHistory.push(now);
    this.deps.counters.conflicts += 1;
    const set = this.recordSet({ ipv4: [], ipv6: [] });
    const key = nameKey(name);
    let rename: RenameEvent | undefined;
    if (key === nameKey(set.instanceName)) {
      this.naming.instanceN += 1;
      this.invalidate();
      rename = { kind: 'instance', from: set.instanceName, to: this.recordSet({ ipv4: [], ipv6: [] }).instanceName };
    } else if (key === nameKey(set.hostName)) {
      this.naming.hostN += 1;
      this.invalidate();
      rename = { kind: 'host', from: set.hostName, to: this.recordSet({ ipv4: [], ipv6: [] }).hostName };
    }
    if (!rename) return;
    this.forgetPublished(rename.from);
    this.deps.counters.renames += 1;
    this.deps.log.info({ ...detail, from: rename.from, to: rename.to }, 'mDNS name conflict; renaming and probing again');
    this.deps.emit({ type: 'renamed', rename });
    this.startProbing(initialProbeDelay(this.deps.random));
  }

  /**
   * §9: the name we lost is the winner's now. `_liqo._tcp.local PTR <that name>` is the winner's live
   * record too (a shared record with the same rdata), so a goodbye for it, sent by the next
   * announcement's "goodbye for changed shared records" or by a withdrawal, would remove the winner
   * from every browser. Records at or pointing to the lost name leave our list without a goodbye.
   */
  private forgetPublished(lostName: string): void {
    const lost = nameKey(lostName);
    for (const [link, records] of this.published) {
      this.published.set(
        link,
        records.filter((rr) => nameKey(rr.name) !== lost && !(rr.type === 'PTR' && nameKey(rr.target) === lost)),
      );
    }
  }

  /** Responses: a conflicting record for a name we probe for or hold (§8.1, §9). */
  handleResponse(packet: DnsPacket, meta: QueryMeta): void {
    if (this.phase === 'idle') return;
    const ours = this.ourRecordsByName();
    for (const rr of [...packet.answers, ...packet.additionals]) {
      if (rr.ttl === 0 || rr.rrclass !== CLASS_IN) continue;
      const mine = ours.get(nameKey(rr.name));
      if (!mine || this.isOurs(rr, mine)) continue;
      if (this.phase === 'probing') {
        // any other record with a name we probe for: someone already owns it
        this.onConflict(rr.name, { source: meta.source, record: rr.type });
        return;
      }
      // after announcing only a same-type record with different rdata conflicts; probe again (§9)
      if (mine.some((o) => typeCodeOf(o) === typeCodeOf(rr))) {
        this.deps.counters.conflicts += 1;
        this.conflictHistory.push(this.deps.clock.now());
        this.deps.log.info({ source: meta.source, name: rr.name, record: rr.type }, 'conflicting mDNS record seen; probing again');
        this.startProbing(0);
        return;
      }
    }
  }

  /** Queries: simultaneous-probe tie-break (§8.2) and answers (§6, §7). */
  handleQuery(packet: DnsPacket, meta: QueryMeta): void {
    if (this.phase === 'idle') return;
    if (this.phase === 'probing') {
      this.tieBreakAgainst(packet, meta);
      return;
    }
    // a continuation of a truncated query from this source (§7.2): more known answers
    const tcKey = `${meta.link}|${meta.family}|${meta.source}|${meta.port}`;
    const tc = this.truncated.get(tcKey);
    if (tc && packet.questions.length === 0) {
      indexKnownAnswers(packet.answers, tc.query.known);
      if (isTruncated(packet)) return;
      this.deps.clock.clearTimer(tc.timer);
      this.truncated.delete(tcKey);
      this.answer(tc.query, meta);
      return;
    }
    if (packet.questions.length === 0) return;
    const query: TruncatedQuery = {
      id: packet.id,
      link: meta.link,
      family: meta.family,
      source: meta.source,
      known: indexKnownAnswers(packet.answers),
      questions: packet.questions,
      // §8.1/§8.2: a probe proposes records in Authority for the names it asks about; a query with
      // an Authority section about other names (some stacks send one) is an ordinary query
      isProbe: packet.authorities.length > 0 && packet.questions.some((q) => this.ourRecordsByName().has(nameKey(q.name))),
    };
    // §7.2: more known answers follow; wait 400–500 ms for them before answering
    if (isTruncated(packet) && meta.port === this.opts.mdnsPort) {
      if (this.truncated.size >= 64) return;
      const timer = this.deps.clock.setTimer(() => {
        const t = this.truncated.get(tcKey);
        if (!t) return;
        this.truncated.delete(tcKey);
        this.answer(t.query, meta);
      }, responseDelay('truncated', this.deps.random));
      this.truncated.set(tcKey, { query, timer });
      return;
    }
    this.answer(query, meta);
  }

  private tieBreakAgainst(packet: DnsPacket, meta: QueryMeta): void {
    if (packet.authorities.length === 0) return;
    const set = this.recordSet(this.links.find((l) => l.name === meta.link) ?? { ipv4: [], ipv6: [] });
    const oursByName = new Map<string, ResourceRecord[]>([
      [nameKey(set.instanceName), [set.srv, set.txt]],
      [nameKey(set.hostName), set.addresses],
    ]);
    for (const q of packet.questions) {
      const ours = oursByName.get(nameKey(q.name));
      if (!ours || ours.length === 0) continue;
      const theirs = packet.authorities.filter((rr) => nameKey(rr.name) === nameKey(q.name));
      if (theirs.length === 0) continue;
      const cmp = tieBreak(ours, theirs);
      if (cmp < 0) {
        // we lose: defer one second and probe again; the winner will defend the name if it keeps it
        this.deps.log.debug({ name: q.name, source: meta.source }, 'lost a simultaneous-probe tie-break; deferring');
        this.startProbing(PROBE_DEFER_MS);
        return;
      }
    }
  }

  private answer(query: TruncatedQuery, meta: QueryMeta): void {
    if (this.phase !== 'announcing' && this.phase !== 'announced') return;
    const link = this.links.find((l) => l.name === meta.link);
    if (!link) return;
    const now = this.deps.clock.now();
    const set = this.recordSet(link);
    const all = recordsOf(set);
    const answers = new Map<string, ResourceRecord>();
    const additionals = new Map<string, ResourceRecord>();
    const legacy = meta.port !== this.opts.mdnsPort;
    for (const q of query.questions) {
      for (const rr of all) {
        if (!answersQuestion(rr, q)) continue;
        if (isSuppressed(rr, query.known)) {
          this.deps.counters.suppressedAnswers += 1;
          continue;
        }
        answers.set(recordKey(rr), rr);
      }
    }
    if (answers.size === 0) return;
    // RFC 6763 §12: a PTR answer brings SRV, TXT and addresses; an SRV answer brings addresses
    for (const rr of answers.values()) {
      const extra: ResourceRecord[] =
        rr.type === 'PTR' && nameKey(rr.name) === nameKey(set.serviceName)
          ? [set.srv, set.txt, ...set.addresses]
          : rr.type === 'SRV'
            ? set.addresses
            : [];
      for (const x of extra) {
        const k = recordKey(x);
        if (!answers.has(k) && !isSuppressed(x, query.known)) additionals.set(k, x);
      }
    }

    if (legacy) {
      // §6.7: a conventional unicast reply to the source port, id and questions echoed, short TTLs
      const cap = (rr: ResourceRecord): ResourceRecord => ({
        ...rr,
        cacheFlush: false,
        ttl: Math.min(rr.ttl, LEGACY_UNICAST_MAX_TTL_SECONDS),
      });
      this.deps.send(
        {
          id: query.id,
          flags: RESPONSE_FLAGS,
          questions: query.questions.map((q) => ({ ...q, unicastResponse: false })),
          answers: [...answers.values()].map(cap),
          authorities: [],
          additionals: [...additionals.values()].map(cap),
        },
        { kind: 'unicast', link: meta.link, family: meta.family, address: meta.source, port: meta.port },
        'response',
      );
      return;
    }

    // §5.4: QU questions get a unicast reply when we multicast the record within a quarter TTL
    const wantsUnicast = query.questions.every((q) => q.unicastResponse);
    if (wantsUnicast && [...answers.values()].every((rr) => this.recentlyMulticast(meta.link, meta.family, rr, now, (rr.ttl * 1000) / 4))) {
      this.deps.send(
        { id: 0, flags: RESPONSE_FLAGS, questions: [], answers: [...answers.values()], authorities: [], additionals: [...additionals.values()] },
        { kind: 'unicast', link: meta.link, family: meta.family, address: meta.source, port: meta.port },
        'response',
      );
      return;
    }

    // §6: at most one multicast of a record per second per link (250 ms when a unique record of ours
    // defends it against a probe)
    const defending = (rr: ResourceRecord): boolean => query.isProbe && rr.cacheFlush;
    for (const [k, rr] of answers) {
      if (this.recentlyMulticast(meta.link, meta.family, rr, now, defending(rr) ? PROBE_DEFENCE_RATE_LIMIT_MS : MULTICAST_RATE_LIMIT_MS)) {
        answers.delete(k);
        this.deps.counters.rateLimitedAnswers += 1;
      }
    }
    // the defence goes out at once (§6: unique answers are not delayed); shared records in the same
    // answer wait their 20-120 ms like any other, so many responders do not answer in one burst
    const defence = new Map([...answers].filter(([, rr]) => defending(rr)));
    if (defence.size > 0) {
      this.multicastAnswer(meta.link, meta.family, defence, new Map());
      for (const k of defence.keys()) answers.delete(k);
    }
    if (answers.size === 0) return;
    const shared = [...answers.values()].some((rr) => !rr.cacheFlush);
    const delay = responseDelay(shared ? 'shared' : 'unique', this.deps.random);
    if (delay <= 0) {
      this.multicastAnswer(meta.link, meta.family, answers, additionals);
      return;
    }
    // aggregate answers due on the same link within the delay window (§6.3)
    const pkey = `${meta.link}|${meta.family}`;
    const p = this.pending.get(pkey);
    if (p) {
      for (const [k, rr] of answers) p.answers.set(k, rr);
      for (const [k, rr] of additionals) if (!p.answers.has(k)) p.additionals.set(k, rr);
      return;
    }
    const timer = this.deps.clock.setTimer(() => {
      const due = this.pending.get(pkey);
      if (!due) return;
      this.pending.delete(pkey);
      this.multicastAnswer(meta.link, meta.family, due.answers, due.additionals);
    }, delay);
    this.pending.set(pkey, { answers, additionals, timer, dueAt: now + delay });
  }

  private multicastAnswer(
    link: string,
    family: Family,
    answers: Map<string, ResourceRecord>,
    additionals: Map<string, ResourceRecord>,
  ): void {
    if (this.phase !== 'announcing' && this.phase !== 'announced') return;
    if (!this.links.some((l) => l.name === link)) return;
    const now = this.deps.clock.now();
    for (const k of answers.keys()) additionals.delete(k);
    const ans = [...answers.values()];
    const add = [...additionals.values()];
    this.deps.send(
      { id: 0, flags: RESPONSE_FLAGS, questions: [], answers: ans, authorities: [], additionals: add },
      { kind: 'multicast', link, family },
      'response',
    );
    this.noteMulticast(link, family, [...ans, ...add], now);
  }

  /** For tests and status: the records we would publish on a link. */
  recordsFor(link: LinkAddresses): ResourceRecord[] {
    if (!this.spec || !this.naming) return [];
    return recordsOf(this.recordSet(link));
  }
}
