/**
 * The mDNS engine: everything between a datagram and an event, without sockets. It checks each
 * datagram (size, on-link source, rate, decoding, opcode, source port) and counts every drop by
 * reason, hands queries and responses to the responder and the browser, and encodes what they
 * send into datagrams for a `PacketSink` (the socket edge, or an in-memory LAN in tests).
 */
import type { Logger } from 'pino';
import { Browser, type BrowserEvent } from './browser.js';
import type { Clock, Random } from './clock.js';
import { MAX_PACKET_BYTES } from './constants.js';
import { decodePacket, encodePacket, isResponse, opcodeOf, rcodeOf, type DnsPacket } from './codec.js';
import { MdnsCounters } from './counters.js';
import { isOwnAddress, linkForSource, type Link } from './links.js';
import { DEFAULT_RATE_LIMITS, PacketRateLimiter, type RateLimitOptions } from './rateLimit.js';
import { Responder, type Family, type ResponderEvent, type SendTarget } from './responder.js';
import { isIPv6LinkLocal, parseIPv6 } from './ip.js';
import type { AdvertisementSpec } from './records.js';
import type { DiscoveredPeer, AdvertisementStatus } from './types.js';

export type { Family, SendTarget };

export type EngineEvent = BrowserEvent | ResponderEvent;

/** One datagram as it arrived. */
export interface Datagram {
  data: Uint8Array;
  address: string;
  port: number;
  family: Family;
}

/** Where encoded datagrams go: the socket edge, or a simulated LAN. */
export interface PacketSink {
  send(data: Uint8Array, target: { link: string; family: Family; address?: string; port?: number }): void;
  /** The families that can send on a link now; all the link's families when absent. */
  families?(link: string): Family[];
}

export interface EngineLimits {
  maxInstances: number;
  maxRecords: number;
  maxRecordsPerSet: number;
  maxPacketBytes: number;
  rate: RateLimitOptions;
}

export const DEFAULT_LIMITS: EngineLimits = {
  maxInstances: 256,
  maxRecords: 2048,
  maxRecordsPerSet: 16,
  maxPacketBytes: MAX_PACKET_BYTES,
  rate: DEFAULT_RATE_LIMITS,
};

export interface EngineOptions {
  clock: Clock;
  random: Random;
  log: Logger;
  mdnsPort: number;
  limits?: Partial<EngineLimits>;
  goodbyeGraceMs?: number;
}

export interface BrowseSettings {
  serviceName: string;
  ownClusterID: string;
  ownUrl?: string;
  ownInstance?: string;
}

export type AdvertiseSettings = Omit<AdvertisementSpec, 'instanceLabel' | 'hostLabel'> & {
  instanceBase: string;
  hostBase: string;
};

export class MdnsEngine {
  readonly counters = new MdnsCounters();
  private links: Link[] = [];
  private readonly responder: Responder;
  private browser: Browser | undefined;
  private browseSettings: BrowseSettings | undefined;
  private readonly limiter: PacketRateLimiter;
  private readonly limits: EngineLimits;

