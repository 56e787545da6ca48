/**
 * The socket edge of LAN discovery, on plain `node:dgram`:
 * - one receive socket per family bound to the wildcard address on port 5353 (SO_REUSEADDR), which
 *   joins the mDNS group on each chosen link;
 * - one send socket per link and family, bound to the link's own address on port 5353 (RFC 6762
 *   §11: mDNS comes from port 5353), with IP multicast TTL / hop limit 255, the link as multicast
 *   interface and loopback on (so several agents on one host see each other). These sockets also
 *   receive unicast replies addressed to us.
 * Socket errors are logged and counted, never thrown at the caller.
 */
import dgram, { type Socket } from 'node:dgram';
import type { Logger } from 'pino';
import { MDNS_IPV4_GROUP, MDNS_IPV6_GROUP } from './constants.js';
import type { MdnsCounters } from './counters.js';
import type { Datagram, Family, PacketSink } from './engine.js';
import { isIPv6LinkLocal, parseIPv6 } from './ip.js';
import type { Link } from './links.js';

export interface TransportOptions {
  port: number;
  ipv6: boolean;
  log: Logger;
  counters: MdnsCounters;
  onDatagram(d: Datagram): void;
  /** Multicast groups (tests may use others to stay off the real mDNS group). */
  ipv4Group?: string;
  ipv6Group?: string;
}

interface LinkSockets {
  v4?: { socket: Socket; address: string };
  v6?: { socket: Socket; address: string };
}

function bindSocket(type: 'udp4' | 'udp6', address: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket(type === 'udp6' ? { type, reuseAddr: true, ipv6Only: true } : { type, reuseAddr: true });
    const onError = (err: Error): void => {
      socket.close();
      reject(err);
    };
    socket.once('error', onError);
    socket.bind({ port, address, exclusive: false }, () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

function closeSocket(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve();
    }
  });
}

function linkLocalOf(link: Link): string | undefined {
  return link.ipv6.find((a) => isIPv6LinkLocal(parseIPv6(a.address) ?? new Uint8Array(0)))?.address;
}

export class MdnsTransport implements PacketSink {
  private rx4: Socket | undefined;
  private rx6: Socket | undefined;
  private readonly links = new Map<string, LinkSockets>();
  private readonly inflight = new Set<Promise<void>>();
  private closed = false;
  private reconciling: Promise<void> = Promise.resolve();
  private readonly group4: string;
  private readonly group6: string;

  constructor(private readonly opts: TransportOptions) {
    this.group4 = opts.ipv4Group ?? MDNS_IPV4_GROUP;
    this.group6 = opts.ipv6Group ?? MDNS_IPV6_GROUP;
  }

  private listen(socket: Socket, family: Family): void {
    socket.on('message', (data, rinfo) => {
      if (this.closed) return;
      this.opts.onDatagram({ data, address: rinfo.address, port: rinfo.port, family });
    });
    socket.on('error', (err) => {
      this.opts.log.warn({ err, family }, 'mDNS socket error');
    });
  }

  /** Binds the wildcard receive sockets. Fails (with a clear message) if port 5353 is unusable. */
  async open(): Promise<void> {
    this.closed = false;
    if (!this.rx4) {
      try {
        this.rx4 = await bindSocket('udp4', '0.0.0.0', this.opts.port);
      } catch (err) {
        throw new Error(`cannot listen for mDNS on UDP port ${this.opts.port}: ${(err as Error).message}`, { cause: err });
      }
      this.rx4.setMulticastLoopback(true);
      this.listen(this.rx4, 'IPv4');
    }
    if (this.opts.ipv6 && !this.rx6) {
      try {
        this.rx6 = await bindSocket('udp6', '::', this.opts.port);
        this.rx6.setMulticastLoopback(true);
        this.listen(this.rx6, 'IPv6');
      } catch (err) {
        // a host without IPv6 still does IPv4 mDNS (grandcat/zeroconf#3 crashed here)
        this.opts.log.info({ err }, 'IPv6 mDNS unavailable; continuing with IPv4 only');
      }
    }
  }

  /** Which families can send on a link right now. */
  families(link: string): Family[] {
    const s = this.links.get(link);
    const out: Family[] = [];
    if (s?.v4) out.push('IPv4');
    if (s?.v6) out.push('IPv6');
    return out;
  }

  /**
   * Join/leave groups and open/close per-link sockets to match `links`. Idempotent: call it again
   * to retry what failed (an IPv6 address still in duplicate address detection, for instance).
   */
  setLinks(links: readonly Link[]): Promise<void> {
    this.reconciling = this.reconciling.then(() => this.reconcile(links)).catch((err: unknown) => {
      this.opts.log.warn({ err }, 'mDNS interface reconfiguration failed');
    });
    return this.reconciling;
  }

