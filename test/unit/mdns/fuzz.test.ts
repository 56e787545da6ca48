/**
 * Fuzzing the mDNS parser and the engine's packet handler (browser + responder) with mutated
 * real packets and random bytes: nothing may throw, nothing may reject unhandled, no packet may hit
 * the engine's internal-error path, and the cache and instance caps must hold.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Flags, RRType } from '../../../src/mdns/constants.js';
import { decodePacket, encodePacket, type DnsPacket, type ResourceRecord } from '../../../src/mdns/codec.js';
import { MdnsEngine } from '../../../src/mdns/engine.js';
import { buildClusterTxt } from '../../../src/mdns/txt.js';
import { SimLan, ManualClock, seededRandom, silentLog } from './support.js';

const MUTATED_PACKETS = 120_000;
const RANDOM_PACKETS = 20_000;

/** Real traffic: a few simulated clusters probing, announcing, querying, answering, leaving. */
function captureCorpus(): Uint8Array[] {
  const lan = new SimLan(21);
  const nodes = Array.from({ length: 4 }, (_, i) =>
    lan.add({ name: `n${i}`, clusterID: `${'abcd'[i]!.repeat(8)}-0000-${i}`, address: `10.0.0.${i + 2}`, ttl: 5 }),
  );
  lan.clock.advance(20_000);
  nodes[0]!.advertiseWith({ url: 'https://10.0.0.2:7443' });
  lan.clock.advance(5_000);
  nodes[1]!.engine.shutdown();
  lan.clock.advance(5_000);
  const corpus = nodes.flatMap((n) => n.sent.map((s) => s.data));
  // hand-made ones with deep compression, odd types and a legacy question
  const base = { rrclass: 1, cacheFlush: false, ttl: 90 };
  const extra: DnsPacket[] = [
    {
      id: 7,
      flags: 0,
      questions: [
        { name: '_liqo._tcp.local', type: RRType.PTR, qclass: 1, unicastResponse: true },
        { name: '_services._dns-sd._udp.local', type: RRType.PTR, qclass: 1, unicastResponse: false },
      ],
      answers: [{ ...base, name: '_liqo._tcp.local', type: 'PTR', target: 'a\\.b (2)._liqo._tcp.local' }],
      authorities: [],
      additionals: [],
    },
    {
      id: 0,
      flags: Flags.response | Flags.authoritative,
      questions: [],
      answers: [
        { ...base, name: '_liqo._tcp.local', type: 'PTR', target: 'x._liqo._tcp.local' },
        { ...base, cacheFlush: true, name: 'x._liqo._tcp.local', type: 'SRV', priority: 0, weight: 0, port: 1, target: 'x.local' },
        { ...base, cacheFlush: true, name: 'x._liqo._tcp.local', type: 'TXT', strings: buildClusterTxt({ clusterID: 'x-1', namespace: 'liqo', url: 'https://x:1' }) },
        { ...base, cacheFlush: true, name: 'x.local', type: 'AAAA', address: 'fe80::1' },
        { ...base, name: 'x.local', type: 'OTHER', typeCode: RRType.NSEC, rdata: new Uint8Array([0xc0, 12, 0, 4, 0x40, 0, 0, 8]) },
      ] as ResourceRecord[],
      authorities: [],
      additionals: [{ ...base, name: 'x.local', type: 'A', address: '10.0.0.77' }],
    },
  ];
  return [...corpus, ...extra.map(encodePacket)];
}

type Mutator = (b: Buffer, r: () => number) => Buffer;
const int = (r: () => number, n: number) => Math.floor(r() * n);

const mutators: Record<string, Mutator> = {
  bitFlips: (b, r) => {
    const c = Buffer.from(b);
    for (let i = 0, n = 1 + int(r, 8); i < n; i++) c[int(r, c.length)]! ^= 1 << int(r, 8);
    return c;
  },
  truncation: (b, r) => b.subarray(0, int(r, b.length)),
  compressionLoop: (b, r) => {
    const c = Buffer.from(b);
    if (c.length < 14) return c;
    const at = 12 + int(r, c.length - 13);
    // a pointer to itself, to just after itself, or somewhere random (often forward)
    const target = [at, at + 1, at + 2, int(r, c.length + 64)][int(r, 4)]!;
    c[at] = 0xc0 | ((target >> 8) & 0x3f);
    c[at + 1] = target & 0xff;
    return c;
  },
  lengthOverflow: (b, r) => {
    const c = Buffer.from(b);
    const choice = int(r, 3);
    if (choice === 0 && c.length >= 12) c.writeUInt16BE(int(r, 0x10000), 4 + 2 * int(r, 4)); // a section count
    else if (choice === 1 && c.length >= 2) c.writeUInt16BE(0xffff - int(r, 64), int(r, c.length - 1)); // an RDLENGTH-like field
    else if (c.length > 0) c[int(r, c.length)] = 63 + int(r, 193); // a label length past the end
    return c;
  },
  splice: (b, r, other?: Buffer) => {
    const o = other ?? b;
    return Buffer.concat([b.subarray(0, int(r, b.length)), o.subarray(int(r, o.length))]);
  },
  insertDelete: (b, r) => {
    const at = int(r, b.length + 1);
    return r() < 0.5
      ? Buffer.concat([b.subarray(0, at), Buffer.from([int(r, 256), int(r, 256)]), b.subarray(at)])
      : Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + int(r, 4))]);
  },
};

