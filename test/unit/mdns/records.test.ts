import dnsPacket from 'dns-packet';
import { describe, expect, it } from 'vitest';
import { encodePacket, RESPONSE_FLAGS, type ResourceRecord } from '../../../src/mdns/codec.js';
import { buildRecordSet, recordsOf, tieBreak } from '../../../src/mdns/records.js';
import { buildClusterTxt } from '../../../src/mdns/txt.js';

const spec = {
  instanceLabel: 'MyLiqo-1234abcd',
  hostLabel: 'MyLiqo-1234abcd',
  service: '_liqo._tcp',
  domain: 'local',
  port: 6443,
  ttl: 90,
  txt: buildClusterTxt({ clusterID: '1234abcd-0000', namespace: 'liqo', url: 'https://198.18.0.2:6443' }),
};

describe('the records a responder announces', () => {
  const set = buildRecordSet(spec, { ipv4: ['198.18.0.2'], ipv6: ['fe80::2'] });
  const announcement = dnsPacket.decode(
    Buffer.from(encodePacket({ id: 0, flags: RESPONSE_FLAGS, questions: [], answers: recordsOf(set), authorities: [], additionals: [] })),
  );
  const byType = (t: string) => announcement.answers!.filter((a) => a.type === t);

  it('sets the cache-flush bit on unique records only (SRV, TXT, A, AAAA), never on PTRs', () => {
    for (const a of byType('PTR')) expect(a).toMatchObject({ flush: false });
    for (const t of ['SRV', 'TXT', 'A', 'AAAA']) {
      expect(byType(t).length, t).toBeGreaterThan(0);
      for (const a of byType(t)) expect(a, t).toMatchObject({ flush: true });
    }
  });

  it('uses the configured ttl for records naming a host (SRV, A, AAAA) and 4500 s for PTR, TXT and the enumeration PTR (RFC 6762 §10)', () => {
    for (const t of ['SRV', 'A', 'AAAA']) for (const a of byType(t)) expect(a, t).toMatchObject({ ttl: 90 });
    for (const t of ['PTR', 'TXT']) for (const a of byType(t)) expect(a, t).toMatchObject({ ttl: 4500 });
    expect(byType('PTR')).toHaveLength(2);
  });

  it('names the instance <name>-<short id>._liqo._tcp.local and enumerates the service type', () => {
    expect(byType('PTR').map((a) => [a.name, (a as { data: unknown }).data])).toEqual([
      ['_liqo._tcp.local', 'MyLiqo-1234abcd._liqo._tcp.local'],
      ['_services._dns-sd._udp.local', '_liqo._tcp.local'],
    ]);
    expect(byType('SRV')[0]).toMatchObject({ name: 'MyLiqo-1234abcd._liqo._tcp.local', data: { port: 6443, target: 'MyLiqo-1234abcd.local' } });
    expect(byType('A')[0]).toMatchObject({ name: 'MyLiqo-1234abcd.local', data: '198.18.0.2' });
  });

  it('puts txtvers=1 first in the TXT, then id, namespace and url', () => {
    const txt = ((byType('TXT')[0] as { data: Buffer[] }).data).map((b) => b.toString());
    expect(txt).toEqual(['txtvers=1', 'id=1234abcd-0000', 'namespace=liqo', 'url=https://198.18.0.2:6443']);
  });
});

describe('simultaneous-probe tie-break (RFC 6762 §8.2)', () => {
  const a = (address: string): ResourceRecord => ({ name: 'h.local', rrclass: 1, cacheFlush: false, ttl: 120, type: 'A', address });

  it('the lexicographically later rdata wins', () => {
    expect(tieBreak([a('10.0.0.3')], [a('10.0.0.2')])).toBeGreaterThan(0);
    expect(tieBreak([a('10.0.0.2')], [a('10.0.0.3')])).toBeLessThan(0);
  });

  it('compares sorted sets, and a longer identical prefix wins', () => {
    expect(tieBreak([a('10.0.0.9'), a('10.0.0.1')], [a('10.0.0.1'), a('10.0.0.9')])).toBe(0);
    expect(tieBreak([a('10.0.0.1'), a('10.0.0.9')], [a('10.0.0.1')])).toBeGreaterThan(0);
  });

  it('compares the type before the rdata', () => {
    const aaaa: ResourceRecord = { name: 'h.local', rrclass: 1, cacheFlush: false, ttl: 120, type: 'AAAA', address: '::1' };
    expect(tieBreak([aaaa], [a('255.255.255.255')])).toBeGreaterThan(0);
  });
});
