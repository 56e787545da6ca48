/**
 * What third-party stacks (python-zeroconf, avahi) saw on the wire from kubepeer, as behaviours of
 * the engine on the simulated LAN: goodbyes after a lost conflict, RFC 6762 §10 TTLs, which queries
 * are probes, the QU bit, one question at a time, IPv6 browsing, and records in the seeds' layout.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { RRType } from '../../../src/mdns/constants.js';
import { encodePacket, isResponse, type DnsPacket, type ResourceRecord } from '../../../src/mdns/codec.js';
import { MdnsEngine } from '../../../src/mdns/engine.js';
import { ManualClock, SimLan, decodedSent, eventsOf, inject, seededRandom, silentLog, twoNodes, type SimNode } from './support.js';

const SERVICE = '_liqo._tcp.local';

function queriesOf(n: SimNode, since = 0): Array<{ at: number; packet: DnsPacket }> {
  return decodedSent(n, since).filter((s) => !isResponse(s.packet));
}

function response(answers: ResourceRecord[], additionals: ResourceRecord[] = []): DnsPacket {
  return { id: 0, flags: 0x8400, questions: [], answers, authorities: [], additionals };
}

/** A responder that is not kubepeer: the records of one instance in the seeds' layout. */
function seedInstance(opts: { label: string; txt: string[]; target: string; address?: string; port?: number; ttl?: number }): ResourceRecord[] {
  const ttl = opts.ttl ?? 120;
  const instance = `${opts.label}.${SERVICE}`;
  const base = { rrclass: 1, cacheFlush: false, ttl };
  return [
    { ...base, name: SERVICE, type: 'PTR', target: instance },
    { ...base, cacheFlush: true, name: instance, type: 'SRV', priority: 0, weight: 0, port: opts.port ?? 6443, target: opts.target },
    { ...base, cacheFlush: true, name: instance, type: 'TXT', strings: opts.txt.map((t) => new Uint8Array(Buffer.from(t))) },
    ...(opts.address ? [{ ...base, cacheFlush: true, name: opts.target, type: 'A' as const, address: opts.address }] : []),
  ];
}

