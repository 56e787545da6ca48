/**
 * LAN discovery between network-namespace hosts (needs root):
 *  - discovery latency: from a peer's agent start to its ForeignCluster on the other host, with the
 *    parts (agent start -> first mDNS announcement -> ForeignCluster) for context;
 *  - departure latency with a goodbye: from the peer's agent getting SIGTERM to its (never-peered)
 *    ForeignCluster being deleted on the other host, and from the goodbye itself;
 *  - mDNS packets per minute per cluster in a steady LAN of N clusters (bare LanDiscovery
 *    processes, one per namespace, no control planes), against a 3-second periodic browse.
 *
 * `npx tsx bench/lan.ts [--quick]` runs it alone and prints the figures as JSON.
 */
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { GVR, type ForeignCluster } from '../src/api/crds.js';
import { Informer } from '../src/k8s/informer.js';
import { KubeClient } from '../src/k8s/rest.js';
import { NetnsLab, type NetnsHost } from '../src/localcluster/netns.js';
import type { LocalCluster } from '../src/localcluster/localCluster.js';
import { startAgent, startCluster, type AgentProcess } from '../test/support/clusters.js';
import { NetnsJsonProcess } from '../test/support/netns.js';
import { clusterIDOf, setClusterConfig } from '../test/support/peering.js';
import { p50, waitInformer, type BenchSection, type Figure } from './lib.js';

const FIXTURE = fileURLToPath(new URL('../test/integration/lan/fixtures/lanPeer.ts', import.meta.url));

export interface BenchLanOptions {
  quick: boolean;
  /** Agent start/stop cycles for the latency figures (default 3 quick, 10 full). */
  runs?: number;
  /** Clusters in the steady LAN (default 10). */
  clusters?: number;
  /** Steady-state window in seconds (default 90 quick, 300 full). */
  windowSeconds?: number;
  /** ClusterConfig ttl for the steady LAN (default 90, the ClusterConfig default). */
  ttl?: number;
}

/** The 3-second periodic browse we compare with: per cluster, 20 queries a minute plus one answer to each of the others' queries. */
export function periodicBrowsePacketsPerMinute(clusters: number, periodSeconds = 3): number {
  const queries = 60 / periodSeconds;
  return queries + queries * (clusters - 1);
}

function logTime(file: string, predicate: (l: Record<string, unknown>) => boolean): number | undefined {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const l = JSON.parse(line) as Record<string, unknown>;
      if (predicate(l)) return typeof l.time === 'string' ? Date.parse(l.time) : typeof l.time === 'number' ? l.time : undefined;
    } catch {
      // not a log line
    }
  }
  return undefined;
}

async function latencies(lab: NetnsLab, runs: number): Promise<Figure[]> {
  const clusters: LocalCluster[] = [];
  const agents: AgentProcess[] = [];
  let informer: Informer<ForeignCluster> | undefined;
  try {
    const hosts = await Promise.all([lab.addHost('la'), lab.addHost('lb')]);
    const [a, b] = await Promise.all(hosts.map((h, i) => startCluster(`bench-lan-${'ab'[i]}`, { address: h.address, netns: h.netns })));
    clusters.push(a!, b!);
    const [hostA, hostB] = hosts as [NetnsHost, NetnsHost];
    // Discovered, never joined: the peer's ForeignCluster is deleted on its goodbye, so every run starts afresh.
    for (const c of clusters) await setClusterConfig(c.client(), { discoveryConfig: { autojoin: false, autojoinUntrusted: false } });
    const agentA = startAgent({ ...a!, netns: hostA.netns }, ['--no-dashboard']);
    agents.push(agentA);
    const idA = await clusterIDOf(a!.client());
    informer = new Informer<ForeignCluster>(KubeClient.fromFile(a!.kubeconfig), GVR.foreignCluster);
    informer.start();
    await informer.waitForSync(60_000);
    const fcFor = (id: string | undefined) => informer!.list().find((f) => (id ? f.spec.clusterID === id : f.spec.clusterID !== idA));

    const discovery: number[] = [];
    const agentToAnnounce: number[] = [];
    const announceToFC: number[] = [];
    const departure: number[] = [];
    const goodbyeToGone: number[] = [];
    let idB: string | undefined;
    for (let i = 0; i <= runs; i++) {
      const warmUp = i === 0; // the first start creates b's cluster ID and warms caches: not counted
      const t0 = Date.now();
      const agentB = startAgent({ ...b!, netns: hostB.netns }, ['--no-dashboard']);
      agents.push(agentB);
      const seen = await waitInformer('b discovered on a', informer, () => fcFor(idB), 120_000);
      idB ??= seen.value.spec.clusterID;
      const announced = logTime(agentB.logFile, (l) => l.msg === 'advertising on the LAN');
      if (!warmUp) {
        discovery.push(seen.at - t0);
        if (announced) {
          agentToAnnounce.push(announced - t0);
          announceToFC.push(seen.at - announced);
        }
      }
      // let b settle (its three announcements), then stop it cleanly: goodbye
      await new Promise((r) => setTimeout(r, 3000));
      const t1 = Date.now();
      const stopped = agentB.stop();
      const gone = await waitInformer('b gone from a', informer, () => (fcFor(idB) ? undefined : true), 60_000);
      await stopped;
      const goodbyeAt = logTime(agentB.logFile, (l) => l.msg === 'LAN discovery stopped (goodbye sent)');
      if (!warmUp) {
        departure.push(gone.at - t1);
        if (goodbyeAt) goodbyeToGone.push(gone.at - goodbyeAt);
      }
      process.stderr.write(`bench lan: run ${i}${warmUp ? ' (warm-up)' : ''}: discovered after ${seen.at - t0} ms, gone ${gone.at - t1} ms after SIGTERM\n`);
    }
    return [
      { name: 'lan discovery: peer agent start -> ForeignCluster', unit: 'ms', samples: discovery, target: '< 1500 ms (p50)', pass: p50(discovery) < 1500 },
      { name: 'lan discovery: agent start -> first announcement (part)', unit: 'ms', samples: agentToAnnounce, note: 'process start (~0.35 s: modules, cluster ID, caches, leader election), then RFC 6762 probing: 0-250 ms random delay, 3 probes 250 ms apart, announcement 250 ms after the last' },
      { name: 'lan discovery: announcement -> ForeignCluster (part)', unit: 'ms', samples: announceToFC },
      { name: 'lan departure (goodbye): SIGTERM -> ForeignCluster gone', unit: 'ms', samples: departure, target: '< 1000 ms (p50)', pass: p50(departure) < 1000 },
      { name: 'lan departure (goodbye): goodbye sent -> ForeignCluster gone (part)', unit: 'ms', samples: goodbyeToGone, note: 'the peer is reported gone on its goodbye; the records themselves stay cached 1 s (RFC 6762 section 10.1) in case a cooperating responder rescues them' },
    ];
  } finally {
    informer?.stop();
    await Promise.allSettled(agents.map((a) => a.stop()));
    await Promise.allSettled(clusters.map((c) => c.stop()));
  }
}

