/**
 * What the advertisement controller decides, as a pure function of what it observed: accept or
 * refuse the Advertisement, the virtual node's metadata/spec/status, its Lease, the Advertisement
 * status, the ForeignCluster condition `VirtualNodeReady`, the Events, and when to look again.
 * The reconcile in advertisementController.ts gathers `Observed` from the caches and applies the
 * `Plan`; tests call `plan` with plain objects.
 */
import { Labels } from '../api/constants.js';
import type { Advertisement, AdvertisementStatus, Condition, ForeignCluster } from '../api/crds.js';
import { getCondition, setCondition, type ConditionInput } from '../k8s/conditions.js';
import { parseQuantity } from '../k8s/quantity.js';
import { advertisementProblem } from './advertisementLimits.js';
import {
  VIRTUAL_NODE_TAINT, clusterIDOfAdvertisementName, desiredVirtualNode, sameSecond, toMicroTime, virtualNodeName,
  type DesiredVirtualNode, type KubeletEndpointAddress, type NodeLike,
} from './virtualNode.js';

export const FIELD_MANAGER = 'kubepeer-virtualnode';
export const VIRTUAL_NODE_READY = 'VirtualNodeReady';

export const Reasons = {
  ready: 'HeartbeatReceived',
  heartbeatMissed: 'HeartbeatMissed',
  notJoined: 'NotJoined',
  nameMismatch: 'NameMismatch',
  ownClusterID: 'OwnClusterID',
  nodeNameTaken: 'NodeNameTaken',
  invalidAdvertisement: 'InvalidAdvertisement',
  advertisementDeleted: 'AdvertisementDeleted',
} as const;

export const EventReasons = {
  created: 'VirtualNodeCreated',
  ready: 'VirtualNodeReady',
  notReady: 'VirtualNodeNotReady',
  refused: 'AdvertisementRefused',
  deleted: 'VirtualNodeDeleted',
  labelsIgnored: 'AdvertisedLabelsIgnored',
} as const;

export interface Observed {
  /** The work-queue key: the Advertisement's name. */
  key: string;
  /** Absent when the Advertisement was deleted. */
  advertisement?: Advertisement;
  /** Every ForeignCluster for the cluster ID (by label, or by spec.clusterID for one not labelled yet). */
  foreignClusters: ForeignCluster[];
  /** Node `liqo-<id>` from the cache. */
  node?: NodeLike;
  /** Our own cluster ID: an Advertisement claiming it is refused. */
  localClusterID: string;
  now: Date;
  /**
   * The heartbeat this agent last wrote into the node's Lease (ms), if it remembers one. Without
   * it, the Ready condition's lastHeartbeatTime stands in (after a restart: one extra renewal).
   */
  leaseHeartbeatMs?: number;
  /** Where this agent serves the virtual nodes' kubelet endpoint (logs), once it listens. */
  kubeletEndpoint?: KubeletEndpointAddress;
  /** Label keys (or "prefix/") a person allows peers to put on virtual nodes (peeringConfig.allowedNodeLabels). */
  allowedNodeLabels?: string[];
}

/**
 * The Node status is rewritten when something in it changes, and otherwise only this often (the
 * kubelet's nodeStatusReportFrequency): each heartbeat renews the node Lease, which is what tells
 * Kubernetes the node is alive, so the status need not be written every heartbeat too.
 */
export const NODE_STATUS_REFRESH_MS = 5 * 60_000;