  constructor(
    private readonly opts: EngineOptions,
    private readonly sink: PacketSink,
    private readonly onEvent: (event: EngineEvent) => void,
  ) {
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits, rate: { ...DEFAULT_LIMITS.rate, ...opts.limits?.rate } };
    this.limiter = new PacketRateLimiter(this.limits.rate);
    this.responder = new Responder(
      {
        clock: opts.clock,
        random: opts.random,
        counters: this.counters,
        log: opts.log,
        emit: (e) => this.emit(e),
        send: (packet, target, kind) => this.sendPacket(packet, target, kind),
      },
      { mdnsPort: opts.mdnsPort },
    );
  }

  private emit(e: EngineEvent): void {
    try {
      this.onEvent(e);
    } catch (err) {
      this.opts.log.error({ err }, 'LAN discovery event listener threw');
    }
  }

  // -------------------------------------------------------------------------------------------
  // control

  /**
   * The links changed. Call this before closing the sockets of removed links: the responder says
   * goodbye on them first.
   */
  setLinks(links: Link[]): void {
    const before = JSON.stringify(this.links.map((l) => l.name));
    // known links stay known until the responder is done with them (goodbyes on removed links)
    const union = [...this.links.filter((l) => !links.some((n) => n.name === l.name)), ...links];
    this.links = union;
    this.responder.setLinks(
      links.map((l) => ({ name: l.name, ipv4: l.ipv4.map((a) => a.address), ipv6: l.ipv6.map((a) => a.address) })),
    );
    this.links = links;
    if (JSON.stringify(links.map((l) => l.name)) !== before) this.browser?.restartQueries();
  }

  getLinks(): readonly Link[] {
    return this.links;
  }

  advertise(settings: AdvertiseSettings | null): void {
    this.responder.advertise(settings);
  }

  advertisement(): AdvertisementStatus | undefined {
    return this.responder.status();
  }

  /** Start, adjust or (with null) stop browsing; stopping emits `down: disabled` for known peers. */
  browse(settings: BrowseSettings | null): void {
    if (!settings) {
      this.browser?.stop(true);
      this.browser = undefined;
      this.browseSettings = undefined;
      return;
    }
    const prev = this.browseSettings;
    if (this.browser && prev && prev.serviceName === settings.serviceName && prev.ownClusterID === settings.ownClusterID) {
      this.browser.setOwn({ ownUrl: settings.ownUrl, ownInstance: settings.ownInstance });
      this.browseSettings = settings;
      return;
    }
    this.browser?.stop(true);
    this.browseSettings = settings;
    this.browser = new Browser(
      {
        clock: this.opts.clock,
        random: this.opts.random,
        counters: this.counters,
        log: this.opts.log,
        emit: (e) => this.emit(e),
        sendQuery: (packets) => this.sendQuery(packets),
      },
      {
        ...settings,
        maxInstances: this.limits.maxInstances,
        maxRecords: this.limits.maxRecords,
        maxRecordsPerSet: this.limits.maxRecordsPerSet,
        goodbyeGraceMs: this.opts.goodbyeGraceMs ?? 1000,
      },
    );
    this.browser.start();
  }

  peers(): DiscoveredPeer[] {
    return this.browser?.peers() ?? [];
  }

  /** Cache and instance sizes, to check the memory bounds. */
  sizes(): { cacheRecords: number; instances: number; trackedSources: number } {
    return {
      cacheRecords: this.browser?.cacheSize ?? 0,
      instances: this.browser?.instanceCount ?? 0,
      trackedSources: this.limiter.trackedSources,
    };
  }

  /** Goodbye for our records and stop browsing, without `down` events (the process is leaving). */
  shutdown(): void {
    this.responder.withdraw();
    this.browser?.stop(false);
    this.browser = undefined;
    this.browseSettings = undefined;
  }

  // -------------------------------------------------------------------------------------------
  // receiving

  handleDatagram(d: Datagram): void {
    const c = this.counters;
    c.packetsReceived += 1;
    c.bytesReceived += d.data.length;
    try {
      if (d.data.length > this.limits.maxPacketBytes) {
        c.drop('oversized');
        return;
      }
      const link = linkForSource(d.address, this.links);
      if (!link) {
        c.drop('off-link');
        return;
      }
      const now = this.opts.clock.now();
      if (!this.limiter.allow(d.address, now)) {
        c.drop('rate-limited');
        return;
      }
      const decoded = decodePacket(d.data);
      if (!decoded.ok) {
        c.drop(decoded.reason);
        return;
      }
      const packet = decoded.packet;
      if (opcodeOf(packet) !== 0) {
        c.drop('bad-opcode');
        return;
      }
      if (rcodeOf(packet) !== 0) {
        c.drop('bad-rcode');
        return;
      }
      const fromSelf = isOwnAddress(d.address, this.links);
      const meta = { source: d.address, port: d.port, link, family: d.family, fromSelf };
      if (isResponse(packet)) {
        // §6, §11: responses must come from port 5353; anything else is spoofed or broken
        if (d.port !== this.opts.mdnsPort) {
          c.drop('bad-source-port');
          return;
        }
        c.responsesReceived += 1;
        this.responder.handleResponse(packet, meta);
        this.browser?.handleResponse(packet, meta);
      } else {
        c.queriesReceived += 1;
        this.responder.handleQuery(packet, meta);
        if (d.port === this.opts.mdnsPort) this.browser?.handleQuery(packet, meta);
      }
    } catch (err) {
      c.drop('internal-error');
      this.opts.log.error({ err, source: d.address }, 'mDNS packet handling failed');
    }
  }

  // -------------------------------------------------------------------------------------------
  // sending

  private familiesOf(linkName: string): Family[] {
    const link = this.links.find((l) => l.name === linkName);
    if (!link) return [];
    const fams: Family[] = [];
    if (link.ipv4.length > 0) fams.push('IPv4');
    if (link.ipv6.some((a) => isIPv6LinkLocal(parseIPv6(a.address) ?? new Uint8Array(0)))) fams.push('IPv6');
    const ready = this.sink.families?.(linkName);
    return ready ? fams.filter((f) => ready.includes(f)) : fams;
  }

  private sendPacket(packet: DnsPacket, target: SendTarget, kind: 'probe' | 'announcement' | 'goodbye' | 'response' | 'query'): void {
    let data: Uint8Array;
    try {
      data = encodePacket(packet);
    } catch (err) {
      this.counters.sendErrors += 1;
      this.opts.log.error({ err, kind }, 'could not encode an mDNS packet');
      return;
    }
    const families =
      target.kind === 'unicast'
        ? [target.family]
        : target.family === 'both'
          ? this.familiesOf(target.link)
          : this.familiesOf(target.link).filter((f) => f === target.family);
    for (const family of families) {
      this.counters.packetsSent += 1;
      this.counters.bytesSent += data.length;
      switch (kind) {
        case 'probe':
          this.counters.probesSent += 1;
          break;
        case 'announcement':
          this.counters.announcementsSent += 1;
          break;
        case 'goodbye':
          this.counters.goodbyesSent += 1;
          break;
        case 'response':
          this.counters.responsesSent += 1;
          break;
        case 'query':
          this.counters.queriesSent += 1;
          break;
      }
      try {
        if (target.kind === 'unicast') this.sink.send(data, { link: target.link, family, address: target.address, port: target.port });
        else this.sink.send(data, { link: target.link, family });
      } catch (err) {
        this.counters.sendErrors += 1;
        this.opts.log.warn({ err, link: target.link, family }, 'mDNS send failed');
      }
    }
  }

  /**
   * Browser queries go out on every link over every family it has: a responder that listens on
   * ff02::fb only (or an IPv4 group that a switch filters) is still found.
   */
  private sendQuery(packets: DnsPacket[]): void {
    for (const link of this.links) {
      for (const p of packets) this.sendPacket(p, { kind: 'multicast', link: link.name, family: 'both' }, 'query');
    }
  }
}