  private async reconcile(links: readonly Link[]): Promise<void> {
    if (this.closed) return;
    const wanted = new Map(links.map((l) => [l.name, l]));
    for (const [name, s] of [...this.links]) {
      const l = wanted.get(name);
      if (!l || !s.v4 || l.ipv4[0]?.address !== s.v4.address) await this.closeV4(s);
      if (!l || !s.v6 || linkLocalOf(l) !== s.v6.address) await this.closeV6(name, s);
      if (!l) this.links.delete(name);
    }
    for (const l of links) {
      const s = this.links.get(l.name) ?? {};
      this.links.set(l.name, s);
      const v4 = l.ipv4[0]?.address;
      if (v4 && !s.v4 && this.rx4) {
        try {
          try {
            this.rx4.addMembership(this.group4, v4);
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
          }
          const socket = await bindSocket('udp4', v4, this.opts.port);
          socket.setMulticastInterface(v4);
          socket.setMulticastTTL(255);
          socket.setTTL(255);
          socket.setMulticastLoopback(true);
          this.listen(socket, 'IPv4');
          s.v4 = { socket, address: v4 };
          this.opts.log.debug({ link: l.name, address: v4 }, 'mDNS IPv4 ready on link');
        } catch (err) {
          this.opts.log.warn({ err, link: l.name, address: v4 }, 'cannot use link for IPv4 mDNS (will retry)');
        }
      }
      const v6 = linkLocalOf(l);
      if (v6 && !s.v6 && this.rx6) {
        try {
          try {
            this.rx6.addMembership(this.group6, `::%${l.name}`);
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
          }
          const socket = await bindSocket('udp6', `${v6}%${l.name}`, this.opts.port);
          socket.setMulticastInterface(`::%${l.name}`);
          socket.setMulticastTTL(255);
          socket.setTTL(255);
          socket.setMulticastLoopback(true);
          this.listen(socket, 'IPv6');
          s.v6 = { socket, address: v6 };
          this.opts.log.debug({ link: l.name, address: v6 }, 'mDNS IPv6 ready on link');
        } catch (err) {
          this.opts.log.debug({ err, link: l.name, address: v6 }, 'cannot use link for IPv6 mDNS yet (will retry)');
        }
      }
    }
  }

  private async closeV4(s: LinkSockets): Promise<void> {
    if (!s.v4) return;
    try {
      this.rx4?.dropMembership(this.group4, s.v4.address);
    } catch {
      // the interface may already be gone
    }
    await closeSocket(s.v4.socket);
    s.v4 = undefined;
  }

  private async closeV6(name: string, s: LinkSockets): Promise<void> {
    if (!s.v6) return;
    try {
      this.rx6?.dropMembership(this.group6, `::%${name}`);
    } catch {
      // the interface may already be gone
    }
    await closeSocket(s.v6.socket);
    s.v6 = undefined;
  }

  send(data: Uint8Array, target: { link: string; family: Family; address?: string; port?: number }): void {
    const s = this.links.get(target.link);
    const entry = target.family === 'IPv4' ? s?.v4 : s?.v6;
    if (!entry || this.closed) {
      this.opts.counters.sendErrors += 1;
      return;
    }
    let address = target.address ?? (target.family === 'IPv4' ? this.group4 : this.group6);
    if (target.family === 'IPv6' && target.address && !address.includes('%') && isIPv6LinkLocal(parseIPv6(address) ?? new Uint8Array(0))) {
      address = `${address}%${target.link}`;
    }
    const p = new Promise<void>((resolve) => {
      entry.socket.send(data, target.port ?? this.opts.port, address, (err) => {
        if (err) {
          this.opts.counters.sendErrors += 1;
          this.opts.log.debug({ err, link: target.link, family: target.family }, 'mDNS send failed');
        }
        resolve();
      });
    });
    this.inflight.add(p);
    void p.then(() => this.inflight.delete(p));
  }

  /** Resolves when every datagram handed to `send` has left (or failed). */
  async flush(): Promise<void> {
    while (this.inflight.size > 0) await Promise.all([...this.inflight]);
  }

  async close(): Promise<void> {
    await this.flush();
    await this.reconciling;
    this.closed = true;
    for (const [name, s] of this.links) {
      await this.closeV4(s);
      await this.closeV6(name, s);
    }
    this.links.clear();
    if (this.rx4) await closeSocket(this.rx4);
    if (this.rx6) await closeSocket(this.rx6);
    this.rx4 = undefined;
    this.rx6 = undefined;
  }
}
