/**
 * Two loopback local clusters, each with its agent and a ClusterConfig of the test's choosing, not
 * yet peered: what most two-cluster integration tests start from. `stop()` ends agents and clusters.
 */
import type { KubeClient } from '../../src/k8s/rest.js';
import type { LocalCluster } from '../../src/localcluster/localCluster.js';
import { agentMetricsUrl, startAgent, startCluster, type AgentProcess } from './clusters.js';
import { clusterIDOf, setClusterConfig } from './peering.js';

export interface ClusterPair {
  a: LocalCluster;
  b: LocalCluster;
  A: KubeClient;
  B: KubeClient;
  agentA: AgentProcess;
  agentB: AgentProcess;
  idA: string;
  idB: string;
  stop(): Promise<void>;
}

/** Starts both clusters, applies `config` (a ClusterConfig spec patch) to each, then their agents. */
export async function startClusterPair(names: [string, string], config?: Record<string, unknown>): Promise<ClusterPair> {
  const [a, b] = await Promise.all(names.map((n) => startCluster(n))) as [LocalCluster, LocalCluster];
  const A = a.client();
  const B = b.client();
  if (config) await Promise.all([setClusterConfig(A, config), setClusterConfig(B, config)]);
  const agentA = startAgent(a);
  const agentB = startAgent(b);
  await Promise.all([agentMetricsUrl(agentA), agentMetricsUrl(agentB)]);
  const [idA, idB] = await Promise.all([clusterIDOf(A), clusterIDOf(B)]);
  return {
    a, b, A, B, agentA, agentB, idA, idB,
    stop: async () => {
      await Promise.all([agentA.stop(), agentB.stop()]);
      await Promise.all([a.stop(), b.stop()]);
    },
  };
}
