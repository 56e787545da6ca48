/**
 * Two local clusters with real nodes on network-namespace hosts, each with its agent, A peered
 * with B (B accepts all and shares all it has, heartbeats every 2 s): what the offloading and
 * streaming tests and benches all start from.
 */
import { GVR, apiVersionOf } from '../../src/api/crds.js';
import { resourcePath } from '../../src/k8s/rest.js';
import type { LocalCluster } from '../../src/localcluster/localCluster.js';
import type { NetnsHost, NetnsLab } from '../../src/localcluster/netns.js';
import { agentMetricsUrl, startAgent, startCluster, type AgentProcess } from './clusters.js';
import { clusterIDOf, describeFC, setClusterConfig, waitForReadyNode } from './peering.js';

export interface PeeredRealNodePair {
  hosts: { a: NetnsHost; b: NetnsHost };
  a: LocalCluster;
  b: LocalCluster;
  agentA: AgentProcess;
  agentB: AgentProcess;
  /** The agents' metrics URLs (inside their hosts' network namespaces). */
  metricsUrlA: string;
  metricsUrlB: string;
  idA: string;
  idB: string;
  /** Name of A's ForeignCluster for B. */
  foreignClusterName: string;
  /** Stops agents and clusters (not the lab: its owner destroys it). */
  stop(): Promise<void>;
}

export interface PeeredRealNodePairOptions {
  /** Host and cluster names of A and B. */
  names: [string, string];
  /** Pod capacity of B's node. */
  maxPodsB?: number;
  /** Extra arguments for both agents. */
  agentArgs?: string[];
  /** Name of A's ForeignCluster for B (default `cluster-b`). */
  foreignClusterName?: string;
}

export async function startPeeredRealNodePair(lab: NetnsLab, opts: PeeredRealNodePairOptions): Promise<PeeredRealNodePair> {
  const [nameA, nameB] = opts.names;
  const [ha, hb] = await Promise.all([lab.addHost(nameA), lab.addHost(nameB)]);
  // allSettled: a cluster that started is stopped below even when the other one failed.
  const [ra, rb] = await Promise.allSettled([
    startCluster(nameA, { address: ha.address, netns: ha.netns, node: 'real' }),
    startCluster(nameB, { address: hb.address, netns: hb.netns, node: 'real', ...(opts.maxPodsB ? { maxPods: opts.maxPodsB } : {}) }),
  ]);
  const a = ra.status === 'fulfilled' ? ra.value : undefined;
  const b = rb.status === 'fulfilled' ? rb.value : undefined;
  const agents: AgentProcess[] = [];
  const stop = async () => {
    await Promise.all(agents.map((x) => x.stop()));
    await Promise.all([a?.stop(), b?.stop()]);
  };
  try {
    if (!a || !b) throw (ra.status === 'rejected' ? ra.reason : (rb as PromiseRejectedResult).reason) as Error;
    const [A, B] = [a.client(), b.client()];
    await Promise.all([
      setClusterConfig(A, { peeringConfig: { heartbeatSeconds: 2 } }),
      setClusterConfig(B, { peeringConfig: { heartbeatSeconds: 2, acceptPolicy: 'AcceptAll', resourceSharingPercentage: 100 } }),
    ]);
    const agentA = startAgent({ ...a, netns: ha.netns }, opts.agentArgs ?? []);
    const agentB = startAgent({ ...b, netns: hb.netns }, opts.agentArgs ?? []);
    agents.push(agentA, agentB);
    const [metricsUrlA, metricsUrlB] = await Promise.all([agentMetricsUrl(agentA), agentMetricsUrl(agentB)]);
    const [idA, idB] = await Promise.all([clusterIDOf(A), clusterIDOf(B)]);
    const foreignClusterName = opts.foreignClusterName ?? 'cluster-b';
    await A.create(resourcePath(GVR.foreignCluster), {
      apiVersion: apiVersionOf(GVR.foreignCluster),
      kind: 'ForeignCluster',
      metadata: { name: foreignClusterName },
      spec: { clusterID: idB, clusterName: nameB, join: true, discoveryType: 'Manual', apiUrl: b.apiUrl, allowUntrustedCA: true },
    });
    await waitForReadyNode(A, idB, 120_000, describeFC(A, foreignClusterName));
    return { hosts: { a: ha, b: hb }, a, b, agentA, agentB, metricsUrlA, metricsUrlB, idA, idB, foreignClusterName, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
