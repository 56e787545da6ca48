import dnsPacket from 'dns-packet';
import { describe, expect, it } from 'vitest';
import { decodePacket, encodePacket, type DnsPacket, type ResourceRecord } from '../../../src/mdns/codec.js';
import { RRType } from '../../../src/mdns/constants.js';

const base = { rrclass: 1, cacheFlush: false, ttl: 120 };

function roundTrip(p: DnsPacket): DnsPacket {
  const r = decodePacket(encodePacket(p));
  if (!r.ok) throw new Error(`decode failed: ${r.reason}`);
  return r.packet;
}

describe('DNS codec', () => {
  it('round-trips every record type it understands, with flush bits and TTLs', () => {
    const answers: ResourceRecord[] = [
      { ...base, name: '_liqo._tcp.local', type: 'PTR', target: 'My\\.Liqo (2)._liqo._tcp.local', ttl: 90 },
      { ...base, cacheFlush: true, name: 'My\\.Liqo (2)._liqo._tcp.local', type: 'SRV', priority: 1, weight: 2, port: 6443, target: 'host.local' },
      { ...base, cacheFlush: true, name: 'My\\.Liqo (2)._liqo._tcp.local', type: 'TXT', strings: [new Uint8Array(Buffer.from('txtvers=1')), new Uint8Array(Buffer.from('id=x'))] },
      { ...base, cacheFlush: true, name: 'host.local', type: 'A', address: '198.18.0.2' },
      { ...base, cacheFlush: true, name: 'host.local', type: 'AAAA', address: 'fe80::1:2' },
      { ...base, name: 'host.local', type: 'OTHER', typeCode: 13, rdata: new Uint8Array([1, 65, 1, 66]) },
    ];
    const p: DnsPacket = { id: 0, flags: 0x8400, questions: [], answers, authorities: [], additionals: [] };
    expect(roundTrip(p)).toEqual(p);
  });

  it('keeps a dot inside an instance label as one label (RFC 6763 §4.3)', () => {
    const p = roundTrip({
      id: 0,
      flags: 0,
      questions: [{ name: 'a\\.b._liqo._tcp.local', type: RRType.ANY, qclass: 1, unicastResponse: false }],
      answers: [],
      authorities: [],
      additionals: [],
    });
    expect(p.questions[0]!.name).toBe('a\\.b._liqo._tcp.local');
    const wire = encodePacket(p);
    expect(wire[12]).toBe(3); // "a.b" is a single 3-byte label
  });

  it('decodes the QU bit of questions and the cache-flush bit of answers', () => {
    const p = roundTrip({
      id: 0,
      flags: 0,
      questions: [{ name: 'x.local', type: RRType.A, qclass: 1, unicastResponse: true }],
      answers: [{ ...base, cacheFlush: true, name: 'x.local', type: 'A', address: '10.0.0.1' }],
      authorities: [],
      additionals: [],
    });
    expect(p.questions[0]).toMatchObject({ unicastResponse: true, qclass: 1 });
    expect(p.answers[0]).toMatchObject({ cacheFlush: true, rrclass: 1 });
  });

  it('produces packets that an independent decoder (dns-packet) reads the same way', () => {
    const wire = encodePacket({
      id: 0,
      flags: 0x8400,
      questions: [],
      answers: [
        { ...base, ttl: 90, name: '_liqo._tcp.local', type: 'PTR', target: 'MyLiqo-12345678._liqo._tcp.local' },
        { ...base, cacheFlush: true, name: 'MyLiqo-12345678._liqo._tcp.local', type: 'SRV', priority: 0, weight: 0, port: 6443, target: 'MyLiqo-12345678.local' },
        { ...base, cacheFlush: true, name: 'MyLiqo-12345678.local', type: 'A', address: '198.18.0.2' },
      ],
      authorities: [],
      additionals: [],
    });
    const d = dnsPacket.decode(Buffer.from(wire));
    expect(d.type).toBe('response');
    expect(d.answers).toMatchObject([
      { type: 'PTR', name: '_liqo._tcp.local', data: 'MyLiqo-12345678._liqo._tcp.local', ttl: 90, flush: false },
      { type: 'SRV', flush: true, ttl: 120, data: { port: 6443, target: 'MyLiqo-12345678.local' } },
      { type: 'A', flush: true, ttl: 120, data: '198.18.0.2' },
    ]);
  });

  it('compresses repeated names', () => {
    const rr = (n: number): ResourceRecord => ({ ...base, name: '_liqo._tcp.local', type: 'PTR', target: `i${n}._liqo._tcp.local` });
    const wire = encodePacket({ id: 0, flags: 0x8400, questions: [], answers: [rr(1), rr(2), rr(3)], authorities: [], additionals: [] });
    expect(wire.length).toBeLessThan(100);
  });

  describe('refuses broken input with a reason instead of throwing', () => {
    const good = encodePacket({
      id: 0,
      flags: 0x8400,
      questions: [],
      answers: [{ ...base, name: 'host.local', type: 'A', address: '10.0.0.1' }],
      authorities: [],
      additionals: [],
    });

    it('truncated packets', () => {
      for (let n = 0; n < good.length; n++) {
        const r = decodePacket(good.subarray(0, n));
        expect(r.ok, `length ${n}`).toBe(false);
      }
    });

    it('a compression pointer to itself or forward (a loop)', () => {
      // header + question whose name is a pointer to its own offset (12)
      const loop = Buffer.from([0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1]);
      expect(decodePacket(loop)).toEqual({ ok: false, reason: 'compression-loop' });
      // two pointers pointing at each other: 12 -> 14 -> 12
      const pingpong = Buffer.from([0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 14, 0xc0, 12, 0, 1, 0, 1]);
      expect(decodePacket(pingpong)).toEqual({ ok: false, reason: 'compression-loop' });
    });

    it('an A record whose RDLENGTH is not 4', () => {
      const bad = Buffer.from(good);
      // RDLENGTH is the 2 bytes before the 4 address bytes at the end
      bad.writeUInt16BE(5, bad.length - 6);
      expect(decodePacket(bad).ok).toBe(false);
      const r = decodePacket(Buffer.concat([bad, Buffer.from([0])]));
      expect(r).toEqual({ ok: false, reason: 'bad-rdata' });
    });

    it('record counts larger than the packet can hold', () => {
      const bad = Buffer.from(good);
      bad.writeUInt16BE(400, 6);
      expect(decodePacket(bad)).toEqual({ ok: false, reason: 'truncated' });
      bad.writeUInt16BE(60_000, 6);
      expect(decodePacket(bad)).toEqual({ ok: false, reason: 'too-many-records' });
    });

    it('extended label types', () => {
      const bad = Buffer.from([0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x41, 0, 0, 1, 0, 1]);
      expect(decodePacket(bad)).toEqual({ ok: false, reason: 'bad-label' });
    });
  });
});
