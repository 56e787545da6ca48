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

/** The leader-election Lease (Names.agentLease), as far as liveness goes. */
export interface AgentLease {
  spec: { holderIdentity?: string; renewTime?: string; leaseDurationSeconds?: number };
}

export interface AgentLiveness {
  /** An agent leads now (it renewed the Lease within its duration). */
  running: boolean;
  leader: string | null;
  /** When a leader last renewed the Lease: the agent's heartbeat (null: no agent ever led). */
  lastRenew: string | null;
  renewedSecondsAgo: number | null;
  /** One line for people: "running (leader x, renewed 3s ago)" or "not running since <time> (5 min ago)". */
  text: string;
}

const agoText = (s: number) => (s < 120 ? `${s}s ago` : s < 7200 ? `${Math.round(s / 60)} min ago` : `${Math.round(s / 3600)} h ago`);

/**
 * Whether an agent runs, from its Lease: the leader renews it every few seconds, and a graceful
 * stop releases it (no holder). A Lease released, or not renewed within its duration, means no
 * agent has run since its last renewal; ConfigMap kubepeer-agent-status is written by the leader
 * and not cleared when it stops, so what it says (dashboard URL, LAN discovery) dates from then.
 */
export function agentLiveness(lease: AgentLease | null, now: number): AgentLiveness {
  const renewed = lease?.spec.renewTime ? Date.parse(lease.spec.renewTime) : NaN;
  const ageS = Number.isFinite(renewed) ? Math.max(0, Math.round((now - renewed) / 1000)) : null;
  const holder = lease?.spec.holderIdentity || null;
  const running = !!holder && ageS !== null && ageS < (lease?.spec.leaseDurationSeconds ?? 15);
  const lastRenew = Number.isFinite(renewed) ? new Date(renewed).toISOString() : null;
  const text = running
    ? `running (leader ${holder}, renewed ${ageS}s ago)`
    : lastRenew
      ? `not running since ${lastRenew} (${agoText(ageS!)}${holder ? `; last leader ${holder}` : ''})`
      : 'not running (no agent has led yet)';
  return { running, leader: holder, lastRenew, renewedSecondsAgo: ageS, text };
}

export async function readAgentLease(client: KubeClient, namespace: string): Promise<AgentLease | null> {
  return client.getOrNull<AgentLease>(resourcePath(Core.leases, { namespace, name: Names.agentLease }));
}
