/**
 * Test support for the mDNS layer: a manual clock, a seeded random source, a silent logger and an
 * in-memory LAN that links several engines the way a bridge would (multicast to all, loopback
 * included), so whole protocol exchanges run in simulated time.
 */
import { pino } from 'pino';
import { decodePacket, encodePacket, type DnsPacket } from '../../../src/mdns/codec.js';
import type { Clock, TimerHandle } from '../../../src/mdns/clock.js';
import { MdnsEngine, type EngineEvent, type EngineLimits } from '../../../src/mdns/engine.js';
import type { Link } from '../../../src/mdns/links.js';
import { buildClusterTxt } from '../../../src/mdns/txt.js';
import { hostLabelFor, instanceLabelFor } from '../../../src/mdns/names.js';

export const silentLog = pino({ level: 'silent' });

export class ManualClock implements Clock {
  private t: number;
  private seq = 0;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();

  constructor(start = 1_700_000_000_000) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  setTimer(fn: () => void, ms: number): TimerHandle {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + Math.max(0, ms), fn });
    return { id };
  }

  clearTimer(handle: TimerHandle | undefined): void {
    if (handle) this.timers.delete(handle.id);
  }

  get pendingTimers(): number {
    return this.timers.size;
  }

  /** Moves time forward by `ms`, firing every timer that falls due, in order. */
  advance(ms: number): void {
    const target = this.t + ms;
    for (;;) {
      let nextId = -1;
      let nextAt = Infinity;
      for (const [id, tm] of this.timers) {
        if (tm.at < nextAt || (tm.at === nextAt && id < nextId)) {
          nextAt = tm.at;
          nextId = id;
        }
      }
      if (nextId < 0 || nextAt > target) break;
      const tm = this.timers.get(nextId)!;
      this.timers.delete(nextId);
      this.t = Math.max(this.t, tm.at);
      tm.fn();
    }
    this.t = target;
  }
}

/** mulberry32: a small deterministic PRNG. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface SimNodeOptions {
  name: string;
  clusterID: string;
  address: string;
  url?: string;
  ttl?: number;
  prefix?: string;
  advertise?: boolean;
  browse?: boolean;
  limits?: Partial<EngineLimits>;
}

export interface SimNode {
  name: string;
  address: string;
  clusterID: string;
  engine: MdnsEngine;
  events: Array<{ at: number; event: EngineEvent }>;
  sent: Array<{ at: number; data: Uint8Array }>;
  /** Datagrams this node sent or received are lost while cut. */
  cut: boolean;
  advertiseWith(change: { url?: string; prefix?: string; ttl?: number; clusterID?: string }): void;
}

/** One simulated Ethernet segment, 10.0.0.0/24, 1 ms latency, lossless unless a node is cut. */
export class SimLan {
  readonly clock = new ManualClock();
  readonly nodes: SimNode[] = [];
  private readonly random: () => number;

  constructor(seed = 1) {
    this.random = seededRandom(seed);
  }

  link(address: string): Link {
    return { name: 'eth0', ipv4: [{ address, prefixLength: 24 }], ipv6: [] };
  }

