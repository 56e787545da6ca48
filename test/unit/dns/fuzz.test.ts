/**
 * 100,000 mutated and random packets through the response decoder and the pure functions that
 * consume its output: nothing may throw, and whatever is accepted must be well-formed.
 */
import { isIPv4, isIPv6 } from 'node:net';
import dnsPacket from 'dns-packet';
import type { Answer } from 'dns-packet';
import { describe, expect, it } from 'vitest';
import { followChain } from '../../../src/discovery/dns/chain.js';
import { decodeResponse, type Question, type QueryType } from '../../../src/discovery/dns/message.js';
import { orderSrv } from '../../../src/discovery/dns/srv.js';
import { interpretClusterTxt, mergeTxtRecords } from '../../../src/mdns/txt.js';
import { rng } from '../../support/rng.js';

const ITERATIONS = 100_000;
const ID = 0x1234;


function packet(q: Question, answers: Answer[], extra: { authorities?: Answer[]; additionals?: Answer[]; flags?: number } = {}): { q: Question; buf: Buffer } {
  const buf = dnsPacket.encode({
    type: 'response',
    id: ID,
    flags: extra.flags ?? dnsPacket.AUTHORITATIVE_ANSWER,
    questions: [{ type: q.type, name: q.name.replace(/\.$/, ''), class: 'IN' }],
    answers,
    authorities: extra.authorities ?? [],
    additionals: extra.additionals ?? [],
  });
  return { q, buf };
}

const seeds = [
  packet({ name: 'mydomain.com.', type: 'PTR' }, [
    { type: 'PTR', name: 'mydomain.com', ttl: 300, data: 'liqo1._liqo._tcp.mydomain.com' },
    { type: 'PTR', name: 'mydomain.com', ttl: 300, data: 'liqo2._liqo._tcp.mydomain.com' },
  ]),
  packet(
    { name: 'liqo1._liqo._tcp.mydomain.com.', type: 'SRV' },
    [
      { type: 'SRV', name: 'liqo1._liqo._tcp.mydomain.com', ttl: 60, data: { priority: 0, weight: 5, port: 6443, target: 'apiserver1.mydomain.com' } },
      { type: 'SRV', name: 'liqo1._liqo._tcp.mydomain.com', ttl: 60, data: { priority: 1, weight: 0, port: 7443, target: 'apiserver2.mydomain.com' } },
    ],
    {
      additionals: [
        { type: 'A', name: 'apiserver1.mydomain.com', ttl: 60, data: '198.18.0.11' },
        { type: 'AAAA', name: 'apiserver1.mydomain.com', ttl: 60, data: '2001:2::11' },
        { type: 'OPT', name: '.', udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] },
      ],
    },
  ),
  packet({ name: 'liqo1._liqo._tcp.mydomain.com.', type: 'TXT' }, [
    { type: 'TXT', name: 'liqo1._liqo._tcp.mydomain.com', ttl: 60, data: ['id=ff5aa14a-dd6e-4fd2-80fe-eaecb827cf55', 'namespace=liqo', `ca=sha256:${'a'.repeat(64)}`, 'flag', ''] },
  ]),
  packet({ name: 'apiserver2.mydomain.com.', type: 'A' }, [
    { type: 'CNAME', name: 'apiserver2.mydomain.com', ttl: 60, data: 'web.mydomain.com' },
    { type: 'CNAME', name: 'web.mydomain.com', ttl: 60, data: 'apiserver2.mydomain.com' },
    { type: 'A', name: 'web.mydomain.com', ttl: 60, data: '198.18.0.12' },
  ]),
  packet({ name: 'nothing.mydomain.com.', type: 'AAAA' }, [], {
    flags: 3,
    authorities: [{ type: 'SOA', name: 'mydomain.com', ttl: 60, data: { mname: 'ns.mydomain.com', rname: 'h.mydomain.com', serial: 1, refresh: 1, retry: 1, expire: 1, minimum: 60 } }],
  }),
];

const TYPES: QueryType[] = ['A', 'AAAA', 'CNAME', 'PTR', 'SRV', 'TXT', 'SOA'];

