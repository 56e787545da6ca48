/**
 * LAN discovery end to end: network-namespace hosts on one bridge, each with a real local control
 * plane and a real agent, so that mDNS and the peering handshake cross a real link. With the
 * default ClusterConfig (autojoin, autojoinUntrusted, AutoAcceptKnown) and one LAN peering secret
 * two hosts that find each other end with a virtual node on each side (strangers: lanTrust.test.ts). Needs root (CI runs as root); skipped otherwise.
 *
 * One set of hosts for the whole file: a and b from the start, c later, plus bare LanDiscovery
 * fixtures (no control plane) for a stolen cluster ID and a never-peered visitor. Timings are
 * printed and written to test-output/lan-peering-measurements.json, never asserted.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ForeignCluster } from '../../src/api/crds.js';
import { Names } from '../../src/api/constants.js';
import { Core, resourcePath, type KubeClient } from '../../src/k8s/rest.js';
import type { LocalCluster } from '../../src/localcluster/localCluster.js';
import { controlPlaneBinDir } from '../../src/localcluster/binaries.js';
import { IDENTITY_CONFLICT } from '../../src/discovery/lan/lanController.js';
import { agentMetricsUrl, kubectl, kubepeer, startAgent, startCluster, type AgentProcess } from '../support/clusters.js';
import { canUseNetns, createTestLab, execInNetns, NetnsJsonProcess, type NetnsHost, type NetnsLab } from '../support/netns.js';
import { clusterIDOf, foreignClusterByID, setClusterConfig, virtualNode, waitForReadyNode } from '../support/peering.js';
import { waitFor } from '../support/wait.js';
import { generatePeeringSecret, setPeeringSecret } from '../../src/trust/peeringSecretStore.js';

const FIXTURE = 'test/integration/lan/fixtures/lanPeer.ts';
const LAN_SECRET = generatePeeringSecret();
/** PTR/TXT TTL for every cluster here, so that a cut link shows within seconds. */
const TTL = 5;

interface Side {
  name: string;
  host: NetnsHost;
  cluster: LocalCluster;
  client: KubeClient;
  id: string;
  agent?: AgentProcess;
  agentStartedAt?: number;
}

const measurements: Record<string, unknown> = {};
function measure(name: string, ms: number): void {
  measurements[name] = ms;
  console.info(`[lan-peering] ${name}: ${ms} ms`);
}

const cond = (fc: ForeignCluster | undefined, type: string) => fc?.status?.conditions?.find((c) => c.type === type);