  add(opts: SimNodeOptions): SimNode {
    const events: SimNode['events'] = [];
    const sent: SimNode['sent'] = [];
    const node = { name: opts.name, address: opts.address, clusterID: opts.clusterID, events, sent, cut: false } as SimNode;
    const engine = new MdnsEngine(
      {
        clock: this.clock,
        random: this.random,
        log: silentLog,
        mdnsPort: 5353,
        ...(opts.limits ? { limits: opts.limits } : {}),
      },
      {
        send: (data, target) => {
          sent.push({ at: this.clock.now(), data });
          if (node.cut) return;
          const copy = new Uint8Array(data);
          this.clock.setTimer(() => {
            for (const n of this.nodes) {
              if (n.cut) continue;
              if (target.address !== undefined && target.address !== n.address) continue;
              n.engine.handleDatagram({ data: copy, address: node.address, port: 5353, family: 'IPv4' });
            }
          }, 1);
        },
      },
      (event) => events.push({ at: this.clock.now(), event }),
    );
    node.engine = engine;
    engine.setLinks([this.link(opts.address)]);
    let current = { url: opts.url ?? `https://${opts.address}:6443`, prefix: opts.prefix ?? 'MyLiqo', ttl: opts.ttl ?? 90, clusterID: opts.clusterID };
    node.advertiseWith = (change) => {
      current = { ...current, ...change };
      engine.advertise({
        instanceBase: instanceLabelFor(current.prefix, current.clusterID),
        hostBase: hostLabelFor(current.prefix, current.clusterID),
        service: '_liqo._tcp',
        domain: 'local',
        port: 6443,
        ttl: current.ttl,
        txt: buildClusterTxt({ clusterID: current.clusterID, namespace: 'liqo', url: current.url }),
      });
    };
    if (opts.advertise !== false) node.advertiseWith({});
    if (opts.browse !== false) {
      engine.browse({ serviceName: '_liqo._tcp.local', ownClusterID: opts.clusterID, ownUrl: current.url });
    }
    this.nodes.push(node);
    return node;
  }

  remove(node: SimNode): void {
    const i = this.nodes.indexOf(node);
    if (i >= 0) this.nodes.splice(i, 1);
  }

  /**
   * Advances simulated time in small steps until `predicate` holds, or fails after `withinMs` with
   * `describe()` (the last observed state) in the message.
   */
  runUntil(predicate: () => boolean, withinMs: number, describe: () => unknown, stepMs = 10): number {
    const start = this.clock.now();
    while (!predicate()) {
      if (this.clock.now() - start > withinMs) {
        throw new Error(`condition not met within ${withinMs} ms of simulated time; last state: ${JSON.stringify(describe(), null, 1)}`);
      }
      this.clock.advance(stepMs);
    }
    return this.clock.now() - start;
  }
}

export function eventsOf<T extends EngineEvent['type']>(node: SimNode, type: T): Array<Extract<EngineEvent, { type: T }> & { at: number }> {
  return node.events
    .filter((e) => e.event.type === type)
    .map((e) => ({ ...(e.event as Extract<EngineEvent, { type: T }>), at: e.at }));
}

export const ID = {
  a: 'aaaaaaaa-0000-4000-8000-000000000001',
  b: 'bbbbbbbb-0000-4000-8000-000000000002',
  c: 'cccccccc-0000-4000-8000-000000000003',
};

export function peersOf(n: SimNode): Array<{ clusterID: string; url: string; instance: string }> {
  return n.engine.peers().map((p) => ({ clusterID: p.clusterID, url: p.url, instance: p.instance }));
}

export function decodedSent(n: SimNode, since = 0): Array<{ at: number; packet: DnsPacket }> {
  return n.sent
    .filter((s) => s.at >= since)
    .map((s) => ({ at: s.at, r: decodePacket(s.data) }))
    .filter((x): x is { at: number; r: { ok: true; packet: DnsPacket } } => x.r.ok)
    .map((x) => ({ at: x.at, packet: x.r.packet }));
}

/** Feeds a hand-made packet to a node as if `source` had sent it. */
export function inject(n: SimNode, packet: DnsPacket, source = '10.0.0.99', port = 5353): void {
  n.engine.handleDatagram({ data: encodePacket(packet), address: source, port, family: 'IPv4' });
}

export function twoNodes(ttl?: number) {
  const lan = new SimLan();
  const a = lan.add({ name: 'a', clusterID: ID.a, address: '10.0.0.2', ...(ttl ? { ttl } : {}) });
  const b = lan.add({ name: 'b', clusterID: ID.b, address: '10.0.0.3', ...(ttl ? { ttl } : {}) });
  lan.runUntil(
    () => eventsOf(a, 'up').length === 1 && eventsOf(b, 'up').length === 1,
    5000,
    () => ({ a: a.events, b: b.events }),
  );
  return { lan, a, b };
}