describe('on the wire, as third-party stacks see it', () => {
  it('after losing a name conflict it sends no goodbye for the PTR of the lost name, which the winner now owns', () => {
    const lan = new SimLan(7);
    // same short ID, so the same instance and host names; each announces while the other is cut off
    const a = lan.add({ name: 'a', clusterID: 'abcdef12-0001', address: '10.0.0.2', browse: false });
    a.cut = true;
    const b = lan.add({ name: 'b', clusterID: 'abcdef12-0002', address: '10.0.0.3' });
    lan.clock.advance(5000);
    a.cut = false;
    const lostName = `MyLiqo-abcdef12.${SERVICE}`;
    expect(b.engine.advertisement()?.instance).toBe(lostName);
    const since = lan.clock.now();
    a.advertiseWith({ url: 'https://10.0.0.2:7443' }); // a's re-announcement meets b's records
    lan.runUntil(() => eventsOf(b, 'renamed').length + eventsOf(a, 'renamed').length > 0, 10_000, () => ({ a: a.events, b: b.events }));
    lan.clock.advance(5000);
    const loser = eventsOf(b, 'renamed').length > 0 ? b : a;
    expect(eventsOf(loser, 'renamed')[0]!.rename).toMatchObject({ kind: 'instance', from: lostName });
    const goodbyes = decodedSent(loser, since)
      .filter((s) => isResponse(s.packet))
      .flatMap((s) => s.packet.answers.filter((rr) => rr.ttl === 0));
    expect(goodbyes.filter((rr) => rr.type === 'PTR' && rr.target === lostName)).toEqual([]);
    expect(goodbyes.filter((rr) => rr.name === lostName)).toEqual([]);
    // nor does the loser's own browser let the winner go while the two record sets overlap
    const winner = loser === a ? b : a;
    expect(eventsOf(loser, 'down').filter((e) => e.down.clusterID === winner.clusterID)).toEqual([]);
    // and the winner is still listed by a browser on the LAN
    const c = lan.add({ name: 'c', clusterID: 'cccccccc-0003', address: '10.0.0.4' });
    lan.runUntil(() => c.engine.peers().some((p) => p.instance === lostName), 5000, () => c.engine.peers());
  });

  it("keeps the winner of a name listed while its records and our own looped-back copy overlap in the cache", () => {
    const lan = new SimLan(11);
    const a = lan.add({ name: 'a', clusterID: 'abcdef12-0001', address: '10.0.0.2' });
    lan.clock.advance(5000);
    const name = a.engine.advertisement()!.instance;
    const ourAnnouncement = decodedSent(a).find((s) => isResponse(s.packet) && s.packet.answers.some((rr) => rr.type === 'SRV'))!.packet;
    // another stack takes the name (python-zeroconf registering it without probing) ...
    const theirs = seedInstance({ label: name.split('.')[0]!, txt: ['id=ff5aa14a-dd6e-4fd2-80fe-eaecb827cf55'], target: 'winner.local', address: '10.0.0.9' });
    inject(a, response(theirs), '10.0.0.9');
    // ... and our own announcement comes back over the other family a few ms later
    lan.clock.advance(8);
    inject(a, ourAnnouncement, '10.0.0.2');
    lan.clock.advance(100);
    expect(eventsOf(a, 'up').map((e) => e.peer.clusterID)).toEqual(['ff5aa14a-dd6e-4fd2-80fe-eaecb827cf55']);
    expect(eventsOf(a, 'down')).toEqual([]);
  });

  it('uses 4500 s for PTR and TXT and the configured ttl for SRV and A (RFC 6762 §10)', () => {
    const { lan, a } = twoNodes(120);
    const announcement = decodedSent(a, 0).find((s) => isResponse(s.packet) && s.packet.answers.length > 0)!;
    const ttls = Object.fromEntries(announcement.packet.answers.map((rr) => [`${rr.type} ${rr.name}`, rr.ttl]));
    expect(ttls).toEqual({
      [`PTR ${SERVICE}`]: 4500,
      'PTR _services._dns-sd._udp.local': 4500,
      [`SRV MyLiqo-aaaaaaaa.${SERVICE}`]: 120,
      [`TXT MyLiqo-aaaaaaaa.${SERVICE}`]: 4500,
      'A MyLiqo-aaaaaaaa.local': 120,
    });
  });

  it('a peer that vanishes without a goodbye is dropped when its SRV expires, though its PTR lives 4500 s', () => {
    const { lan, a, b } = twoNodes(10);
    b.cut = true;
    const cutAt = lan.clock.now();
    lan.runUntil(() => eventsOf(a, 'down').length === 1, 30_000, () => a.events);
    expect(eventsOf(a, 'down')[0]).toMatchObject({ down: { reason: 'expired' } });
    expect(eventsOf(a, 'down')[0]!.at - cutAt).toBeLessThan(12_000);
  });

  it('answers a query that has an Authority section about other names like any query: shared records after 20-120 ms', () => {
    const { lan, a } = twoNodes();
    lan.clock.advance(10_000);
    const since = lan.clock.now();
    // a browse query that also carries an Authority section (some stacks send one) about a name not ours
    const browseWithOtherAuthority: DnsPacket = {
      id: 0,
      flags: 0,
      questions: [{ name: SERVICE, type: RRType.PTR, qclass: 1, unicastResponse: false }],
      answers: [],
      authorities: [{ name: `other.${SERVICE}`, type: 'SRV', rrclass: 1, cacheFlush: false, ttl: 120, priority: 0, weight: 0, port: 1, target: 'other.local' }],
      additionals: [],
    };
    inject(a, browseWithOtherAuthority);
    lan.clock.advance(300);
    const responses = decodedSent(a, since).filter((s) => isResponse(s.packet));
    expect(responses).toHaveLength(1);
    expect(responses[0]!.at - since).toBeGreaterThanOrEqual(20);
    expect(responses[0]!.packet.answers.map((r) => r.type)).toEqual(['PTR']);
    // nor is it a probe defence: the PTR is multicast at most once a second, not every 250 ms
    const again = lan.clock.now();
    for (let k = 0; k < 3; k++) {
      inject(a, browseWithOtherAuthority, `10.0.0.${60 + k}`);
      lan.clock.advance(300);
    }
    expect(decodedSent(a, since).filter((s) => isResponse(s.packet)).length, `responses since ${since}, last burst from ${again}`).toBe(1);
  });

  it('defends its unique names against a probe at once, and still delays shared records', () => {
    const { lan, a } = twoNodes();
    lan.clock.advance(10_000);
    const since = lan.clock.now();
    const instance = `MyLiqo-aaaaaaaa.${SERVICE}`;
    inject(a, {
      id: 0,
      flags: 0,
      questions: [
        { name: instance, type: RRType.ANY, qclass: 1, unicastResponse: true },
        { name: SERVICE, type: RRType.PTR, qclass: 1, unicastResponse: false },
      ],
      answers: [],
      authorities: [{ name: instance, type: 'SRV', rrclass: 1, cacheFlush: false, ttl: 120, priority: 0, weight: 0, port: 1, target: 'intruder.local' }],
      additionals: [],
    });
    const immediate = decodedSent(a, since).filter((s) => isResponse(s.packet));
    expect(immediate).toHaveLength(1);
    expect(immediate[0]!.packet.answers.map((r) => r.type).sort()).toEqual(['SRV', 'TXT']);
    lan.clock.advance(300);
    const later = decodedSent(a, since).filter((s) => isResponse(s.packet)).slice(1);
    expect(later.flatMap((s) => s.packet.answers.map((r) => r.type))).toEqual(['PTR']);
    expect(later[0]!.at - since).toBeGreaterThanOrEqual(20);
  });

  it('sets the QU bit on probes (§8.1) and on the first query after starting (§5.4), not on later queries', () => {
    const lan = new SimLan(3);
    const a = lan.add({ name: 'a', clusterID: 'aaaaaaaa-0001', address: '10.0.0.2' });
    lan.clock.advance(5000);
    const probes = queriesOf(a).filter((s) => s.packet.authorities.length > 0);
    expect(probes).toHaveLength(3);
    for (const p of probes) expect(p.packet.questions.every((q) => q.unicastResponse)).toBe(true);
    const browse = queriesOf(a).filter((s) => s.packet.authorities.length === 0 && s.packet.questions.some((q) => q.name === SERVICE));
    expect(browse.length).toBeGreaterThanOrEqual(3);
    expect(browse.map((s) => s.packet.questions.find((q) => q.name === SERVICE)!.unicastResponse)).toEqual([true, ...browse.slice(1).map(() => false)]);
  });

  it('sends one question once, however many schedules fall due for it within a second', () => {
    const lan = new SimLan(5);
    const a = lan.add({ name: 'a', clusterID: 'aaaaaaaa-0001', address: '10.0.0.2', advertise: false });
    lan.clock.advance(20_000); // continuous querying is far apart by now
    // two responders (not kubepeer) whose PTRs, seen together with a 100 s TTL, fall due for
    // refresh close to each other; neither answers, so every step of the refresh ladder is asked
    for (const [i, src] of ['10.0.0.8', '10.0.0.9'].entries()) {
      const records = seedInstance({ label: `peer${i}`, txt: ['id=peer-' + i], target: `peer${i}.local`, address: src, ttl: 100 });
      inject(a, response(records), src);
    }
    const since = lan.clock.now();
    lan.clock.advance(110_000);
    const sends = queriesOf(a, since).flatMap((s) => s.packet.questions.map((q) => ({ at: s.at, key: `${q.type} ${q.name}` })));
    const byKey = new Map<string, number[]>();
    for (const s of sends) byKey.set(s.key, [...(byKey.get(s.key) ?? []), s.at]);
    expect(byKey.get(`${RRType.PTR} ${SERVICE}`)?.length, 'the PTR was refreshed').toBeGreaterThan(0);
    for (const [key, times] of byKey) {
      for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!, `${key} sent twice`).toBeGreaterThanOrEqual(1000);
    }
  });

  it("refreshes a peer's SRV and address with one SRV question (the address comes along as an additional record)", () => {
    const { lan, a } = twoNodes(10);
    const since = lan.clock.now();
    lan.clock.advance(60_000);
    const asked = queriesOf(a, since).flatMap((s) => s.packet.questions.map((q) => `${q.type} ${q.name}`));
    expect(asked).toContain(`${RRType.SRV} MyLiqo-bbbbbbbb.${SERVICE}`);
    expect(asked.filter((q) => q.startsWith(`${RRType.A} `) || q.startsWith(`${RRType.AAAA} `))).toEqual([]);
    expect(eventsOf(a, 'down')).toEqual([]);
  });

  it('browses over IPv6 too when the link has a link-local IPv6 address', () => {
    const clock = new ManualClock();
    const sent: string[] = [];
    const engine = new MdnsEngine({ clock, random: seededRandom(1), log: silentLog, mdnsPort: 5353 }, { send: (_d, t) => sent.push(t.family) }, () => undefined);
    engine.setLinks([{ name: 'eth0', ipv4: [{ address: '10.0.0.2', prefixLength: 24 }], ipv6: [{ address: 'fe80::2', prefixLength: 64 }] }]);
    engine.browse({ serviceName: SERVICE, ownClusterID: 'aaaaaaaa-0001' });
    clock.advance(200);
    expect(sent.sort()).toEqual(['IPv4', 'IPv6']);
  });

  it("accepts the seeds' layout (id and namespace in TXT, the address in SRV and A) and builds the URL from SRV", () => {
    const lan = new SimLan(9);
    const a = lan.add({ name: 'a', clusterID: 'aaaaaaaa-0001', address: '10.0.0.2', advertise: false });
    lan.clock.advance(200);
    inject(a, response(seedInstance({ label: 'liqo-cluster', txt: ['id=ff5aa14a-dd6e-4fd2-80fe-eaecb827cf55', 'namespace=liqo'], target: 'liqo-cluster-api.local', address: '10.0.0.7', port: 6443 })), '10.0.0.7');
    lan.clock.advance(50);
    expect(eventsOf(a, 'up').map((e) => e.peer)).toMatchObject([
      { clusterID: 'ff5aa14a-dd6e-4fd2-80fe-eaecb827cf55', namespace: 'liqo', url: 'https://10.0.0.7:6443', host: 'liqo-cluster-api.local', addresses: ['10.0.0.7'] },
    ]);
  });

  it('in the seeds layout without an address, asks for it, then falls back to the SRV target name', () => {
    const lan = new SimLan(9);
    const a = lan.add({ name: 'a', clusterID: 'aaaaaaaa-0001', address: '10.0.0.2', advertise: false });
    lan.clock.advance(200);
    inject(a, response(seedInstance({ label: 'noaddr', txt: ['id=noaddr-1'], target: 'api.noaddr.local', port: 8443 })), '10.0.0.7');
    lan.clock.advance(100);
    expect(eventsOf(a, 'up')).toEqual([]);
    lan.runUntil(() => eventsOf(a, 'up').length === 1, 20_000, () => a.events);
    expect(queriesOf(a).some((s) => s.packet.questions.some((q) => q.type === RRType.A && q.name === 'api.noaddr.local'))).toBe(true);
    expect(eventsOf(a, 'up')[0]!.peer.url).toBe('https://api.noaddr.local:8443');
  });

  it('logs every refused instance with its reason, at most 10 lines a minute, then says how many were left out', () => {
    const lines: Array<Record<string, unknown>> = [];
    const log = pino({ level: 'warn' }, new Writable({ write: (chunk, _enc, done) => (lines.push(JSON.parse(String(chunk))), done()) }));
    const clock = new ManualClock();
    const engine = new MdnsEngine({ clock, random: seededRandom(2), log, mdnsPort: 5353 }, { send: () => undefined }, () => undefined);
    engine.setLinks([{ name: 'eth0', ipv4: [{ address: '10.0.0.2', prefixLength: 24 }], ipv6: [] }]);
    engine.browse({ serviceName: SERVICE, ownClusterID: 'aaaaaaaa-0001' });
    const feed = (label: string, txt: string[]): void => {
      const data = response(seedInstance({ label, txt, target: `${label}.local`, address: '10.0.0.7' }));
      engine.handleDatagram({ data: encodePacket(data), address: '10.0.0.7', port: 5353, family: 'IPv4' });
    };
    feed('bad-id', ['id=Not_A_Valid_ID']);
    feed('no-id', ['namespace=liqo']);
    feed('http', ['id=http-1', 'url=http://10.0.0.7:6443']);
    clock.advance(10);
    expect(lines.map((l) => [l.instance, l.reason])).toEqual([
      [`bad-id.${SERVICE}`, 'InvalidClusterID'],
      [`no-id.${SERVICE}`, 'MissingClusterID'],
      [`http.${SERVICE}`, 'InvalidTXT'],
    ]);
    for (let i = 0; i < 12; i++) feed(`more${i}`, ['id=']);
    clock.advance(61_000);
    feed('after', ['id=UPPER']);
    clock.advance(10);
    expect(lines).toHaveLength(11);
    expect(lines[10]).toMatchObject({ instance: `after.${SERVICE}`, notLoggedBefore: 5 });
  });
});
