import { describe, expect, it } from 'vitest';
import { Flags, RRType } from '../../../src/mdns/constants.js';
import { encodePacket, isResponse, type DnsPacket, type ResourceRecord } from '../../../src/mdns/codec.js';
import { buildClusterTxt } from '../../../src/mdns/txt.js';
import { ID, SimLan, decodedSent, eventsOf, inject, peersOf, twoNodes } from './support.js';

describe('mDNS engine on a simulated LAN', () => {
  it('two clusters discover each other within 1.5 s of starting (probing + first announcement)', () => {
    const lan = new SimLan();
    const a = lan.add({ name: 'a', clusterID: ID.a, address: '10.0.0.2' });
    const b = lan.add({ name: 'b', clusterID: ID.b, address: '10.0.0.3' });
    const took = lan.runUntil(
      () => eventsOf(a, 'up').length === 1 && eventsOf(b, 'up').length === 1,
      5000,
      () => ({ a: a.events, b: b.events }),
    );
    expect(took).toBeLessThan(1500);
    expect(eventsOf(a, 'up')[0]!.peer).toMatchObject({
      clusterID: ID.b,
      url: 'https://10.0.0.3:6443',
      port: 6443,
      namespace: 'liqo',
      instance: 'MyLiqo-bbbbbbbb._liqo._tcp.local',
      host: 'MyLiqo-bbbbbbbb.local',
      addresses: ['10.0.0.3'],
      ttl: 90,
      sourceAddress: '10.0.0.3',
      interface: 'eth0',
    });
    expect(eventsOf(b, 'up')[0]!.peer).toMatchObject({ clusterID: ID.a, url: 'https://10.0.0.2:6443' });
  });

  it('probes three times 250 ms apart before announcing, then announces at least twice 1 s apart', () => {
    const lan = new SimLan();
    const a = lan.add({ name: 'a', clusterID: ID.a, address: '10.0.0.2', browse: false });
    lan.clock.advance(5000);
    const sent = decodedSent(a);
    const probes = sent.filter((s) => !isResponse(s.packet) && s.packet.authorities.length > 0);
    const announcements = sent.filter((s) => isResponse(s.packet));
    expect(probes).toHaveLength(3);
    expect(probes[1]!.at - probes[0]!.at).toBe(250);
    expect(probes[2]!.at - probes[1]!.at).toBe(250);
    expect(probes[0]!.at - (lan.clock.now() - 5000)).toBeLessThanOrEqual(250);
    expect(announcements.length).toBeGreaterThanOrEqual(2);
    expect(announcements[0]!.at - probes[2]!.at).toBe(250);
    expect(announcements[1]!.at - announcements[0]!.at).toBe(1000);
    // probes ask ANY for the instance and host names and carry the proposed records in Authority
    expect(probes[0]!.packet.questions.map((q) => [q.name, q.type])).toEqual([
      ['MyLiqo-aaaaaaaa._liqo._tcp.local', RRType.ANY],
      ['MyLiqo-aaaaaaaa.local', RRType.ANY],
    ]);
    expect(probes[0]!.packet.authorities.map((r) => r.type).sort()).toEqual(['A', 'SRV', 'TXT']);
  });

  it('discovers a third cluster started later, on both sides', () => {
    const { lan, a, b } = twoNodes();
    lan.clock.advance(30_000);
    const c = lan.add({ name: 'c', clusterID: ID.c, address: '10.0.0.4' });
    lan.runUntil(
      () => [a, b].every((n) => peersOf(n).some((p) => p.clusterID === ID.c)) && peersOf(c).length === 2,
      3000,
      () => ({ a: peersOf(a), b: peersOf(b), c: peersOf(c) }),
    );
  });

  it('a clean stop sends a goodbye and the others report down (goodbye) at once', () => {
    const { lan, a, b } = twoNodes();
    const stoppedAt = lan.clock.now();
    a.engine.shutdown();
    const goodbye = decodedSent(a, stoppedAt).find((s) => isResponse(s.packet));
    expect(goodbye?.packet.answers.every((r) => r.ttl === 0)).toBe(true);
    lan.runUntil(() => eventsOf(b, 'down').length === 1, 3000, () => b.events);
    const down = eventsOf(b, 'down')[0]!;
    expect(down.down).toEqual({ clusterID: ID.a, instance: 'MyLiqo-aaaaaaaa._liqo._tcp.local', reason: 'goodbye' });
    expect(down.at - stoppedAt).toBeLessThan(100);
    expect(peersOf(b)).toEqual([]);
    // the records themselves stay cached one more second (RFC 6762 §10.1) and then go, with no second event
    lan.clock.advance(3000);
    expect(eventsOf(b, 'down')).toHaveLength(1);
  });

  it('a goodbye rescued within its second by a fresh announcement of the same records brings the peer back', () => {
    const { lan, a, b } = twoNodes();
    const announcement = decodedSent(a).find((s) => isResponse(s.packet) && s.packet.answers.some((r) => r.type === 'SRV' && r.ttl > 0))!.packet;
    a.engine.shutdown();
    lan.runUntil(() => eventsOf(b, 'down').length === 1, 3000, () => b.events);
    lan.clock.advance(300);
    inject(b, announcement, '10.0.0.2');
    lan.clock.advance(200);
    expect(eventsOf(b, 'up').filter((e) => e.peer.clusterID === ID.a)).toHaveLength(2);
    expect(peersOf(b)).toEqual([{ clusterID: ID.a, url: 'https://10.0.0.2:6443', instance: 'MyLiqo-aaaaaaaa._liqo._tcp.local' }]);
  });

  it('a cluster whose link is cut is dropped when its TTL runs out (down: expired)', () => {
    const { lan, a, b } = twoNodes(4);
    lan.clock.advance(20_000); // several refresh cycles with a short TTL: still up
    expect(eventsOf(b, 'down')).toEqual([]);
    const cutAt = lan.clock.now();
    a.cut = true;
    lan.runUntil(() => eventsOf(b, 'down').length === 1, 6000, () => b.events);
    const down = eventsOf(b, 'down')[0]!;
    expect(down.down.reason).toBe('expired');
    expect(down.at - cutAt).toBeLessThanOrEqual(4000);
    // b asked before giving up: refresh queries at 80-95 % of the TTL
    const queriesAfterCut = decodedSent(b, cutAt).filter((s) => !isResponse(s.packet));
    expect(queriesAfterCut.length).toBeGreaterThanOrEqual(2);
  });

  it('keeps a peer with a short TTL alive through refresh queries', () => {
    const { lan, a, b } = twoNodes(2);
    lan.clock.advance(120_000);
    expect(eventsOf(a, 'down')).toEqual([]);
    expect(eventsOf(b, 'down')).toEqual([]);
    expect(peersOf(b)).toHaveLength(1);
  });

  it('turning advertisement off sends a goodbye; the others forget us, and we keep browsing', () => {
    const { lan, a, b } = twoNodes();
    a.engine.advertise(null);
    expect(eventsOf(a, 'withdrawn')).toHaveLength(1);
    lan.runUntil(() => eventsOf(b, 'down').length === 1, 3000, () => b.events);
    expect(eventsOf(b, 'down')[0]!.down.reason).toBe('goodbye');
    expect(peersOf(a).map((p) => p.clusterID)).toEqual([ID.b]);
    // and back on: announced again and rediscovered
    a.advertiseWith({});
    lan.runUntil(() => eventsOf(b, 'up').length === 2, 3000, () => b.events);
  });

  it('re-announces a URL change; the others report an update of the url', () => {
    const { lan, a, b } = twoNodes();
    a.advertiseWith({ url: 'https://10.0.0.2:7443' });
    lan.runUntil(() => eventsOf(b, 'update').length === 1, 3000, () => b.events);
    expect(eventsOf(b, 'update')[0]!.peer).toMatchObject({ clusterID: ID.a, url: 'https://10.0.0.2:7443', changed: ['url'] });
    expect(eventsOf(b, 'conflict')).toEqual([]);
  });

  it('a name change says goodbye to the old instance and announces the new one, without a conflict', () => {
    const { lan, a, b } = twoNodes();
    a.advertiseWith({ prefix: 'Renamed' });
    lan.runUntil(
      () => peersOf(b).some((p) => p.instance === 'Renamed-aaaaaaaa._liqo._tcp.local'),
      5000,
      () => ({ peers: peersOf(b), events: b.events }),
    );
    lan.clock.advance(3000);
    expect(peersOf(b)).toEqual([{ clusterID: ID.a, url: 'https://10.0.0.2:6443', instance: 'Renamed-aaaaaaaa._liqo._tcp.local' }]);
    expect(eventsOf(b, 'conflict')).toEqual([]);
  });

  it('leaving an interface (runtime interfaces change) sends a goodbye on it first', () => {
    const { lan, a, b } = twoNodes();
    a.engine.setLinks([]);
    lan.runUntil(() => eventsOf(b, 'down').length === 1, 3000, () => b.events);
    expect(eventsOf(b, 'down')[0]!.down.reason).toBe('goodbye');
    // back on the link: probed, announced, rediscovered
    a.engine.setLinks([lan.link('10.0.0.2')]);
    lan.runUntil(() => eventsOf(b, 'up').length === 2, 3000, () => b.events);
  });

  it('ignores announcements of our own cluster ID', () => {
    const { a, b } = twoNodes();
    expect(peersOf(a).map((p) => p.clusterID)).toEqual([ID.b]);
    expect(peersOf(b).map((p) => p.clusterID)).toEqual([ID.a]);
    expect(a.engine.counters.ignoredRecords['own-id']).toBeGreaterThanOrEqual(1);
  });

  it('a host announcing a stolen cluster ID with another URL is renamed, flagged as conflict, and does not replace the first', () => {
    const { lan, a, b } = twoNodes();
    const thief = lan.add({ name: 'thief', clusterID: ID.a, address: '10.0.0.66', url: 'https://10.0.0.66:6443' });
    lan.runUntil(() => eventsOf(b, 'conflict').length >= 1, 5000, () => ({ b: b.events, thief: thief.events }));
    expect(eventsOf(thief, 'renamed').map((e) => e.rename)).toContainEqual({
      kind: 'instance',
      from: 'MyLiqo-aaaaaaaa._liqo._tcp.local',
      to: 'MyLiqo-aaaaaaaa (2)._liqo._tcp.local',
    });
    expect(eventsOf(b, 'conflict')[0]!.conflict).toEqual({
      clusterID: ID.a,
      instance: 'MyLiqo-aaaaaaaa (2)._liqo._tcp.local',
      url: 'https://10.0.0.66:6443',
      sourceAddress: '10.0.0.66',
      existing: { instance: 'MyLiqo-aaaaaaaa._liqo._tcp.local', url: 'https://10.0.0.2:6443' },
      own: false,
    });
    // the victim hears about the claim on its own ID
    lan.runUntil(() => eventsOf(a, 'conflict').length >= 1, 3000, () => a.events);
    expect(eventsOf(a, 'conflict')[0]!.conflict).toMatchObject({ clusterID: ID.a, own: true, url: 'https://10.0.0.66:6443' });
    lan.clock.advance(60_000);
    expect(peersOf(b)).toEqual([{ clusterID: ID.a, url: 'https://10.0.0.2:6443', instance: 'MyLiqo-aaaaaaaa._liqo._tcp.local' }]);
    expect(eventsOf(b, 'conflict')).toHaveLength(1); // reported once, not on every refresh
    expect(eventsOf(b, 'update')).toEqual([]);
  });

  it('two hosts probing for the same name at once: the tie-break makes exactly one of them rename', () => {
    const lan = new SimLan(11);
    // same first 8 characters of the cluster ID: same instance and host names
    const x = lan.add({ name: 'x', clusterID: 'dddddddd-0000-0000-0000-000000000001', address: '10.0.0.10', browse: false });
    const y = lan.add({ name: 'y', clusterID: 'dddddddd-0000-0000-0000-000000000002', address: '10.0.0.11', browse: false });
    const watcher = lan.add({ name: 'w', clusterID: ID.c, address: '10.0.0.12', advertise: false });
    lan.runUntil(() => peersOf(watcher).length === 2, 10_000, () => ({ w: peersOf(watcher), x: x.events, y: y.events }));
    const instances = peersOf(watcher).map((p) => p.instance).sort();
    expect(instances).toEqual(['MyLiqo-dddddddd (2)._liqo._tcp.local', 'MyLiqo-dddddddd._liqo._tcp.local']);
    expect(eventsOf(x, 'renamed').length + eventsOf(y, 'renamed').length).toBeGreaterThanOrEqual(1);
  });

  it('continuous querying backs off: 20-120 ms, then 1 s, doubling up to one hour, with known answers', () => {
    const lan = new SimLan();
    const lonely = lan.add({ name: 'l', clusterID: ID.a, address: '10.0.0.2', advertise: false });
    const t0 = lan.clock.now();
    lan.clock.advance(10 * 3600_000);
    const times = decodedSent(lonely).map((s) => s.at - t0);
    expect(times[0]).toBeGreaterThanOrEqual(20);
    expect(times[0]).toBeLessThanOrEqual(120);
    const gaps = times.slice(1).map((t, i) => Math.round((t - times[i]!) / 1000));
    expect(gaps.slice(0, 12)).toEqual([1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048]);
    expect(Math.max(...gaps)).toBe(3600);
    expect(times.length).toBeLessThan(25); // a 3 s poll would have sent 12 000
  });

  it('a query lists cached answers with at least half their TTL left, and the responder stays silent', () => {
    const { lan, a, b } = twoNodes();
    lan.clock.advance(10_000);
    const since = lan.clock.now();
    // force b to query now: a network change restarts continuous querying
    b.engine.setLinks([]);
    b.engine.setLinks([lan.link('10.0.0.3')]);
    lan.clock.advance(500);
    const q = decodedSent(b, since).find((s) => !isResponse(s.packet) && s.packet.questions.some((x) => x.type === RRType.PTR));
    expect(q, 'b sent a PTR query').toBeDefined();
    expect(q!.packet.answers.map((r) => (r as { target: string }).target)).toContain('MyLiqo-aaaaaaaa._liqo._tcp.local');
    expect(decodedSent(a, since).filter((s) => isResponse(s.packet))).toEqual([]);
    expect(a.engine.counters.suppressedAnswers).toBeGreaterThanOrEqual(1);
  });

  it('answers a PTR query after 20-120 ms with SRV, TXT and A as additional records', () => {
    const { lan, a } = twoNodes();
    lan.clock.advance(5000);
    const since = lan.clock.now();
    inject(a, { id: 0, flags: 0, questions: [{ name: '_liqo._tcp.local', type: RRType.PTR, qclass: 1, unicastResponse: false }], answers: [], authorities: [], additionals: [] }, '10.0.0.50');
    lan.clock.advance(200);
    const responses = decodedSent(a, since).filter((s) => isResponse(s.packet));
    expect(responses).toHaveLength(1);
    expect(responses[0]!.at - since).toBeGreaterThanOrEqual(20);
    expect(responses[0]!.at - since).toBeLessThanOrEqual(120);
    expect(responses[0]!.packet.answers.map((r) => r.type)).toEqual(['PTR']);
    expect(responses[0]!.packet.additionals.map((r) => r.type).sort()).toEqual(['A', 'SRV', 'TXT']);
    expect(responses[0]!.packet.questions).toEqual([]);
  });

  it('answers a query for a unique record at once, but multicasts a record at most once per second', () => {
    const { lan, a } = twoNodes();
    lan.clock.advance(5000);
    const srvQuery: DnsPacket = {
      id: 0,
      flags: 0,
      questions: [{ name: 'MyLiqo-aaaaaaaa._liqo._tcp.local', type: RRType.SRV, qclass: 1, unicastResponse: false }],
      answers: [],
      authorities: [],
      additionals: [],
    };
    const since = lan.clock.now();
    inject(a, srvQuery, '10.0.0.50');
    expect(decodedSent(a, since).filter((s) => isResponse(s.packet))).toHaveLength(1);
    lan.clock.advance(500);
    inject(a, srvQuery, '10.0.0.51');
    lan.clock.advance(200);
    expect(decodedSent(a, since).filter((s) => isResponse(s.packet))).toHaveLength(1);
    expect(a.engine.counters.rateLimitedAnswers).toBeGreaterThanOrEqual(1);
    lan.clock.advance(600);
    inject(a, srvQuery, '10.0.0.52');
    expect(decodedSent(a, since).filter((s) => isResponse(s.packet))).toHaveLength(2);
  });

  it('answers a legacy unicast query (source port not 5353) by unicast, echoing the id, with TTL <= 10', () => {
    const { lan, a } = twoNodes();
    lan.clock.advance(5000);
    const since = lan.clock.now();
    inject(
      a,
      { id: 4242, flags: 0, questions: [{ name: '_liqo._tcp.local', type: RRType.PTR, qclass: 1, unicastResponse: false }], answers: [], authorities: [], additionals: [] },
      '10.0.0.50',
      40000,
    );
    const r = decodedSent(a, since).find((s) => isResponse(s.packet))!;
    expect(r.packet.id).toBe(4242);
    expect(r.packet.questions).toHaveLength(1);
    expect([...r.packet.answers, ...r.packet.additionals].every((x) => x.ttl <= 10 && !x.cacheFlush)).toBe(true);
  });

  describe('drops and counts bad input', () => {
    const announcement = (instance: string, id: string, extraTxt: string[] = []): DnsPacket => {
      const name = `${instance}._liqo._tcp.local`;
      const base = { rrclass: 1, cacheFlush: false, ttl: 90 };
      return {
        id: 0,
        flags: Flags.response | Flags.authoritative,
        questions: [],
        answers: [
          { ...base, name: '_liqo._tcp.local', type: 'PTR', target: name },
          { ...base, cacheFlush: true, ttl: 120, name, type: 'SRV', priority: 0, weight: 0, port: 6443, target: `${instance}.local` },
          {
            ...base,
            cacheFlush: true,
            name,
            type: 'TXT',
            strings: [...buildClusterTxt({ clusterID: id, namespace: 'liqo', url: 'https://10.0.0.99:6443' }), ...extraTxt.map((t) => new Uint8Array(Buffer.from(t)))],
          },
          { ...base, cacheFlush: true, ttl: 120, name: `${instance}.local`, type: 'A', address: '10.0.0.99' },
        ],
        authorities: [],
        additionals: [],
      };
    };

    it('announcements from an off-link source address are dropped (RFC 6762 §11)', () => {
      const { b } = twoNodes();
      inject(b, announcement('evil', 'eeeeeeee-1'), '192.168.7.7');
      expect(b.engine.counters.dropped['off-link']).toBe(1);
      expect(peersOf(b).map((p) => p.clusterID)).toEqual([ID.a]);
    });

    it('responses from a source port other than 5353 are dropped', () => {
      const { b } = twoNodes();
      inject(b, announcement('evil', 'eeeeeeee-1'), '10.0.0.99', 12345);
      expect(b.engine.counters.dropped['bad-source-port']).toBe(1);
      expect(peersOf(b)).toHaveLength(1);
    });

    it('records of other services are ignored, and so is an oversized TXT', () => {
      const { b } = twoNodes();
      const other: ResourceRecord = { rrclass: 1, cacheFlush: false, ttl: 90, name: '_http._tcp.local', type: 'PTR', target: 'web._http._tcp.local' };
      inject(b, { id: 0, flags: Flags.response, questions: [], answers: [other], authorities: [], additionals: [] });
      expect(b.engine.counters.ignoredRecords['other-service']).toBeGreaterThanOrEqual(1);
      const big = Array.from({ length: 6 }, (_, i) => `pad${i}=${'x'.repeat(240)}`);
      inject(b, announcement('fat', 'ffffffff-1', big));
      expect(b.engine.counters.ignoredRecords['oversized-txt']).toBe(1);
      expect(peersOf(b).map((p) => p.clusterID)).toEqual([ID.a]);
    });

    it('a packet that is not a standard query or response (opcode/rcode) is dropped', () => {
      const { b } = twoNodes();
      inject(b, { ...announcement('x', 'eeeeeeee-2'), flags: Flags.response | (5 << 11) });
      inject(b, { ...announcement('y', 'eeeeeeee-3'), flags: Flags.response | 3 });
      expect(b.engine.counters.dropped['bad-opcode']).toBe(1);
      expect(b.engine.counters.dropped['bad-rcode']).toBe(1);
    });

    it('a flood of announcements is rate limited and never grows memory past the caps', () => {
      const lan = new SimLan();
      const b = lan.add({ name: 'b', clusterID: ID.b, address: '10.0.0.3', limits: { maxInstances: 64, maxRecords: 256 } });
      // one source: the per-source bucket empties quickly
      for (let i = 0; i < 5000; i++) inject(b, announcement(`flood-${i}`, `f${String(i).padStart(7, '0')}`), '10.0.0.200');
      expect(b.engine.counters.dropped['rate-limited']).toBeGreaterThan(4000);
      // many sources within the global budget: the instance and record caps hold
      for (let i = 0; i < 5000; i++) {
        inject(b, announcement(`spoof-${i}`, `s${String(i).padStart(7, '0')}`), `10.0.0.${2 + (i % 250)}`);
        if (i % 200 === 0) lan.clock.advance(1000);
      }
      const sizes = b.engine.sizes();
      expect(sizes.instances).toBeLessThanOrEqual(64);
      expect(sizes.cacheRecords).toBeLessThanOrEqual(256);
      expect(b.engine.counters.ignoredRecords['instance-limit']).toBeGreaterThan(0);
      expect(b.engine.counters.dropped['internal-error']).toBe(0);
    });
  });

  it('thirty clusters all find each other (more than one RRset cap worth of PTRs)', () => {
    const lan = new SimLan(5);
    const nodes = Array.from({ length: 30 }, (_, i) =>
      lan.add({ name: `n${i}`, clusterID: `${String(i).padStart(8, '0')}-x`, address: `10.0.0.${i + 2}` }),
    );
    lan.runUntil(
      () => nodes.every((n) => peersOf(n).length === 29),
      10_000,
      () => nodes.map((n) => peersOf(n).length),
      50,
    );
  });

  it('a steady LAN of 10 clusters sends at least 10x fewer packets than a 3-second periodic browse', () => {
    const lan = new SimLan(7);
    const nodes = Array.from({ length: 10 }, (_, i) => lan.add({ name: `n${i}`, clusterID: `c${i}aaaaaaa-${i}`, address: `10.0.0.${i + 2}` }));
    lan.runUntil(() => nodes.every((n) => peersOf(n).length === 9), 10_000, () => nodes.map((n) => peersOf(n).length));
    const start = lan.clock.now();
    const before = nodes.map((n) => n.sent.length);
    lan.clock.advance(5 * 60_000);
    const perMinutePerCluster = nodes.reduce((s, n, i) => s + n.sent.length - before[i]!, 0) / nodes.length / 5;
    // a 3 s browse: 20 queries a minute per cluster, each answered by 9 peers
    const periodic = 20 + 9 * 20;
    expect(perMinutePerCluster).toBeLessThan(periodic / 10);
    expect(nodes.every((n) => eventsOf(n, 'down').length === 0)).toBe(true);
    expect(lan.clock.now() - start).toBe(300_000);
  });
});
