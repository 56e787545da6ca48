/** Helpers shared by peering tests: read ForeignClusters, wait for phases and nodes. */
import type { ForeignCluster } from '../../src/api/crds.js';
import { GVR } from '../../src/api/crds.js';
import { Core, resourcePath, type KubeClient } from '../../src/k8s/rest.js';
import { Names } from '../../src/api/constants.js';
import { waitFor } from './wait.js';

export async function clusterIDOf(client: KubeClient): Promise<string> {
  return waitFor('cluster-id ConfigMap', async () => (await client.getOrNull<{ data?: Record<string, string> }>(resourcePath(Core.configMaps, { namespace: 'liqo', name: 'cluster-id' })))?.data?.['cluster-id']);
}

export async function foreignCluster(client: KubeClient, name: string): Promise<ForeignCluster | null> {
  return client.getOrNull<ForeignCluster>(resourcePath(GVR.foreignCluster, { name }));
}

export async function foreignClusterByID(client: KubeClient, id: string): Promise<ForeignCluster | undefined> {
  return (await client.list<ForeignCluster>(resourcePath(GVR.foreignCluster))).items.find((f) => f.spec.clusterID === id);
}

export type NodeObj = { metadata: { name: string; labels: Record<string, string> }; spec: { taints?: Array<{ key: string; value: string; effect: string }> }; status: { capacity: Record<string, string>; conditions: Array<{ type: string; status: string; reason: string }> } };

export async function virtualNode(client: KubeClient, id: string): Promise<NodeObj | null> {
  return client.getOrNull<NodeObj>(resourcePath(Core.nodes, { name: `${Names.virtualNodePrefix}${id}` }));
}

export function nodeReady(n: NodeObj | null): boolean {
  return !!n?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
}

export async function waitForReadyNode(client: KubeClient, id: string, timeoutMs = 90_000, describe?: () => Promise<unknown>): Promise<NodeObj> {
  return waitFor(`virtual node liqo-${id} Ready`, async () => {
    const n = await virtualNode(client, id);
    return nodeReady(n) ? n : undefined;
  }, { timeoutMs, describe });
}

export async function setClusterConfig(client: KubeClient, patch: Record<string, unknown>): Promise<void> {
  await client.mergePatch(resourcePath(GVR.clusterConfig, { name: Names.clusterConfig }), { spec: patch });
}

export function describeFC(client: KubeClient, name: string) {
  return async () => {
    const fc = await foreignCluster(client, name);
    return { outgoing: fc?.status?.outgoing, incoming: fc?.status?.incoming, trust: fc?.status?.trustMode, conditions: fc?.status?.conditions?.map((c) => `${c.type}=${c.status} ${c.reason}: ${c.message}`) };
  };
}
