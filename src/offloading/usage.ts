/**
 * Offloading per peer, in both directions, as people read it (`kubepeer offload status`, `peer list
 * -o wide`, the dashboard): what we run on each peer (home pods bound to its virtual node, their
 * requests, against what the peer offers us) and what each peer runs here (pods of its tenant
 * namespace, against its quota). Pure: computed from lists the caller read.
 */
import { Labels, Names } from '../api/constants.js';
import { formatCPU, parseQuantity } from '../k8s/quantity.js';
import { OffloadingLabels } from './names.js';

interface Obj {
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string>; deletionTimestamp?: unknown };
  spec?: Record<string, any>;
  status?: Record<string, any>;
}

export interface Direction {
  /** Pods that hold resources and are not being deleted. */
  pods: number;
  running: number;
  pending: number;
  /** Pods being deleted (still holding their resources until they are gone); absent when none. */
  terminating?: number;
  cpu: string;
  memory: string;
  /** What the other side allows: the virtual node's allocatable (outgoing) or the tenant quota (incoming). */
  cpuLimit?: string;
  memoryLimit?: string;
  podsLimit?: string;
}

export interface PeerOffloading {
  peerID: string;
  /** We run pods there (through its virtual node). */
  outgoing?: Direction;
  /** It runs pods here (in its tenant namespace). */
  incoming?: Direction;
}

function sumRequests(pods: Obj[]): { cpu: number; memory: number } {
  let cpu = 0;
  let memory = 0;
  for (const p of pods) {
    for (const c of (p.spec?.containers ?? []) as Array<{ resources?: { requests?: Record<string, string> } }>) {
      cpu += parseQuantity(c.resources?.requests?.cpu) || 0;
      memory += parseQuantity(c.resources?.requests?.memory) || 0;
    }
  }
  return { cpu, memory };
}

/** Memory as a person reads it and a quantity parses: 0, 512Ki, 12Mi, 1.5Gi. */
export function memoryText(bytes: number): string {
  if (!(bytes > 0)) return '0';
  if (bytes >= 2 ** 30) return `${+(bytes / 2 ** 30).toFixed(1)}Gi`;
  if (bytes >= 2 ** 20) return `${Math.round(bytes / 2 ** 20)}Mi`;
  return `${Math.ceil(bytes / 1024)}Ki`;
}

function direction(pods: Obj[], limits: Record<string, string> | undefined, prefix = ''): Direction {
  const live = pods.filter((p) => !['Succeeded', 'Failed'].includes(p.status?.phase));
  // A pod being deleted still holds its requests (on the peer, against the quota) until it is
  // gone, but it is no longer one of the pods a person counts: after a rollout the old ones would
  // otherwise show as extra pods for as long as they take to stop.
  const terminating = live.filter((p) => !!p.metadata?.deletionTimestamp);
  const staying = live.filter((p) => !p.metadata?.deletionTimestamp);
  const sum = sumRequests(live);
  return {
    pods: staying.length,
    running: staying.filter((p) => p.status?.phase === 'Running').length,
    pending: staying.filter((p) => (p.status?.phase ?? 'Pending') === 'Pending').length,
    ...(terminating.length ? { terminating: terminating.length } : {}),
    // Rounded to whole millicores: a sum of 0.001s may land a hair below 0.003.
    cpu: formatCPU(Math.round(sum.cpu * 1000) / 1000),
    memory: memoryText(sum.memory),
    ...(limits?.[`${prefix}cpu`] ? { cpuLimit: limits[`${prefix}cpu`] } : {}),
    ...(limits?.[`${prefix}memory`] ? { memoryLimit: limits[`${prefix}memory`] } : {}),
    ...(limits?.pods ? { podsLimit: limits.pods } : {}),
  };
}

export function offloadingByPeer(input: { nodes: Obj[]; pods: Obj[]; quotas: Obj[] }): PeerOffloading[] {
  const out = new Map<string, PeerOffloading>();
  const entry = (id: string) => out.get(id) ?? (out.set(id, { peerID: id }), out.get(id)!);
  for (const n of input.nodes) {
    const id = n.metadata?.labels?.[Labels.remoteClusterID];
    if (!id || !n.metadata?.name?.startsWith(Names.virtualNodePrefix)) continue;
    const mine = input.pods.filter((p) => p.spec?.nodeName === n.metadata!.name);
    entry(id).outgoing = direction(mine, n.status?.allocatable);
  }
  for (const q of input.quotas) {
    const id = q.metadata?.labels?.[OffloadingLabels.consumer];
    if (!id) continue;
    const theirs = input.pods.filter((p) => p.metadata?.namespace === q.metadata?.namespace);
    entry(id).incoming = direction(theirs, q.spec?.hard, 'requests.');
  }
  return [...out.values()].sort((a, b) => a.peerID.localeCompare(b.peerID));
}

/** "3/110 pods (2 running, 1 terminating) · cpu 300m/2 · mem 1Gi/4Gi", or "-" when there is no such direction. */
export function describeDirection(d: Direction | undefined): string {
  if (!d) return '-';
  const lim = (used: string, limit?: string) => (limit ? `${used}/${limit}` : used);
  // A node's allocatable memory comes in Ki (4026532Ki): shown as a person reads it.
  const memLimit = d.memoryLimit ? memoryText(parseQuantity(d.memoryLimit)) : undefined;
  return `${d.pods}${d.podsLimit ? `/${d.podsLimit}` : ''} pods (${d.running} running${d.terminating ? `, ${d.terminating} terminating` : ''}) · cpu ${lim(d.cpu, d.cpuLimit)} · mem ${lim(d.memory, memLimit)}`;
}