describe('fuzzing the mDNS parser and packet handler', () => {
  const rejections: unknown[] = [];
  const onRejection = (reason: unknown): void => {
    rejections.push(reason);
  };
  beforeAll(() => {
    process.on('unhandledRejection', onRejection);
  });
  afterAll(() => {
    process.off('unhandledRejection', onRejection);
  });

  it(`survives ${MUTATED_PACKETS} mutated packets and ${RANDOM_PACKETS} random ones with bounded memory`, async () => {
    const corpus = captureCorpus().map((d) => Buffer.from(d));
    expect(corpus.length).toBeGreaterThan(50);
    expect(corpus.every((b) => decodePacket(b).ok)).toBe(true);

    const clock = new ManualClock();
    const random = seededRandom(1234);
    const limits = {
      maxInstances: 64,
      maxRecords: 400,
      rate: { perSourceRate: 1e9, perSourceBurst: 1e9, globalRate: 1e9, globalBurst: 1e9, maxSources: 256 },
    };
    let sentBytes = 0;
    const events: string[] = [];
    const engine = new MdnsEngine(
      { clock, random, log: silentLog, mdnsPort: 5353, limits },
      { send: (d) => void (sentBytes += d.length) },
      (e) => events.push(e.type),
    );
    engine.setLinks([
      { name: 'eth0', ipv4: [{ address: '10.0.0.1', prefixLength: 24 }], ipv6: [{ address: 'fe80::1', prefixLength: 64 }] },
    ]);
    engine.advertise({
      instanceBase: 'Fuzz-00000000',
      hostBase: 'Fuzz-00000000',
      service: '_liqo._tcp',
      domain: 'local',
      port: 6443,
      ttl: 90,
      txt: buildClusterTxt({ clusterID: '00000000-fuzz', namespace: 'liqo', url: 'https://10.0.0.1:6443' }),
    });
    engine.browse({ serviceName: '_liqo._tcp.local', ownClusterID: '00000000-fuzz' });
    clock.advance(5000); // established: the responder answers and defends too

    const heapBefore = process.memoryUsage().heapUsed;
    const names = Object.keys(mutators);
    const outcomes: Record<string, { ok: number; rejected: number }> = {};
    let maxCache = 0;
    let maxInstances = 0;
    const rng = seededRandom(99);
    const feed = (data: Buffer, i: number): void => {
      // the parser alone must never throw
      decodePacket(data);
      // and the whole handler neither
      const source = i % 17 === 0 ? 'fe80::99%eth0' : `10.0.0.${2 + (i % 200)}`;
      engine.handleDatagram({ data, address: source, port: i % 23 === 0 ? 40000 : 5353, family: source.includes(':') ? 'IPv6' : 'IPv4' });
      if (i % 500 === 0) {
        clock.advance(200 + int(rng, 5000));
        const s = engine.sizes();
        maxCache = Math.max(maxCache, s.cacheRecords);
        maxInstances = Math.max(maxInstances, s.instances);
      }
    };

    for (let i = 0; i < MUTATED_PACKETS; i++) {
      const seed = corpus[int(rng, corpus.length)]!;
      const name = names[i % names.length]!;
      let data = mutators[name]!(seed, rng);
      if (name === 'splice') data = Buffer.concat([data, corpus[int(rng, corpus.length)]!.subarray(int(rng, 40))]);
      // sometimes stack a second mutation
      if (rng() < 0.3) data = mutators[names[int(rng, names.length)]!]!(data, rng);
      const o = (outcomes[name] ??= { ok: 0, rejected: 0 });
      if (decodePacket(data).ok) o.ok++;
      else o.rejected++;
      feed(data, i);
    }
    for (let i = 0; i < RANDOM_PACKETS; i++) {
      const data = Buffer.alloc(int(rng, 1500));
      for (let j = 0; j < data.length; j++) data[j] = int(rng, 256);
      // give random bytes a plausible header now and then so they reach the record parser
      if (data.length >= 12 && rng() < 0.5) data.writeUInt16BE(rng() < 0.5 ? 0x8400 : 0, 2);
      feed(data, i);
    }
    clock.advance(10 * 60_000);
    await new Promise((resolve) => setImmediate(resolve));

    const c = engine.counters;
    expect(c.dropped['internal-error'], 'a packet reached an unexpected exception').toBe(0);
    expect(rejections).toEqual([]);
    expect(maxCache).toBeLessThanOrEqual(limits.maxRecords);
    expect(maxInstances).toBeLessThanOrEqual(limits.maxInstances);
    expect(c.packetsReceived).toBe(MUTATED_PACKETS + RANDOM_PACKETS);
    // the mutations exercised both paths: many still parse, many are refused for each reason
    for (const name of names) {
      expect(outcomes[name]!.ok, `${name} produced parseable packets`).toBeGreaterThan(0);
      expect(outcomes[name]!.rejected, `${name} produced broken packets`).toBeGreaterThan(0);
    }
    for (const reason of ['truncated', 'compression-loop', 'bad-rdata', 'bad-label', 'too-many-records'] as const) {
      expect(c.dropped[reason], reason).toBeGreaterThan(0);
    }
    expect(c.responsesReceived + c.queriesReceived).toBeGreaterThan(10_000);
    const heapGrowthMb = (process.memoryUsage().heapUsed - heapBefore) / 1e6;
    expect(heapGrowthMb).toBeLessThan(150);
    expect(sentBytes).toBeGreaterThan(0);
  });
});
