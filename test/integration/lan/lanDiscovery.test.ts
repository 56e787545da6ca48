/**
 * LAN discovery across real network namespaces joined by a Linux bridge: each "host" runs the
 * lanPeer fixture (one LanDiscovery) and reports events as JSON lines. Needs root; no Kubernetes.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import type { LanDiscoveryConfig } from '../../../src/mdns/index.js';
import { canUseNetns, netnsHostsPerTest, waitUntil, type NetnsHost, type NetnsJsonProcess } from '../../support/netns.js';

const FIXTURE = 'test/integration/lan/fixtures/lanPeer.ts';
const measurements: Record<string, unknown> = {};

function idFor(n: number): string {
  return `${String(n).repeat(8).slice(0, 8)}-0000-4000-8000-00000000000${n % 10}`;
}

describe.skipIf(!canUseNetns)('LAN discovery between network-namespace hosts', () => {
  const { host, start, running, lab } = netnsHostsPerTest('h');

  afterAll(() => {
    mkdirSync('test-output', { recursive: true });
    writeFileSync('test-output/lan-netns-measurements.json', JSON.stringify(measurements, null, 2));
  });

  function peer(
    h: NetnsHost,
    clusterID: string,
    config: Partial<LanDiscoveryConfig> = {},
    options: { interfacePollMs?: number; ipv6?: boolean } = {},
  ): NetnsJsonProcess {
    const args = {
      config: { clusterID, url: `https://${h.address}:6443`, ...config },
      options: { interfacePollMs: 300, ...options },
    };
    return start(h, `${h.name}(${clusterID.slice(0, 8)})`, 'node', ['--import', 'tsx', FIXTURE, JSON.stringify(args)]);
  }

  const upFor = (clusterID: string) => (l: { event?: string; clusterID?: unknown }) => l.event === 'up' && l.clusterID === clusterID;

  function describeAll(): unknown {
    return running.map((p) => p.describe());
  }

  it('two hosts discover each other with the right cluster ID and URL', async () => {
    const [ha, hb] = [await host(), await host()];
    const a = peer(ha, idFor(1));
    const b = peer(hb, idFor(2));
    const upB = await a.waitFor(upFor(idFor(2)), `up for ${idFor(2)}`, 15_000);
    const upA = await b.waitFor(upFor(idFor(1)), `up for ${idFor(1)}`, 15_000);
    expect(upB).toMatchObject({ url: `https://${hb.address}:6443`, port: 6443, namespace: 'liqo', sourceAddress: hb.address, interface: 'eth0' });
    expect(upB.addresses).toContain(hb.address);
    expect(upA).toMatchObject({ url: `https://${ha.address}:6443`, instance: `MyLiqo-${idFor(1).slice(0, 8)}._liqo._tcp.local` });
    // nobody reports itself
    expect(a.events('up').map((l) => l.clusterID)).toEqual([idFor(2)]);
    expect(b.events('up').map((l) => l.clusterID)).toEqual([idFor(1)]);
  });

  it('a third host started later is discovered by both', async () => {
    const [ha, hb, hc] = [await host(), await host(), await host()];
    const a = peer(ha, idFor(1));
    const b = peer(hb, idFor(2));
    await a.waitFor(upFor(idFor(2)), 'up for b', 15_000);
    await b.waitFor(upFor(idFor(1)), 'up for a', 15_000);
    const started = Date.now();
    const c = peer(hc, idFor(3));
    const [ua, ub] = await Promise.all([
      a.waitFor(upFor(idFor(3)), 'up for c', 15_000),
      b.waitFor(upFor(idFor(3)), 'up for c', 15_000),
      c.waitFor((l) => l.event === 'up' && l.clusterID === idFor(1), 'up for a', 15_000),
      c.waitFor((l) => l.event === 'up' && l.clusterID === idFor(2), 'up for b', 15_000),
    ]);
    measurements.lateJoinerDiscoveryMs = Math.max(ua.at!, ub.at!) - started;
    expect(ua.url).toBe(`https://${hc.address}:6443`);
  });

  it('a clean stop produces down (goodbye) on the others within about a second', async () => {
    const [ha, hb, hc] = [await host(), await host(), await host()];
    const a = peer(ha, idFor(1));
    const b = peer(hb, idFor(2));
    const c = peer(hc, idFor(3));
    await b.waitFor(upFor(idFor(1)), 'up for a', 15_000);
    await c.waitFor(upFor(idFor(1)), 'up for a', 15_000);
    const stopAt = Date.now();
    a.send({ cmd: 'stop' });
    const [db, dc] = await Promise.all([
      b.waitFor((l) => l.event === 'down' && l.clusterID === idFor(1), 'down for a', 5000),
      c.waitFor((l) => l.event === 'down' && l.clusterID === idFor(1), 'down for a', 5000),
    ]);
    expect(db.reason).toBe('goodbye');
    expect(dc.reason).toBe('goodbye');
    const latencies = [db.at! - stopAt, dc.at! - stopAt];
    measurements.goodbyeDownLatencyMs = latencies;
    // reported, not asserted strictly: RFC 6762 §10.1 keeps a goodbye record one more second
    console.info(`goodbye -> down latency: ${latencies.join(' ms, ')} ms`);
    expect(Math.max(...latencies)).toBeLessThan(3000);
    expect(await a.exited).toBe(0);
  });

  it('a host whose link is cut disappears after its TTL, and returns when the link is back', async () => {
    const ttl = 4;
    const [ha, hb] = [await host(), await host()];
    const a = peer(ha, idFor(1), { ttl });
    const b = peer(hb, idFor(2), { ttl });
    await b.waitFor(upFor(idFor(1)), 'up for a', 15_000);
    await a.waitFor(upFor(idFor(2)), 'up for b', 15_000);
    const cutAt = Date.now();
    await lab().cutLink(ha.name);
    const down = await b.waitFor((l) => l.event === 'down' && l.clusterID === idFor(1), 'down for a (expired)', ttl * 1000 + 5000);
    expect(down.reason).toBe('expired');
    // the isolated host forgets the others the same way
    const downOnA = await a.waitFor((l) => l.event === 'down' && l.clusterID === idFor(2), 'a to expire b', ttl * 1000 + 5000);
    expect(downOnA.reason).toBe('expired');
    measurements.cutLinkDownAfterMs = { ttlSeconds: ttl, ms: down.at! - cutAt };
    expect(down.at! - cutAt).toBeLessThanOrEqual(ttl * 1000 + 1500);
    // on restore, a's interface comes back: it probes, announces, and b sees it again
    await lab().restoreLink(ha.name);
    await waitUntil(() => b.events('up').filter((l) => l.clusterID === idFor(1)).length >= 2 || undefined, {
      timeoutMs: 15_000,
      what: 'b to rediscover a after the link is restored',
      describe: describeAll,
    });
  });

  it('turning advertisement off makes the others forget us (goodbye); on again brings us back', async () => {
    const [ha, hb] = [await host(), await host()];
    const a = peer(ha, idFor(1));
    const b = peer(hb, idFor(2));
    await b.waitFor(upFor(idFor(1)), 'up for a', 15_000);
    await a.waitFor(upFor(idFor(2)), 'up for b', 15_000);
    await a.request({ cmd: 'update', config: { enableAdvertisement: false } }, 'updated');
    const down = await b.waitFor((l) => l.event === 'down' && l.clusterID === idFor(1), 'down for a', 5000);
    expect(down.reason).toBe('goodbye');
    // a keeps browsing: it still has b
    const peersOfA = await a.request({ cmd: 'peers' }, 'peers');
    expect((peersOfA.peers as Array<{ clusterID: string }>).map((p) => p.clusterID)).toEqual([idFor(2)]);
    await a.request({ cmd: 'update', config: { enableAdvertisement: true } }, 'updated');
    await waitUntil(() => b.events('up').filter((l) => l.clusterID === idFor(1)).length === 2 || undefined, {
      timeoutMs: 10_000,
      what: 'b to see a again',
      describe: describeAll,
    });
  });

  it('a runtime change of URL and name is re-announced; the others follow it without a conflict', async () => {
    const [ha, hb] = [await host(), await host()];
    const a = peer(ha, idFor(1));
    const b = peer(hb, idFor(2));
    await b.waitFor(upFor(idFor(1)), 'up for a', 15_000);
    await a.request({ cmd: 'update', config: { url: `https://${ha.address}:7443` } }, 'updated');
    const urlUpdate = await b.waitFor((l) => l.event === 'update' && l.url === `https://${ha.address}:7443`, 'update with the new url', 5000);
    expect(urlUpdate.changed).toEqual(['url']);
    await a.request({ cmd: 'update', config: { name: 'Renamed' } }, 'updated');
    const newInstance = `Renamed-${idFor(1).slice(0, 8)}._liqo._tcp.local`;
    await waitUntil(
      async () => {
        const peers = (await b.request({ cmd: 'peers' }, 'peers')).peers as Array<{ clusterID: string; instance: string; url: string }>;
        return peers.length === 1 && peers[0]!.instance === newInstance && peers[0]!.url === `https://${ha.address}:7443` ? peers : undefined;
      },
      { timeoutMs: 10_000, what: 'b to follow the renamed instance', describe: describeAll },
    );
    expect(b.events('conflict')).toEqual([]);
  });

  it('a host announcing a stolen cluster ID with a different URL raises a conflict and does not replace the first', async () => {
    const [ha, hb, hthief] = [await host(), await host(), await host()];
    const a = peer(ha, idFor(1));
    const b = peer(hb, idFor(2));
    await b.waitFor(upFor(idFor(1)), 'up for a', 15_000);
    const thief = peer(hthief, idFor(1)); // same ID, its own URL
    const conflict = await b.waitFor((l) => l.event === 'conflict' && l.clusterID === idFor(1), 'conflict for a', 15_000);
    expect(conflict).toMatchObject({
      url: `https://${hthief.address}:6443`,
      sourceAddress: hthief.address,
      own: false,
      existing: { url: `https://${ha.address}:6443`, instance: `MyLiqo-${idFor(1).slice(0, 8)}._liqo._tcp.local` },
    });
    // the thief probed, met the defended name, and renamed itself
    await thief.waitFor((l) => l.event === 'renamed' && l.kind === 'instance', 'thief renamed', 5000);
    // the victim learns that someone claims its ID
    await a.waitFor((l) => l.event === 'conflict' && l.own === true, 'conflict on our own ID', 5000);
    const peersOfB = await b.request({ cmd: 'peers' }, 'peers');
    expect(peersOfB.peers).toEqual([expect.objectContaining({ clusterID: idFor(1), url: `https://${ha.address}:6443` })]);
    expect(b.events('update')).toEqual([]);
  });

  it('a host only receives and answers on-link traffic', async () => {
    const [ha, hb] = [await host(), await host()];
    // same bridge (same Ethernet segment) but an address outside the subnet: off-link for a and b
    const hoff = await host({ address: '198.18.254.2/24' });
    const a = peer(ha, idFor(1));
    const b = peer(hb, idFor(2));
    // IPv4 only: over IPv6, link-local addresses are on-link by definition
    const off = peer(hoff, idFor(9), { url: 'https://198.18.254.2:6443' }, { ipv6: false });
    await a.waitFor(upFor(idFor(2)), 'up for b', 15_000);
    await b.waitFor(upFor(idFor(1)), 'up for a', 15_000);
    await off.waitFor((l) => l.event === 'announced', 'off-link host announced', 15_000);
    const droppedOffLink = async (p: NetnsJsonProcess): Promise<number> =>
      ((await p.request({ cmd: 'counters' }, 'counters')).counters as { dropped: Record<string, number> }).dropped['off-link']!;
    const base = { a: await droppedOffLink(a), b: await droppedOffLink(b), off: await droppedOffLink(off) };
    // everyone re-announces (a URL change sends three announcements): each side must drop the other's
    await Promise.all([
      off.request({ cmd: 'update', config: { url: 'https://198.18.254.2:7443' } }, 'updated'),
      a.request({ cmd: 'update', config: { url: `https://${ha.address}:7443` } }, 'updated'),
      b.request({ cmd: 'update', config: { url: `https://${hb.address}:7443` } }, 'updated'),
    ]);
    await waitUntil(
      async () =>
        ((await droppedOffLink(a)) >= base.a + 3 && (await droppedOffLink(b)) >= base.b + 3 && (await droppedOffLink(off)) >= base.off + 6) ||
        undefined,
      { timeoutMs: 10_000, what: 'a, b and the off-link host to drop each other’s announcements', describe: describeAll },
    );
    // a and b still follow each other; nobody ever saw the off-link host, and it saw nobody
    await a.waitFor((l) => l.event === 'update' && l.clusterID === idFor(2), 'b’s url update', 5000);
    expect(a.events('up').map((l) => l.clusterID)).toEqual([idFor(2)]);
    expect(b.events('up').map((l) => l.clusterID)).toEqual([idFor(1)]);
    expect([...a.events('update'), ...b.events('update')].every((l) => l.clusterID !== idFor(9))).toBe(true);
    expect(off.events('up')).toEqual([]);
    const offCounters = (await off.request({ cmd: 'counters' }, 'counters')).counters as { responsesSent: number };
    expect(offCounters.responsesSent).toBe(0); // it never answered a (dropped) query
  });

  it.runIf(Number(process.env.KUBEPEER_LAN_IDLE_SECONDS) > 0)('an idle pair: packets per minute per cluster (measurement)', async () => {
    const seconds = Number(process.env.KUBEPEER_LAN_IDLE_SECONDS);
    const [ha, hb] = [await host(), await host()];
    const a = peer(ha, idFor(1));
    const b = peer(hb, idFor(2));
    await a.waitFor(upFor(idFor(2)), 'up', 15_000);
    await b.waitFor(upFor(idFor(1)), 'up', 15_000);
    const sent = async (p: NetnsJsonProcess): Promise<number> => ((await p.request({ cmd: 'counters' }, 'counters')).counters as { packetsSent: number }).packetsSent;
    const before = (await sent(a)) + (await sent(b));
    const t0 = Date.now();
    await new Promise((r) => setTimeout(r, seconds * 1000)); // the measurement window itself, not a synchronisation
    const after = (await sent(a)) + (await sent(b));
    const perMinute = ((after - before) / 2) * (60_000 / (Date.now() - t0));
    measurements.idlePairPacketsPerMinutePerCluster = { seconds, perMinute };
    console.info(`idle pair: ${perMinute.toFixed(2)} packets/min/cluster over ${seconds} s`);
    expect(a.events('down')).toEqual([]);
  }, 3_600_000);
});
