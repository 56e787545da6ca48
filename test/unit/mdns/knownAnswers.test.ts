import { describe, expect, it } from 'vitest';
import { Flags } from '../../../src/mdns/constants.js';
import { decodePacket, encodePacket, type ResourceRecord } from '../../../src/mdns/codec.js';
import { buildQueryPackets, indexKnownAnswers, isSuppressed, qualifiesAsKnownAnswer } from '../../../src/mdns/knownAnswers.js';

const ptr = (n: number, ttl: number): ResourceRecord => ({
  name: '_liqo._tcp.local',
  rrclass: 1,
  cacheFlush: false,
  ttl,
  type: 'PTR',
  target: `instance-number-${n}-with-a-longish-name._liqo._tcp.local`,
});

describe('known-answer suppression (RFC 6762 §7.1)', () => {
  it('suppresses an answer the querier lists with at least half its true TTL', () => {
    expect(isSuppressed(ptr(1, 90), indexKnownAnswers([ptr(1, 45)]))).toBe(true);
    expect(isSuppressed(ptr(1, 90), indexKnownAnswers([ptr(1, 44)]))).toBe(false);
    expect(isSuppressed(ptr(1, 90), indexKnownAnswers([ptr(2, 90)]))).toBe(false);
  });

  it('matches names case-insensitively and ignores the cache-flush bit', () => {
    const listed: ResourceRecord = { ...ptr(1, 90), name: '_LIQO._tcp.LOCAL', cacheFlush: true };
    expect(isSuppressed(ptr(1, 90), indexKnownAnswers([listed]))).toBe(true);
  });

  it('lists a cached record only while at least half of its TTL remains', () => {
    expect(qualifiesAsKnownAnswer(45_000, 90)).toBe(true);
    expect(qualifiesAsKnownAnswer(44_999, 90)).toBe(false);
  });

  it('splits long known-answer lists over packets with the TC bit on all but the last (§7.2)', () => {
    const known = Array.from({ length: 60 }, (_, i) => ptr(i, 90));
    const packets = buildQueryPackets([{ name: '_liqo._tcp.local', type: 12, qclass: 1, unicastResponse: false }], known, 1400);
    expect(packets.length).toBeGreaterThan(1);
    packets.forEach((p, i) => {
      const wire = encodePacket(p);
      expect(wire.length).toBeLessThanOrEqual(1400);
      expect((p.flags & Flags.truncated) !== 0).toBe(i < packets.length - 1);
      expect(decodePacket(wire).ok).toBe(true);
    });
    expect(packets[0]!.questions).toHaveLength(1);
    expect(packets.slice(1).every((p) => p.questions.length === 0)).toBe(true);
    expect(packets.flatMap((p) => p.answers)).toHaveLength(60);
  });
});