export interface PlannedEvent {
  /** The object the event is about; `node` means the virtual node (created in this pass if new). */
  on: 'advertisement' | 'node' | { foreignCluster: string };
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export interface Plan {
  clusterID?: string;
  nodeName?: string;
  accepted: boolean;
  /** Server-side apply of the Node's metadata and spec (also creates it). */
  applyNode?: NodeLike;
  /** Merge patch of the Node's status subresource. */
  nodeStatus?: NonNullable<NodeLike['status']>;
  /** Renew (or create) Lease `liqo-<id>` in kube-node-lease. */
  lease?: { name: string; renewTime: string; leaseDurationSeconds: number };
  /** Delete the Node (precondition: this uid). */
  deleteNode?: { name: string; uid?: string };
  /** Merge patch of the Advertisement's status subresource (null removes a field). */
  advertisementStatus?: { phase: NonNullable<AdvertisementStatus['phase']>; reason: string | null; virtualNode: string | null };
  /** One condition per ForeignCluster to server-side apply on its status. */
  foreignClusterConditions: Array<{ name: string; condition: Condition }>;
  events: PlannedEvent[];
  /** Heartbeat for the metrics; null forgets the cluster. */
  heartbeat: { clusterID: string; heartbeatMs: number; ready: boolean } | null;
  requeueAfterMs?: number;
  /** Node being deleted: wait for it to go before re-creating. */
  waitForNodeDeletion?: boolean;
}

// ---------------------------------------------------------------- helpers

const isDeleting = (o: { metadata?: { deletionTimestamp?: unknown } }) => Boolean(o.metadata?.deletionTimestamp);

/** ForeignClusters for a cluster ID: labelled ones, or ones whose spec names it (not labelled yet). */
export function foreignClustersFor(all: ForeignCluster[], clusterID: string): ForeignCluster[] {
  return all.filter((fc) => fc.metadata.labels?.[Labels.clusterID] === clusterID || fc.spec?.clusterID === clusterID);
}

function quantityEqual(a: string | undefined, b: string | undefined): boolean {
  if (a === b) return true;
  const x = parseQuantity(a);
  const y = parseQuantity(b);
  if (Number.isNaN(x) || Number.isNaN(y)) return false;
  return Math.abs(x - y) <= 1e-9 * Math.max(1, Math.abs(x), Math.abs(y));
}

function resourcesEqual(a: Record<string, string> | undefined, b: Record<string, string>): boolean {
  return Object.entries(b).every(([k, v]) => quantityEqual(a?.[k], v));
}

/** Label keys our server-side apply owns on the Node (from managedFields). */
export function labelsAppliedBy(node: NodeLike | undefined, manager = FIELD_MANAGER): string[] {
  const out: string[] = [];
  for (const mf of node?.metadata.managedFields ?? []) {
    if (mf.manager !== manager || mf.operation !== 'Apply' || mf.subresource) continue;
    const labels = (mf.fieldsV1?.['f:metadata'] as Record<string, unknown> | undefined)?.['f:labels'] as Record<string, unknown> | undefined;
    for (const k of Object.keys(labels ?? {})) if (k.startsWith('f:')) out.push(k.slice(2));
  }
  return out;
}

/** Whether the Node's metadata/spec already match what we would apply. */
function nodeSpecUpToDate(observed: NodeLike, desired: NodeLike): boolean {
  const labels = observed.metadata.labels ?? {};
  const want = desired.metadata.labels ?? {};
  if (!Object.entries(want).every(([k, v]) => labels[k] === v)) return false;
  if (labelsAppliedBy(observed).some((k) => !(k in want) && k in labels)) return false;
  const owner = desired.metadata.ownerReferences![0]!;
  if (!(observed.metadata.ownerReferences ?? []).some((o) => o.uid === owner.uid)) return false;
  return (observed.spec?.taints ?? []).some((t) => t.key === VIRTUAL_NODE_TAINT.key && (t.value ?? '') === VIRTUAL_NODE_TAINT.value && t.effect === VIRTUAL_NODE_TAINT.effect);
}

function nodeStatusUpToDate(observed: NodeLike, desired: DesiredVirtualNode): boolean {
  const s = observed.status;
  if (!s) return false;
  if (!resourcesEqual(s.capacity, desired.status.capacity!) || !resourcesEqual(s.allocatable, desired.status.allocatable!)) return false;
  if (s.nodeInfo?.kubeletVersion !== desired.status.nodeInfo?.kubeletVersion) return false;
  if (desired.status.addresses && JSON.stringify(s.addresses ?? []) !== JSON.stringify(desired.status.addresses)) return false;
  if (desired.status.daemonEndpoints && s.daemonEndpoints?.kubeletEndpoint?.Port !== desired.status.daemonEndpoints.kubeletEndpoint?.Port) return false;
  const want = desired.status.conditions![0]!;
  const have = s.conditions?.find((c) => c.type === 'Ready');
  if (!have || have.status !== want.status || have.reason !== want.reason || have.message !== want.message) return false;
  if (want.lastHeartbeatTime === undefined) return have.lastHeartbeatTime === undefined;
  if (have.lastHeartbeatTime === undefined) return false;
  const age = Date.parse(want.lastHeartbeatTime) - Date.parse(have.lastHeartbeatTime);
  return age >= 0 && age < NODE_STATUS_REFRESH_MS;
}

/** A node made by kubepeer for this cluster ID (so we may adopt, update or delete it). */
export function isOurVirtualNode(node: NodeLike, clusterID: string): boolean {
  return node.metadata.labels?.[Labels.remoteClusterID] === clusterID;
}

const ownedBy = (node: NodeLike | undefined, uid: string | undefined) => Boolean(uid && node?.metadata.ownerReferences?.some((o) => o.uid === uid));

function conditionsFor(
  fcs: ForeignCluster[],
  input: ConditionInput,
  now: Date,
  events: PlannedEvent[],
  event?: (fc: ForeignCluster, prev: Condition | undefined) => PlannedEvent | undefined,
): Array<{ name: string; condition: Condition }> {
  const out: Array<{ name: string; condition: Condition }> = [];
  for (const fc of fcs) {
    if (isDeleting(fc)) continue;
    const list = fc.status?.conditions;
    const next = setCondition(list, input, fc.metadata.generation, now);
    if (next === list) continue;
    const prev = getCondition(list, input.type);
    out.push({ name: fc.metadata.name, condition: getCondition(next, input.type)! });
    const ev = event?.(fc, prev);
    if (ev) events.push(ev);
  }
  return out;
}

function advertisementStatusPatch(adv: Advertisement, phase: 'Accepted' | 'Refused', reason: string | null, virtualNode: string | null): Plan['advertisementStatus'] {
  const s = adv.status ?? {};
  if (s.phase === phase && (s.reason ?? null) === reason && (s.virtualNode ?? null) === virtualNode) return undefined;
  return { phase, reason, virtualNode };
}

// ---------------------------------------------------------------- the plan

export function plan(o: Observed): Plan {
  const adv = o.advertisement && !isDeleting(o.advertisement) ? o.advertisement : undefined;
  if (!adv) return planGone(o);

  const id = adv.spec.clusterID;
  const nodeName = virtualNodeName(id);
  const fcs = o.foreignClusters;
  const events: PlannedEvent[] = [];
  const clusterName = adv.spec.clusterName ?? fcs.find((f) => f.spec.clusterName)?.spec.clusterName;
  const who = clusterName && clusterName !== id ? `${clusterName} (${id})` : id;

  // ---- refusals
  const refuse = (reason: string, message: string, conditionOn: ForeignCluster[]): Plan => {
    const advertisementStatus = advertisementStatusPatch(adv, 'Refused', reason, null);
    if (advertisementStatus) events.push({ on: 'advertisement', type: 'Warning', reason: EventReasons.refused, message: `${reason}: ${message}` });
    const foreignClusterConditions = conditionsFor(conditionOn, { type: VIRTUAL_NODE_READY, status: 'False', reason, message }, o.now, events);
    // Liqo bug #601: a refused Advertisement never leaves a node behind. Only a node this very
    // Advertisement owns is ours to delete here (a name-mismatched one must not touch another's).
    const deleteNode = o.node && ownedBy(o.node, adv.metadata.uid) && !isDeleting(o.node) ? { name: o.node.metadata.name, uid: o.node.metadata.uid } : undefined;
    return { clusterID: id, nodeName, accepted: false, advertisementStatus, foreignClusterConditions, events, deleteNode, heartbeat: null };
  };

  const expectedName = `advertisement-${id}`;
  if (adv.metadata.name !== expectedName) {
    // The name is what RBAC and admission tie to the writer's identity; a mismatch could be one
    // peer speaking for another, so no ForeignCluster condition is touched either.
    return refuse(
      Reasons.nameMismatch,
      `Advertisement ${adv.metadata.name} claims cluster ${id} but an Advertisement for that cluster must be named ${expectedName}; the peer must write its own Advertisement under that name`,
      [],
    );
  }
  if (id === o.localClusterID) {
    return refuse(Reasons.ownClusterID, `Advertisement ${adv.metadata.name} claims this cluster's own ID ${id}; a cluster never peers with itself`, []);
  }
  const live = fcs.filter((fc) => !isDeleting(fc));
  const joined = live.filter((fc) => fc.spec.join === true);
  if (joined.length === 0) {
    const message =
      live.length === 0
        ? `no ForeignCluster with join: true for cluster ${who}; add one with join: true (kubepeer peer add) to use its resources`
        : `no ForeignCluster with join: true for cluster ${who}; set join: true to use its resources (kubectl patch foreigncluster ${live[0]!.metadata.name} --type merge -p '{"spec":{"join":true}}')`;
    return refuse(Reasons.notJoined, message, live);
  }
  if (o.node && !isOurVirtualNode(o.node, id)) {
    return refuse(
      Reasons.nodeNameTaken,
      `Node ${nodeName} exists and was not made by kubepeer (it has no ${Labels.remoteClusterID}=${id} label); delete or rename that Node so the virtual node for cluster ${who} can be created`,
      joined,
    );
  }
  const problem = advertisementProblem(adv.spec, o.now);
  if (problem) {
    return refuse(Reasons.invalidAdvertisement, `Advertisement ${adv.metadata.name} from cluster ${who}: ${problem}; the peer must advertise valid numbers`, joined);
  }
  if (o.node && isDeleting(o.node)) {
    return { clusterID: id, nodeName, accepted: true, foreignClusterConditions: [], events, heartbeat: null, waitForNodeDeletion: true, requeueAfterMs: 1000 };
  }

  // ---- accepted: the virtual node
  const desired = desiredVirtualNode(adv, o.now, o.node, clusterName, o.kubeletEndpoint, o.allowedNodeLabels);
  const created = !o.node;
  const applyNode = created || !nodeSpecUpToDate(o.node!, desired.node) ? desired.node : undefined;
  const nodeStatus = created || !nodeStatusUpToDate(o.node!, desired) ? desired.status : undefined;
  const observedHeartbeat = o.node?.status?.conditions?.find((c) => c.type === 'Ready')?.lastHeartbeatTime;
  const hbMs = desired.heartbeat.heartbeatMs;
  const leaseHeartbeat = o.leaseHeartbeatMs !== undefined ? new Date(o.leaseHeartbeatMs).toISOString() : observedHeartbeat;
  const lease =
    !Number.isNaN(hbMs) && (created || !sameSecond(leaseHeartbeat, hbMs))
      ? { name: nodeName, renewTime: toMicroTime(hbMs), leaseDurationSeconds: desired.heartbeat.timeToLiveSeconds }
      : undefined;

  if (applyNode && desired.ignoredLabels.length) {
    events.push({
      on: 'advertisement',
      type: 'Warning',
      reason: EventReasons.labelsIgnored,
      message: `labels not put on node ${nodeName}: ${desired.ignoredLabels.map((l) => `${l.key} (${l.why === 'reserved' ? 'reserved for Kubernetes or kubepeer' : l.why === 'notAllowed' ? 'not in peeringConfig.allowedNodeLabels' : 'not a valid label'})`).join(', ')}`,
    });
  }
  const wasReady = o.node?.status?.conditions?.find((c) => c.type === 'Ready')?.status;
  const readyNow = desired.ready ? 'True' : 'False';
  const readyCondition = desired.status.conditions![0]!;
  if (created) {
    events.push({ on: 'node', type: 'Normal', reason: EventReasons.created, message: `virtual node ${nodeName} created for cluster ${who} (cpu ${desired.status.capacity!.cpu}, memory ${desired.status.capacity!.memory}, pods ${desired.status.capacity!.pods})` });
  }
  if (readyNow === 'False' && wasReady !== 'False') {
    events.push({ on: 'node', type: 'Warning', reason: EventReasons.notReady, message: readyCondition.message ?? '' });
  } else if (readyNow === 'True' && wasReady !== undefined && wasReady !== 'True') {
    events.push({ on: 'node', type: 'Normal', reason: EventReasons.ready, message: `heartbeats from cluster ${who} arrive again (last at ${adv.spec.heartbeat})` });
  }

  const fcCondition: ConditionInput = desired.ready
    ? {
        type: VIRTUAL_NODE_READY,
        status: 'True',
        reason: Reasons.ready,
        message: `virtual node ${nodeName} is Ready: heartbeats from cluster ${who} arrive within the ${desired.heartbeat.timeToLiveSeconds}s timeToLive`,
      }
    : {
        type: VIRTUAL_NODE_READY,
        status: 'False',
        reason: Reasons.heartbeatMissed,
        message: `virtual node ${nodeName} is NotReady: ${readyCondition.message}`,
      };

  return {
    clusterID: id,
    nodeName,
    accepted: true,
    applyNode,
    nodeStatus,
    lease,
    advertisementStatus: advertisementStatusPatch(adv, 'Accepted', null, nodeName),
    foreignClusterConditions: conditionsFor(joined, fcCondition, o.now, events),
    events,
    heartbeat: { clusterID: id, heartbeatMs: hbMs, ready: desired.ready },
    requeueAfterMs: desired.requeueAfterMs,
  };
}

/** The Advertisement is gone (or going): the node goes too, and the ForeignCluster says so. */
function planGone(o: Observed): Plan {
  const id = clusterIDOfAdvertisementName(o.key);
  const events: PlannedEvent[] = [];
  // An Advertisement whose name does not match its clusterID was refused and never had a node.
  if (!id || (o.advertisement && o.advertisement.spec.clusterID !== id)) return { accepted: false, foreignClusterConditions: [], events, heartbeat: null };
  const nodeName = virtualNodeName(id);
  // Garbage collection removes the node (it is owned by the Advertisement); delete it ourselves if
  // it remains, e.g. when the garbage collector is slow or not running.
  const node = o.node && isOurVirtualNode(o.node, id) && !isDeleting(o.node) ? o.node : undefined;
  const deleteNode = node ? { name: node.metadata.name, uid: node.metadata.uid } : undefined;
  // Only ForeignClusters that had a virtual node (or a refusal) get told; others never had one.
  const had = o.foreignClusters.filter((fc) => {
    const c = getCondition(fc.status?.conditions, VIRTUAL_NODE_READY);
    return c && c.reason !== Reasons.advertisementDeleted;
  });
  const foreignClusterConditions = conditionsFor(
    had,
    {
      type: VIRTUAL_NODE_READY,
      status: 'False',
      reason: Reasons.advertisementDeleted,
      message: `the Advertisement of cluster ${id} was deleted (peering ended or the peer withdrew it); virtual node ${nodeName} was removed. It comes back when the peer advertises again.`,
    },
    o.now,
    events,
    (fc, prev) =>
      prev?.status === 'True' || deleteNode
        ? { on: { foreignCluster: fc.metadata.name }, type: 'Normal', reason: EventReasons.deleted, message: `Advertisement of cluster ${id} deleted; virtual node ${nodeName} removed` }
        : undefined,
  );
  return { clusterID: id, nodeName, accepted: false, deleteNode, foreignClusterConditions, events, heartbeat: null };
}