function mutate(r: ReturnType<typeof rng>, i: number): { q: Question; buf: Buffer } {
  const seed = seeds[r.int(seeds.length)]!;
  const buf = Buffer.from(seed.buf);
  const mode = i % 8;
  // Mostly keep the 12-byte header (with the ID) intact so mutations reach the record decoders.
  const from = r.next() < 0.8 ? 12 : 0;
  switch (mode) {
    case 0: // bit flips
      for (let k = 1 + r.int(8); k > 0; k--) buf[from + r.int(buf.length - from)]! ^= 1 << r.int(8);
      return { q: seed.q, buf };
    case 1: // random bytes
      for (let k = 1 + r.int(16); k > 0; k--) buf[from + r.int(buf.length - from)] = r.int(256);
      return { q: seed.q, buf };
    case 2: // truncation
      return { q: seed.q, buf: buf.subarray(0, r.int(buf.length + 1)) };
    case 3: // extension with garbage
      return { q: seed.q, buf: Buffer.concat([buf, Buffer.from(Array.from({ length: 1 + r.int(64) }, () => r.int(256)))]) };
    case 4: // header counts
      for (const off of [4, 6, 8, 10]) if (r.next() < 0.5) buf.writeUInt16BE(r.int(0x10000), off);
      return { q: seed.q, buf };
    case 5: // compression pointers anywhere
      for (let k = 1 + r.int(4); k > 0; k--) {
        const at = from + r.int(Math.max(1, buf.length - from - 1));
        buf[at] = 0xc0 | r.int(64);
        if (at + 1 < buf.length) buf[at + 1] = r.int(256);
      }
      return { q: seed.q, buf };
    case 6: {
      // splice two seeds
      const other = seeds[r.int(seeds.length)]!.buf;
      const cut = 12 + r.int(buf.length - 12);
      return { q: seed.q, buf: Buffer.concat([buf.subarray(0, cut), other.subarray(12 + r.int(other.length - 12))]) };
    }
    default: {
      // fully random, sometimes with a plausible header
      const random = Buffer.from(Array.from({ length: r.int(600) }, () => r.int(256)));
      if (random.length >= 12 && r.next() < 0.5) {
        random.writeUInt16BE(ID, 0);
        random[2] = 0x84;
      }
      return { q: { name: 'mydomain.com.', type: TYPES[r.int(TYPES.length)]! }, buf: random };
    }
  }
}

describe('response decoding under fuzzing', () => {
  it(`survives ${ITERATIONS.toLocaleString('en')} mutated and random packets`, () => {
    const r = rng(20200801);
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    const stats = { accepted: 0, malformed: 0, mismatch: 0 };
    try {
      for (let i = 0; i < ITERATIONS; i++) {
        const { q, buf } = mutate(r, i);
        let result: ReturnType<typeof decodeResponse>;
        try {
          result = decodeResponse(buf, q, ID);
        } catch (err) {
          throw new Error(`iteration ${i}: decodeResponse threw ${String(err)} for ${buf.toString('hex')}`);
        }
        if (!result.ok) {
          stats[result.kind] += 1;
          continue;
        }
        stats.accepted += 1;
        const all = [...result.response.answers, ...result.response.authorities, ...result.response.additionals];
        // Plain checks: expect() per record would dominate the run time.
        for (const rr of all) {
          const bad =
            !rr.name.endsWith('.') ||
            (rr.type === 'A' && !isIPv4(rr.address)) ||
            (rr.type === 'AAAA' && !isIPv6(rr.address)) ||
            (rr.type === 'SRV' && !(rr.port >= 0 && rr.port <= 65535 && rr.target.endsWith('.')));
          if (bad) throw new Error(`iteration ${i}: accepted a bad record ${JSON.stringify(rr)} from ${buf.toString('hex')}`);
        }
        // The consumers of a decoded response must cope with whatever the decoder accepted.
        for (const t of TYPES) followChain(q.name, t, result.response.answers);
        const srv = result.response.answers.filter((x) => x.type === 'SRV');
        orderSrv(srv, r.next);
        const txt = result.response.answers.flatMap((x) => (x.type === 'TXT' ? [x.strings] : []));
        const merged = mergeTxtRecords(txt);
        if (merged.ok) interpretClusterTxt(merged.entries);
      }
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(unhandled).toEqual([]);
    // The corpus must exercise both paths, or the test proves nothing.
    expect(stats.accepted).toBeGreaterThan(ITERATIONS / 20);
    expect(stats.malformed).toBeGreaterThan(ITERATIONS / 20);
  });
});