async function steadyLan(lab: NetnsLab, n: number, windowSeconds: number, ttl: number): Promise<Figure[]> {
  const procs: NetnsJsonProcess[] = [];
  try {
    const hosts: NetnsHost[] = [];
    for (let i = 0; i < n; i++) hosts.push(await lab.addHost(`s${i}`));
    const ids = hosts.map(() => randomUUID());
    for (const [i, h] of hosts.entries()) {
      const args = { config: { clusterID: ids[i], url: `https://${h.address}:6443`, ttl }, options: {} };
      procs.push(NetnsJsonProcess.start(h, `lan${i}`, process.execPath, ['--import', 'tsx', FIXTURE, JSON.stringify(args)]));
    }
    // everyone sees everyone
    await Promise.all(
      procs.map((p, i) =>
        p.waitFor(() => new Set(p.events('up').map((l) => l.clusterID)).size >= n - 1 && !!p.lines.find((l) => l.event === 'announced'), `peer ${i} to see the other ${n - 1}`, 180_000),
      ),
    );
    // past probing, announcements and the first continuous queries
    await new Promise((r) => setTimeout(r, 10_000));
    const read = async () => Promise.all(procs.map(async (p) => ((await p.request({ cmd: 'counters' }, 'counters', 20_000)).counters as { packetsSent: number; packetsReceived: number })));
    const before = await read();
    const t0 = Date.now();
    process.stderr.write(`bench lan: steady LAN of ${n} clusters, measuring for ${windowSeconds}s\n`);
    await new Promise((r) => setTimeout(r, windowSeconds * 1000)); // the measurement window itself
    const after = await read();
    const minutes = (Date.now() - t0) / 60_000;
    const sent = after.map((c, i) => (c.packetsSent - before[i]!.packetsSent) / minutes);
    const received = after.map((c, i) => (c.packetsReceived - before[i]!.packetsReceived) / minutes);
    const downs = procs.reduce((s, p) => s + p.events('down').length, 0);
    const baseline = periodicBrowsePacketsPerMinute(n);
    return [
      {
        name: `lan steady state (${n} clusters, ${windowSeconds}s): mDNS packets sent per minute per cluster`,
        unit: 'packets/min',
        samples: sent,
        target: `<= ${baseline / 10} (1/10 of a 3 s periodic browse: ${baseline}/min)`,
        pass: sent.reduce((a, b) => a + b, 0) / n <= baseline / 10,
        ...(downs ? { note: `${downs} unexpected down events during the window` } : {}),
      },
      { name: `lan steady state (${n} clusters): mDNS packets received per minute per cluster`, unit: 'packets/min', samples: received },
    ];
  } finally {
    await Promise.allSettled(procs.map((p) => p.kill()));
  }
}

export async function benchLan(opts: BenchLanOptions): Promise<BenchSection> {
  if (process.getuid?.() !== 0) throw new Error('the LAN benchmark needs root (network namespaces)');
  process.env.KUBEPEER_AGENT_LOG_LEVEL ??= 'info';
  const runs = opts.runs ?? (opts.quick ? 3 : 10);
  const n = opts.clusters ?? 10;
  const windowSeconds = opts.windowSeconds ?? (opts.quick ? 90 : 300);
  const lab = NetnsLab.forTestRun();
  try {
    const figures = await latencies(lab, runs);
    figures.push(...(await steadyLan(lab, n, windowSeconds, opts.ttl ?? 90)));
    return { figures };
  } finally {
    await lab.destroy();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const quick = process.argv.includes('--quick');
  benchLan({ quick })
    .then((r) => {
      process.stdout.write(JSON.stringify(r, null, 2) + '\n');
      process.exit(0);
    })
    .catch((e: Error) => {
      process.stderr.write(`${e.stack ?? e.message}\n`);
      process.exit(1);
    });
}
