/**
 * Scale: one home cluster with 1000 ForeignClusters (agent RSS, steady-state API writes), and N
 * clusters peering in a full mesh (time to converge, API requests per peering, agent CPU/RSS).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { GVR, apiVersionOf, type ForeignCluster } from '../src/api/crds.js';
import { Defaults, Labels } from '../src/api/constants.js';
import { Core, resourcePath } from '../src/k8s/rest.js';
import { agentMetricsUrl, startAgent, startCluster, type AgentProcess } from '../test/support/clusters.js';
import { clusterIDOf, setClusterConfig } from '../test/support/peering.js';
import { agentRequestCounts, apiRequestCounts, cpuSeconds, isWriteSample, mergeCounts, ratesText, sumCounts, diffCounts, rssMiB, sumAll, type BenchSection, type Figure } from './lib.js';

async function manyForeignClusters(quick: boolean): Promise<Figure[]> {
  const n = 1000;
  const c = await startCluster('bench-many');
  const client = c.client();
  const agent = startAgent(c, ['--no-dashboard']);
  const metricsUrl = await agentMetricsUrl(agent);
  try {
    for (let i = 0; i < n; i += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, n - i) }, (_, k) => {
          const id = `bench-peer-${i + k}`;
          return client.create(resourcePath(GVR.foreignCluster), {
            apiVersion: apiVersionOf(GVR.foreignCluster),
            kind: 'ForeignCluster',
            metadata: { name: id, labels: { [Labels.clusterID]: id } },
            spec: { clusterID: id, apiUrl: `https://198.18.${Math.floor((i + k) / 250) + 100}.${((i + k) % 250) + 1}:6443`, discoveryType: 'Manual', join: false },
          });
        }),
      );
    }
    // Let the agent reconcile all of them once (status written, its Event recorded), then measure
    // the steady state. A fixed wait was not enough on a loaded machine: the window then counted
    // the first reconciles of the last few hundred as steady-state writes.
    const began = Date.now();
    for (;;) {
      const items = (await client.list<ForeignCluster>(resourcePath(GVR.foreignCluster))).items;
      if (items.length >= n && items.every((f) => f.status?.outgoing?.phase)) break;
      if (Date.now() - began > 300_000) throw new Error(`the agent had not reconciled ${n} ForeignClusters once after 300 s (${items.filter((f) => f.status?.outgoing?.phase).length} done)`);
      await sleep(1000);
    }
    process.stderr.write(`bench: scale: ${n} ForeignClusters reconciled once ${((Date.now() - began) / 1000).toFixed(1)} s after the last create\n`);
    await sleep(quick ? 10_000 : 20_000);
    const window = quick ? 30_000 : 60_000;
    const agentOwn = (l: Record<string, string>) => isWriteSample(l) && l.client === 'agent';
    const byResource = (l: Record<string, string>) => `${l.verb} ${l.subresource ? `${l.resource}/${l.subresource}` : l.resource}`;
    const agentBefore = await agentRequestCounts(metricsUrl, agentOwn);
    const allBefore = await apiRequestCounts(client, isWriteSample, byResource);
    const cpu0 = cpuSeconds(agent.pid);
    const rss: number[] = [];
    const t0 = Date.now();
    while (Date.now() - t0 < window) {
      rss.push(rssMiB(agent.pid));
      await sleep(2000);
    }
    const agentWrites = diffCounts(agentBefore, await agentRequestCounts(metricsUrl, agentOwn));
    const allWrites = diffCounts(allBefore, await apiRequestCounts(client, isWriteSample, byResource));
    const rate = (n: number) => (n * 60_000) / window;
    const perMin = (c: Record<string, number>) => rate(sumCounts(c));
    const breakdown = (c: Record<string, number>) => ratesText(c, rate, 1, '/min');
    return [
      { name: `1000 ForeignClusters: agent RSS`, unit: 'MiB', samples: rss, target: '< 150 MiB', pass: Math.max(...rss) < 150 },
      {
        name: '1000 ForeignClusters (not peered): the agent\'s steady-state API writes per minute (leader election apart)',
        unit: 'writes/min',
        samples: [perMin(agentWrites)],
        target: '0 (no heartbeats without peers)',
        pass: perMin(agentWrites) === 0,
        note: `counted by the agent (kubepeer_api_requests_total{client="agent"}); its leader-election Lease renewals are counted apart (client="leader-election", every 2 s as client-go). Agent writes: ${breakdown(agentWrites)}`,
      },
      {
        name: '1000 ForeignClusters: all clients\' API writes per minute (API server metrics, Leases included)',
        unit: 'writes/min',
        samples: [perMin(allWrites)],
        note: `by resource: ${breakdown(allWrites)} (the local control plane's own host Node and its Lease are not the agent's)`,
      },
      { name: '1000 ForeignClusters: agent CPU while idle', unit: '%', samples: [((cpuSeconds(agent.pid) - cpu0) * 100_000) / window] },
    ];
  } finally {
    await agent.stop();
    await c.stop();
  }
}

async function mesh(quick: boolean): Promise<Figure[]> {
  const n = quick ? 3 : 10;
  const clusters: Awaited<ReturnType<typeof startCluster>>[] = [];
  for (let i = 0; i < n; i++) clusters.push(await startCluster(`bench-mesh-${i}`));
  const agents: AgentProcess[] = [];
  try {
    for (const c of clusters) await setClusterConfig(c.client(), { peeringConfig: { acceptPolicy: 'AcceptAll' } });
    for (const c of clusters) agents.push(startAgent(c, ['--no-dashboard']));
    await Promise.all(agents.map(agentMetricsUrl));
    const ids = await Promise.all(clusters.map((c) => clusterIDOf(c.client())));
    const before = await Promise.all(clusters.map((c) => apiRequestCounts(c.client())));
    const cpu0 = agents.map((a) => cpuSeconds(a.pid));
    const t0 = Date.now();
    await Promise.all(
      clusters.flatMap((c, i) =>
        clusters.map((peer, j) =>
          i === j
            ? null
            : c.client().create(resourcePath(GVR.foreignCluster), {
                apiVersion: apiVersionOf(GVR.foreignCluster),
                kind: 'ForeignCluster',
                metadata: { name: ids[j], labels: { [Labels.clusterID]: ids[j] } },
                spec: { clusterID: ids[j], apiUrl: peer.apiUrl, discoveryType: 'Manual', join: true, allowUntrustedCA: true },
              }),
        ),
      ),
    );
    const expected = n * (n - 1);
    let ready = 0;
    while (ready < expected) {
      if (Date.now() - t0 > 15 * 60_000) throw new Error(`mesh did not converge: ${ready}/${expected} virtual nodes Ready`);
      await sleep(1000);
      ready = 0;
      for (const c of clusters) {
        const nodes = await c.client().list<{ status?: { conditions?: Array<{ type: string; status: string }> } }>(resourcePath(Core.nodes), { labelSelector: `${Labels.nodeType}=virtual-node` });
        ready += nodes.items.filter((x) => x.status?.conditions?.some((k) => k.type === 'Ready' && k.status === 'True')).length;
      }
    }
    const converge = Date.now() - t0;
    const after = await Promise.all(clusters.map((c) => apiRequestCounts(c.client())));
    const total = after.reduce((a, x, i) => a + sumAll(diffCounts(before[i]!, x)), 0);
    const cpuConverged = agents.map((a, i) => cpuSeconds(a.pid) - cpu0[i]!);
    const rssConverged = agents.map((a) => rssMiB(a.pid));

    // Steady state of the peered mesh: the heartbeats (each peer's Advertisement write every
    // heartbeatSeconds) against everything else the agents write to their own clusters.
    await sleep(quick ? 5_000 : 15_000);
    const window = quick ? 30_000 : 60_000;
    const advertisementWrites = (l: Record<string, string>) => isWriteSample(l) && l.resource === 'advertisements';
    const agentOwn = (l: Record<string, string>) => isWriteSample(l) && l.client === 'agent';
    const metricsUrls = await Promise.all(agents.map(agentMetricsUrl));
    const hb0 = await Promise.all(clusters.map((c) => apiRequestCounts(c.client(), advertisementWrites)));
    const own0 = await Promise.all(metricsUrls.map((u) => agentRequestCounts(u, agentOwn)));
    await sleep(window);
    const hb = (await Promise.all(clusters.map((c) => apiRequestCounts(c.client(), advertisementWrites)))).map((x, i) => diffCounts(hb0[i]!, x));
    const own = (await Promise.all(metricsUrls.map((u) => agentRequestCounts(u, agentOwn)))).map((x, i) => diffCounts(own0[i]!, x));
    const perPeeringPerMin = (n: number) => (n * 60_000) / window / expected;
    const heartbeatSeconds = Defaults.heartbeatSeconds;
    return [
      { name: `full mesh of ${n} clusters (${expected} peerings): time to converge`, unit: 'ms', samples: [converge] },
      { name: `full mesh of ${n}: API requests per peering (all API servers, all clients)`, unit: 'requests', samples: [total / expected] },
      { name: `full mesh of ${n}: agent CPU while converging`, unit: 'CPU-s', samples: cpuConverged },
      { name: `full mesh of ${n}: agent RSS`, unit: 'MiB', samples: rssConverged },
      {
        name: `full mesh of ${n}, steady state: heartbeats (Advertisement writes) per peering per minute`,
        unit: 'writes/min',
        samples: [perPeeringPerMin(sumCounts(...hb))],
        target: `${60 / heartbeatSeconds} (one per heartbeatSeconds = ${heartbeatSeconds})`,
        pass: Math.abs(perPeeringPerMin(sumCounts(...hb)) - 60 / heartbeatSeconds) <= 1,
      },
      {
        name: `full mesh of ${n}, steady state: the agents' other writes to their own cluster per peering per minute`,
        unit: 'writes/min',
        samples: [perPeeringPerMin(sumCounts(...own))],
        note: `leader election apart; by verb and resource, per peering per minute: ${ratesText(mergeCounts(own), perPeeringPerMin, 2)}`,
      },
    ];
  } finally {
    await Promise.all(agents.map((a) => a.stop()));
    await Promise.all(clusters.map((c) => c.stop()));
  }
}

export async function benchScale(opts: { quick: boolean }): Promise<BenchSection> {
  return { figures: [...(await manyForeignClusters(opts.quick)), ...(await mesh(opts.quick))] };
}

