import dnsPacket from 'dns-packet';
import type { Answer, Packet } from 'dns-packet';
import { describe, expect, it } from 'vitest';
import { decodeResponse, encodeQuery, EDNS_UDP_PAYLOAD } from '../../../src/discovery/dns/message.js';

const Q = { name: 'liqo1._liqo._tcp.mydomain.com.', type: 'SRV' as const };

function response(overrides: Partial<Packet> & { rcode?: number } = {}): Buffer {
  const { rcode = 0, ...rest } = overrides;
  return dnsPacket.encode({
    type: 'response',
    id: 4242,
    flags: dnsPacket.AUTHORITATIVE_ANSWER | rcode,
    questions: [{ type: 'SRV', name: 'liqo1._liqo._tcp.mydomain.com', class: 'IN' }],
    answers: [{ type: 'SRV', name: 'liqo1._liqo._tcp.mydomain.com', ttl: 60, data: { priority: 0, weight: 0, port: 6443, target: 'apiserver1.mydomain.com' } }],
    additionals: [{ type: 'A', name: 'apiserver1.mydomain.com', ttl: 30, data: '198.18.0.11' }],
    ...rest,
  });
}

describe('encodeQuery', () => {
  it('asks one IN question with RD and an EDNS0 OPT advertising 1232 bytes', () => {
    const p = dnsPacket.decode(encodeQuery(Q, 7));
    expect(p).toMatchObject({ id: 7, type: 'query', flag_rd: true, questions: [{ name: 'liqo1._liqo._tcp.mydomain.com', type: 'SRV', class: 'IN' }] });
    expect(p.additionals).toMatchObject([{ type: 'OPT', udpPayloadSize: EDNS_UDP_PAYLOAD }]);
    expect(dnsPacket.decode(encodeQuery(Q, 7, { edns: false })).additionals).toEqual([]);
  });
});

describe('decodeResponse', () => {
  it('reads an answer listing 1000 PTR records (a TCP answer larger than any mDNS message)', () => {
    const Qp = { name: 'big.test.', type: 'PTR' as const };
    const answers: Answer[] = Array.from({ length: 1000 }, (_, i) => ({ type: 'PTR', name: 'big.test', ttl: 60, data: `c${i}._liqo._tcp.big.test` }));
    const buf = dnsPacket.encode({ type: 'response', id: 9, flags: dnsPacket.AUTHORITATIVE_ANSWER, questions: [{ type: 'PTR', name: 'big.test', class: 'IN' }], answers });
    const r = decodeResponse(buf, Qp, 9);
    expect(r.ok && r.response.answers.length).toBe(1000);
  });

  it('returns the records of an answer to our question, names absolute', () => {
    const r = decodeResponse(response(), Q, 4242);
    expect(r).toEqual({
      ok: true,
      response: {
        rcode: 'NOERROR',
        truncated: false,
        authoritative: true,
        answers: [{ type: 'SRV', name: 'liqo1._liqo._tcp.mydomain.com.', ttl: 60, priority: 0, weight: 0, port: 6443, target: 'apiserver1.mydomain.com.' }],
        authorities: [],
        additionals: [{ type: 'A', name: 'apiserver1.mydomain.com.', ttl: 30, address: '198.18.0.11' }],
      },
    });
  });

  it('matches the question case-insensitively', () => {
    expect(decodeResponse(response(), { ...Q, name: 'LIQO1._liqo._tcp.MyDomain.com' }, 4242).ok).toBe(true);
  });

  it('drops an answer with another ID, another question, or that is a query', () => {
    expect(decodeResponse(response(), Q, 4243)).toMatchObject({ ok: false, kind: 'mismatch' });
    expect(decodeResponse(response(), { ...Q, type: 'TXT' }, 4242)).toMatchObject({ ok: false, kind: 'mismatch' });
    expect(decodeResponse(response(), { ...Q, name: 'liqo2._liqo._tcp.mydomain.com.' }, 4242)).toMatchObject({ ok: false, kind: 'mismatch' });
    expect(decodeResponse(encodeQuery(Q, 4242), Q, 4242)).toMatchObject({ ok: false, kind: 'malformed' });
    expect(decodeResponse(response({ questions: [] }), Q, 4242)).toMatchObject({ ok: false, kind: 'mismatch' });
  });

  it('reports RCODEs, and accepts an error answer without a question', () => {
    expect(decodeResponse(response({ rcode: 3, answers: [] }), Q, 4242)).toMatchObject({ ok: true, response: { rcode: 'NXDOMAIN' } });
    expect(decodeResponse(response({ rcode: 2, questions: [], answers: [] }), Q, 4242)).toMatchObject({ ok: true, response: { rcode: 'SERVFAIL' } });
  });

  it('keeps the TC bit even when the truncated packet cannot be decoded', () => {
    const full = response({ flags: dnsPacket.TRUNCATED_RESPONSE });
    expect(decodeResponse(full, Q, 4242)).toMatchObject({ ok: true, response: { truncated: true } });
    expect(decodeResponse(full.subarray(0, full.length - 5), Q, 4242)).toMatchObject({ ok: true, response: { truncated: true, answers: [] } });
  });

  it('ignores records of other classes and with the mDNS cache-flush bit', () => {
    const answers: Answer[] = [
      { type: 'SRV', name: 'liqo1._liqo._tcp.mydomain.com', class: 'CH', ttl: 60, data: { port: 1, target: 'x' } },
      { type: 'SRV', name: 'liqo1._liqo._tcp.mydomain.com', flush: true, ttl: 60, data: { port: 2, target: 'y' } },
    ];
    expect(decodeResponse(response({ answers }), Q, 4242)).toMatchObject({ ok: true, response: { answers: [] } });
  });

  it('rejects a packet cut inside a record instead of inventing its data', () => {
    const full = response();
    expect(decodeResponse(full.subarray(0, full.length - 3), Q, 4242)).toMatchObject({ ok: false, kind: 'malformed' });
  });

  it('never throws on short or garbage input', () => {
    expect(decodeResponse(Buffer.alloc(0), Q, 1)).toMatchObject({ ok: false, kind: 'malformed' });
    expect(decodeResponse(Buffer.from('hello world!!'), Q, 0x6865)).toMatchObject({ ok: false });
    const cut = response().subarray(0, 40);
    expect(decodeResponse(cut, Q, 4242)).toMatchObject({ ok: false, kind: 'malformed' });
  });
});
