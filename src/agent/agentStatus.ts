/**
 * What the leading agent actually runs, for `kubepeer status` and people: ConfigMap
 * kubepeer-agent-status in the agent's namespace, written by the leader when its term starts
 * (and whenever a plugin's state changes). One small source of truth: ClusterConfig says what is
 * wanted, this says what runs and, when something wanted does not, why.
 */
import { MANAGED_BY, Labels, Names } from '../api/constants.js';
import { Core, isAlreadyExists, resourcePath, type KubeClient } from '../k8s/rest.js';

/** The keys of the ConfigMap's data. */
export const AgentStatusKeys = {
  leader: 'leader',
  dashboardUrl: 'dashboard-url',
  metricsUrl: 'metrics-url',
  /** `Running` or `Inactive` (LAN discovery, both browsing and advertising). */
  lanDiscovery: 'lan-discovery',
  /** Why not, when Inactive. */
  lanDiscoveryReason: 'lan-discovery-reason',
} as const;

export type AgentStatusData = Partial<Record<(typeof AgentStatusKeys)[keyof typeof AgentStatusKeys], string>>;

export async function writeAgentStatus(client: KubeClient, namespace: string, data: AgentStatusData): Promise<void> {
  const path = resourcePath(Core.configMaps, { namespace, name: Names.agentStatusConfigMap });
  // Keys not known this term are removed (null in a merge patch), so nothing stale stays.
  const full = Object.fromEntries(Object.values(AgentStatusKeys).map((k) => [k, data[k] ?? null]));
  try {
    await client.create(resourcePath(Core.configMaps, { namespace }), {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: Names.agentStatusConfigMap, namespace, labels: { [Labels.managedBy]: MANAGED_BY, 'app.kubernetes.io/part-of': 'kubepeer' } },
      data: Object.fromEntries(Object.entries(full).filter(([, v]) => v !== null)),
    });
  } catch (e) {
    if (!isAlreadyExists(e)) throw e;
    await client.mergePatch(path, { data: full });
  }
}

export async function readAgentStatus(client: KubeClient, namespace: string): Promise<AgentStatusData | null> {
  const cm = await client.getOrNull<{ data?: AgentStatusData }>(resourcePath(Core.configMaps, { namespace, name: Names.agentStatusConfigMap }));
  return cm ? (cm.data ?? {}) : null;
}