describe.skipIf(!canUseNetns)('LAN discovery and peering between network-namespace hosts', () => {
  let lab: NetnsLab;
  const sides: Side[] = [];
  const fixtures: NetnsJsonProcess[] = [];
  let a: Side;
  let b: Side;
  let c: Side;

  async function newSide(name: string): Promise<Side> {
    const host = await lab.addHost(name);
    const cluster = await startCluster(`lan-${name}`, { address: host.address, netns: host.netns });
    const side: Side = { name, host, cluster, client: cluster.client(), id: '' };
    sides.push(side);
    await setClusterConfig(side.client, { discoveryConfig: { ttl: TTL } });
    // the clusters of this LAN share the peering secret: they join each other with no typing
    await setPeeringSecret(side.client, 'liqo', LAN_SECRET);
    return side;
  }

  function runAgent(s: Side): void {
    s.agentStartedAt = Date.now();
    s.agent = startAgent({ ...s.cluster, netns: s.host.netns });
  }

  async function fc(s: Side, id: string): Promise<ForeignCluster | undefined> {
    return foreignClusterByID(s.client, id);
  }

  /** The same, asked with kubectl inside the side's namespace (works while its link is cut). */
  async function fcFromInside(s: Side, id: string): Promise<ForeignCluster | undefined> {
    const kubectlBin = join(controlPlaneBinDir(), 'kubectl');
    const { stdout } = await execInNetns(s.host, kubectlBin, ['--kubeconfig', s.cluster.kubeconfig, 'get', 'foreignclusters', '-l', `discovery.liqo.io/cluster-id=${id}`, '-o', 'json']);
    return (JSON.parse(stdout) as { items: ForeignCluster[] }).items[0];
  }

  /** What a failing wait prints: every side's ForeignClusters and the tail of its agent log. */
  async function describeAll(): Promise<unknown> {
    return Promise.all(
      sides.map(async (s) => ({
        side: s.name,
        id: s.id,
        foreignClusters: await s.client
          .list<ForeignCluster>('/apis/discovery.liqo.io/v1/foreignclusters')
          .then((l) =>
            l.items.map((f) => ({
              id: f.spec.clusterID,
              apiUrl: f.spec.apiUrl,
              type: f.spec.discoveryType,
              join: f.spec.join,
              out: f.status?.outgoing?.phase,
              in: f.status?.incoming?.phase,
              conditions: f.status?.conditions?.map((x) => `${x.type}=${x.status}/${x.reason}`),
            })),
          )
          .catch((e: Error) => e.message),
        agentLog: s.agent ? readFileSync(s.agent.logFile, 'utf8').split('\n').filter((l) => !l.includes('"level":"debug"')).slice(-8) : [],
      })),
    );
  }

  function fixture(host: NetnsHost, clusterID: string, url: string): NetnsJsonProcess {
    const args = { config: { clusterID, url, ttl: TTL }, options: { interfacePollMs: 500 } };
    const p = NetnsJsonProcess.start(host, `fixture(${clusterID.slice(0, 8)})`, 'node', ['--import', 'tsx', FIXTURE, JSON.stringify(args)]);
    fixtures.push(p);
    return p;
  }

  async function eventReasons(s: Side, objectName: string): Promise<string[]> {
    const events = await s.client.list<{ reason: string; message: string }>(resourcePath(Core.events, { namespace: 'default' }), {
      fieldSelector: `involvedObject.name=${objectName}`,
    });
    return events.items.map((e) => e.reason);
  }

  beforeAll(async () => {
    lab = createTestLab();
    // allSettled: a failure of one must not leave the other half-started behind afterAll's cleanup
    const started = await Promise.allSettled([newSide('a'), newSide('b')]);
    for (const r of started) if (r.status === 'rejected') throw r.reason;
    [a, b] = started.map((r) => (r as PromiseFulfilledResult<Side>).value) as [Side, Side];
    runAgent(a);
    runAgent(b);
    [a.id, b.id] = await Promise.all([clusterIDOf(a.client), clusterIDOf(b.client)]);
  });

  afterAll(async () => {
    await Promise.allSettled(fixtures.map((p) => p.kill()));
    await Promise.allSettled(sides.map((s) => s.agent?.stop()));
    await Promise.allSettled(sides.map((s) => s.cluster.stop()));
    await lab?.destroy();
    mkdirSync('test-output', { recursive: true });
    writeFileSync('test-output/lan-peering-measurements.json', JSON.stringify(measurements, null, 2));
  });

  it('two hosts discover each other and, with default settings, end with a virtual node on each side', async () => {
    // The peer's PeeringRequest can arrive before our own sighting (the agents race): it leaves an
    // IncomingPeering ForeignCluster that the sighting then adopts, so wait for the LAN one.
    const lanFc = async (side: Side, id: string) => {
      const f = await fc(side, id);
      return f?.spec.discoveryType === 'LAN' ? f : undefined;
    };
    const [onA, onB] = await Promise.all([
      waitFor(`a: LAN ForeignCluster for b (${b.id})`, () => lanFc(a, b.id), { timeoutMs: 90_000, intervalMs: 100, describe: describeAll }),
      waitFor(`b: LAN ForeignCluster for a (${a.id})`, () => lanFc(b, a.id), { timeoutMs: 90_000, intervalMs: 100, describe: describeAll }),
    ]);
    measure('twoHosts.foreignClusterAfterAgentStartMs', Date.now() - Math.max(a.agentStartedAt!, b.agentStartedAt!));
    // discovered over mDNS with the URL each peer announced; untrusted CAs but the shared peering secret proved, so autojoinUntrusted decides
    expect(onA.spec).toMatchObject({ clusterID: b.id, apiUrl: b.cluster.apiUrl, discoveryType: 'LAN', join: true, allowUntrustedCA: true, namespace: 'liqo', clusterName: 'lan-b' });
    expect(onB.spec).toMatchObject({ clusterID: a.id, apiUrl: a.cluster.apiUrl, discoveryType: 'LAN', join: true, allowUntrustedCA: true, clusterName: 'lan-a' });
    expect(onA.metadata.labels?.['discovery.liqo.io/discovery-type']).toBe('LAN');

    await Promise.all([waitForReadyNode(a.client, b.id, 240_000, describeAll), waitForReadyNode(b.client, a.id, 240_000, describeAll)]);
    measure('twoHosts.virtualNodesReadyAfterAgentStartMs', Date.now() - Math.max(a.agentStartedAt!, b.agentStartedAt!));
    expect(kubectl(a.cluster, ['get', 'nodes']).stdout).toMatch(new RegExp(`liqo-${b.id}\\s+Ready\\s+agent`));
    expect(kubectl(b.cluster, ['get', 'nodes']).stdout).toMatch(new RegExp(`liqo-${a.id}\\s+Ready\\s+agent`));
    // nobody discovered itself
    expect(await fc(a, a.id)).toBeUndefined();
    expect(await fc(b, b.id)).toBeUndefined();

    // the mDNS counters and the discovery latency are exported (the metrics server is inside the host)
    const url = await agentMetricsUrl(a.agent!);
    const script = `fetch(${JSON.stringify(`${url}/metrics`)}).then((r) => r.text()).then((t) => process.stdout.write(t))`;
    const { stdout: metrics } = await execInNetns(a.host, process.execPath, ['-e', script]);
    expect(Number(/^kubepeer_mdns_packets_sent_total (\d+)/m.exec(metrics)?.[1])).toBeGreaterThan(0);
    expect(Number(/^kubepeer_mdns_packets_received_total (\d+)/m.exec(metrics)?.[1])).toBeGreaterThan(0);
    expect(metrics).toMatch(/^kubepeer_mdns_packets_dropped_total\{reason="off-link"\} \d+/m);
    expect(Number(/^kubepeer_discovery_duration_seconds_count\{source="lan"\} (\d+)/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1);
    expect(metrics).toMatch(/^kubepeer_lan_peers 1$/m);
  }, 400_000);

  it('a host announcing a stolen cluster ID does not capture the peering: flagged with a condition and a Warning', async () => {
    const thiefHost = await lab.addHost('thief');
    const thiefUrl = `https://${thiefHost.address}:6443`;
    const thief = fixture(thiefHost, b.id, thiefUrl);
    await thief.waitFor((l) => l.event === 'ready', 'thief ready', 30_000);
    const flagged = await waitFor('a: IdentityConflict on the ForeignCluster for b', async () => {
      const f = await fc(a, b.id);
      return cond(f, IDENTITY_CONFLICT)?.status === 'True' ? f : undefined;
    }, { timeoutMs: 60_000, describe: describeAll });
    expect(flagged.spec.apiUrl).toBe(b.cluster.apiUrl);
    expect(cond(flagged, IDENTITY_CONFLICT)).toMatchObject({ reason: 'DuplicateClusterID' });
    expect(cond(flagged, IDENTITY_CONFLICT)?.message).toContain(thiefUrl);
    await waitFor('a: Warning DuplicateClusterID event', async () => (await eventReasons(a, flagged.metadata.name)).includes('DuplicateClusterID'), { timeoutMs: 30_000 });
    // the victim learns that someone claims its ID
    await waitFor('b: Warning DuplicateClusterID on its ClusterConfig', async () => (await eventReasons(b, Names.clusterConfig)).includes('DuplicateClusterID'), { timeoutMs: 30_000 });
    // the peering is untouched: same URL, node still Ready, a later sighting does not clear the flag
    const after = await fc(a, b.id);
    expect(after?.spec.apiUrl).toBe(b.cluster.apiUrl);
    expect(cond(after, IDENTITY_CONFLICT)?.status).toBe('True');
    await waitForReadyNode(a.client, b.id, 60_000, describeAll);
    await thief.kill();
    await lab.removeHost('thief');
  }, 300_000);

  it('turning enableAdvertisement off makes the others forget us (kept, since peered); on again brings us back', async () => {
    const off = Date.now();
    await setClusterConfig(b.client, { discoveryConfig: { enableAdvertisement: false } });
    const forgotten = await waitFor('a: b no longer discovered', async () => {
      const f = await fc(a, b.id);
      return cond(f, 'Discovered')?.status === 'False' ? f : undefined;
    }, { timeoutMs: 60_000, intervalMs: 100, describe: describeAll });
    measure('advertisementOff.forgottenAfterMs', Date.now() - off);
    expect(cond(forgotten, 'Discovered')).toMatchObject({ reason: 'NoLongerSeen' });
    expect(cond(forgotten, 'Discovered')?.message).toContain('goodbye');
    expect(forgotten.spec.join).toBe(true); // peered: kept, not deleted
    // b still browses: it keeps seeing a
    expect(cond(await fc(b, a.id), 'Discovered')?.status).toBe('True');

    const on = Date.now();
    await setClusterConfig(b.client, { discoveryConfig: { enableAdvertisement: true } });
    await waitFor('a: b discovered again', async () => cond(await fc(a, b.id), 'Discovered')?.status === 'True', { timeoutMs: 60_000, intervalMs: 100, describe: describeAll });
    measure('advertisementOn.rediscoveredAfterMs', Date.now() - on);
  }, 300_000);

  it(`a host whose link is cut disappears after its TTL (${TTL}s) and comes back when the link is restored`, async () => {
    const cut = Date.now();
    await lab.cutLink(b.host.name);
    try {
      const gone = await waitFor('a: b expired', async () => {
        const f = await fc(a, b.id);
        return cond(f, 'Discovered')?.status === 'False' ? f : undefined;
      }, { timeoutMs: 90_000, intervalMs: 100, describe: describeAll });
      measure('cutLink.expiredAfterMs', Date.now() - cut);
      expect(cond(gone, 'Discovered')?.message).toMatch(/expired|stopped answering/);
      // b, alone on its side of the cut, forgets a the same way (asked from inside b: the machine cannot reach it now)
      await waitFor('b: a expired', async () => cond(await fcFromInside(b, a.id), 'Discovered')?.status === 'False', { timeoutMs: 90_000, describe: async () => fcFromInside(b, a.id) });
    } finally {
      await lab.restoreLink(b.host.name);
    }
    const restored = Date.now();
    await waitFor('a: b back', async () => cond(await fc(a, b.id), 'Discovered')?.status === 'True', { timeoutMs: 90_000, intervalMs: 100, describe: describeAll });
    measure('cutLink.backAfterRestoreMs', Date.now() - restored);
    await waitFor('b: a back', async () => cond(await fc(b, a.id), 'Discovered')?.status === 'True', { timeoutMs: 90_000, describe: describeAll });
    expect((await fc(a, b.id))?.spec.apiUrl).toBe(b.cluster.apiUrl);
  }, 300_000);

  it('a third host started later is discovered by the others and discovers them', async () => {
    c = await newSide('c');
    runAgent(c);
    c.id = await clusterIDOf(c.client);
    // c browses at once and may send its PeeringRequests before the others hear its first
    // announcement (it probes for ~1 s first): then the request's placeholder ForeignCluster
    // (IncomingPeering) comes first and the sighting adopts it. Either way it ends as a LAN one that joins.
    const lanJoined = (s: Side, id: string) => async () => {
      const f = await fc(s, id);
      return f?.spec.discoveryType === 'LAN' && f.spec.join ? f : undefined;
    };
    const found = await Promise.all([
      waitFor('a: LAN ForeignCluster for c', lanJoined(a, c.id), { timeoutMs: 90_000, intervalMs: 100, describe: describeAll }),
      waitFor('b: LAN ForeignCluster for c', lanJoined(b, c.id), { timeoutMs: 90_000, intervalMs: 100, describe: describeAll }),
    ]);
    measure('thirdHost.discoveredByOthersAfterAgentStartMs', Date.now() - c.agentStartedAt!);
    for (const f of found) expect(f.spec).toMatchObject({ clusterID: c.id, apiUrl: c.cluster.apiUrl, join: true, allowUntrustedCA: true });
    await Promise.all([
      waitFor('c: LAN ForeignCluster for a', lanJoined(c, a.id), { timeoutMs: 90_000, describe: describeAll }),
      waitFor('c: LAN ForeignCluster for b', lanJoined(c, b.id), { timeoutMs: 90_000, describe: describeAll }),
    ]);
    // and nobody was left waiting for approval: each side knows the other from the LAN
    await waitForReadyNode(a.client, c.id, 240_000, describeAll);
    await waitForReadyNode(c.client, a.id, 240_000, describeAll);
    measure('thirdHost.virtualNodesWithAReadyAfterAgentStartMs', Date.now() - c.agentStartedAt!);
  }, 400_000);

  it('a host whose agent stops cleanly disappears at once (goodbye); a peered ForeignCluster is kept with Discovered=False', async () => {
    const stopAt = Date.now();
    const stopped = c.agent!.stop();
    const gone = await waitFor('a: c gone (goodbye)', async () => {
      const f = await fc(a, c.id);
      return cond(f, 'Discovered')?.status === 'False' ? f : undefined;
    }, { timeoutMs: 60_000, intervalMs: 50, describe: describeAll });
    measure('goodbye.peeredMarkedAfterAgentStopMs', Date.now() - stopAt);
    await stopped;
    expect(cond(gone, 'Discovered')?.message).toContain('goodbye');
    expect(gone.spec.join).toBe(true);
    // Reachable=False is written too, but the peering controller may have set it back already
    // (c's API server is still up): report it, do not assert it.
    console.info(`[lan-peering] a's Reachable condition for c after the goodbye: ${JSON.stringify(cond(gone, 'Reachable'))}`);
    await waitFor('b: c gone (goodbye)', async () => cond(await fc(b, c.id), 'Discovered')?.status === 'False', { timeoutMs: 60_000, describe: describeAll });
    await c.cluster.stop(); // frees the machine for the rest
  }, 300_000);

  it('a stranger that only announces itself on the LAN is listed, never joined, and its record goes when it leaves', async () => {
    // a bare mDNS announcement (no cluster behind it, as an avahi service file makes): before the
    // LAN trust model, every cluster joined it and kept a ForeignCluster retrying forever
    const visitorHost = await lab.addHost('visitor');
    const visitorID = randomUUID();
    const visitor = fixture(visitorHost, visitorID, `https://${visitorHost.address}:6443`);
    for (const x of [a, b]) {
      const seen = await waitFor(`${x.name}: ForeignCluster for the visitor`, () => fc(x, visitorID), { timeoutMs: 60_000, intervalMs: 100, describe: describeAll });
      expect(seen.spec).toMatchObject({ discoveryType: 'LAN', join: false, apiUrl: `https://${visitorHost.address}:6443` });
      expect(seen.spec.allowUntrustedCA ?? false).toBe(false);
    }

    const stopAt = Date.now();
    visitor.send({ cmd: 'stop' });
    for (const x of [a, b]) {
      await waitFor(`${x.name}: the stranger's ForeignCluster deleted`, async () => ((await fc(x, visitorID)) === undefined ? true : undefined), {
        timeoutMs: 60_000,
        intervalMs: 50,
        describe: describeAll,
      });
    }
    measure('goodbye.strangerDeletedAfterStopMs', Date.now() - stopAt);
    expect(await visitor.exited).toBe(0);
    // the peering between a and b is unaffected by all this
    expect(await virtualNode(a.client, b.id)).not.toBeNull();
  }, 300_000);

  it('a peer a person removes stays removed when the LAN sees it again; peer join connects it again, --forget forgets it', async () => {
    const peered = (await fc(a, b.id))!;
    const removed = kubepeer(['peer', 'remove', peered.metadata.name, '--kubeconfig', a.cluster.kubeconfig]);
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stdout).toContain('kept as a record');
    await waitFor('a: virtual node for b gone', async () => (await virtualNode(a.client, b.id)) === null, { timeoutMs: 90_000, describe: describeAll });

    // b leaves the LAN and comes back: the record is kept while b is away, and its return (the
    // sighting that joined it at first) does not join it again
    await setClusterConfig(b.client, { discoveryConfig: { enableAdvertisement: false } });
    const away = await waitFor('a: b no longer discovered, its record kept', async () => {
      const f = await fc(a, b.id);
      return cond(f, 'Discovered')?.status === 'False' ? f : undefined;
    }, { timeoutMs: 60_000, describe: describeAll });
    expect(away.metadata.uid).toBe(peered.metadata.uid);
    await setClusterConfig(b.client, { discoveryConfig: { enableAdvertisement: true } });
    const back = await waitFor('a: b discovered again', async () => {
      const f = await fc(a, b.id);
      return cond(f, 'Discovered')?.status === 'True' ? f : undefined;
    }, { timeoutMs: 60_000, describe: describeAll });
    expect(back.metadata.uid).toBe(peered.metadata.uid);
    expect(back.spec.join).toBe(false);
    expect(back.metadata.annotations?.['discovery.kubepeer.io/removed']).toBeTruthy();
    expect(back.status?.outgoing).toMatchObject({ phase: 'None', reason: 'Removed' });
    expect(await virtualNode(a.client, b.id)).toBeNull();
    const row = kubepeer(['peer', 'list', '--kubeconfig', a.cluster.kubeconfig]).stdout.split('\n').find((l) => l.includes(b.id));
    expect(row).toMatch(/Removed/);

    // a person connects it again
    const join = kubepeer(['peer', 'join', peered.metadata.name, '--kubeconfig', a.cluster.kubeconfig]);
    expect(join.code, join.stderr).toBe(0);
    await waitForReadyNode(a.client, b.id, 180_000, describeAll);
    expect((await fc(a, b.id))?.metadata.annotations?.['discovery.kubepeer.io/removed']).toBeUndefined();

    // --forget deletes the record: the LAN finds b again and, as at first, joins it (the peering secret)
    const forgot = kubepeer(['peer', 'remove', '--forget', peered.metadata.name, '--kubeconfig', a.cluster.kubeconfig]);
    expect(forgot.code, forgot.stderr).toBe(0);
    const fresh = await waitFor('a: a new LAN ForeignCluster for b that joins', async () => {
      const f = await fc(a, b.id);
      return f && f.metadata.uid !== peered.metadata.uid && f.spec.discoveryType === 'LAN' && f.spec.join ? f : undefined;
    }, { timeoutMs: 120_000, describe: describeAll });
    expect(fresh.metadata.annotations?.['discovery.kubepeer.io/removed']).toBeUndefined();
  }, 400_000);
});
