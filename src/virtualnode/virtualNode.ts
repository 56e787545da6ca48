/**
 * The shape of a virtual node (docs/design.md §5, step 7), as pure functions of an Advertisement
 * and the clock: its name, labels, taint, capacity and readiness. No I/O here.
 */
import { Labels, Names, SHARING_GROUP } from '../api/constants.js';
import type { Advertisement } from '../api/crds.js';
import { isoSeconds } from '../k8s/time.js';

export const VIRTUAL_NODE_TYPE = 'virtual-node';
export const VIRTUAL_NODE_ROLE = 'agent';
/** kubectl prints this as the VERSION column of `kubectl get nodes`. */
export const VIRTUAL_NODE_VERSION = 'kubepeer-virtual-node';

export interface Taint {
  key: string;
  value?: string;
  effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute' | string;
  timeAdded?: string;
}

export const VIRTUAL_NODE_TAINT: Taint = { key: Names.virtualNodeTaintKey, value: 'true', effect: 'NoExecute' };

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface NodeCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown' | string;
  reason?: string;
  message?: string;
  lastHeartbeatTime?: string;
  lastTransitionTime?: string;
}

/** The parts of a Node the virtual-node controller reads. */
export interface NodeLike {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    uid?: string;
    labels?: Record<string, string>;
    ownerReferences?: OwnerReference[];
    managedFields?: Array<{ manager?: string; operation?: string; subresource?: string; fieldsV1?: Record<string, unknown> }>;
    deletionTimestamp?: string;
    creationTimestamp?: string;
  };
  spec?: { taints?: Taint[]; unschedulable?: boolean };
  status?: {
    capacity?: Record<string, string>;
    allocatable?: Record<string, string>;
    conditions?: NodeCondition[];
    nodeInfo?: Record<string, string>;
    addresses?: Array<{ type: string; address: string }>;
    daemonEndpoints?: { kubeletEndpoint?: { Port?: number } };
  };
}

/** Where the API server reaches the virtual node's kubelet endpoint (served by the agent). */
export interface KubeletEndpointAddress {
  address: string;
  port: number;
}

/** The status fields a kubelet reports about itself, for the agent's kubelet endpoint. */
export function kubeletEndpointStatus(e: KubeletEndpointAddress | undefined): Pick<NonNullable<NodeLike['status']>, 'addresses' | 'daemonEndpoints'> {
  return e ? { addresses: [{ type: 'InternalIP', address: e.address }], daemonEndpoints: { kubeletEndpoint: { Port: e.port } } } : {};
}

export const virtualNodeName = (clusterID: string): string => `${Names.virtualNodePrefix}${clusterID}`;
export const advertisementName = (clusterID: string): string => `${Names.advertisementPrefix}${clusterID}`;

/** The cluster ID an Advertisement key names (`advertisement-<id>`), or undefined. */
export function clusterIDOfAdvertisementName(name: string): string | undefined {
  return name.startsWith(Names.advertisementPrefix) && name.length > Names.advertisementPrefix.length ? name.slice(Names.advertisementPrefix.length) : undefined;
}

// ---------------------------------------------------------------- labels

const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/**
 * Label prefixes a peer may not put on our node: Kubernetes' own, and kubepeer's (which marks the
 * host node a local control plane registers). `liqo.io/...` stays open (peers send
 * `liqo.io/remote-cluster-name`), except the fixed `liqo.io/remote-cluster-id`.
 */
const RESERVED_DOMAINS = ['kubernetes.io', 'k8s.io', 'kubepeer.io'];

export function isValidLabel(key: string, value: string): boolean {
  const slash = key.indexOf('/');
  const prefix = slash < 0 ? '' : key.slice(0, slash);
  const name = slash < 0 ? key : key.slice(slash + 1);
  if (slash >= 0 && (prefix.length === 0 || prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) return false;
  if (!LABEL_NAME.test(name)) return false;
  return value === '' || LABEL_NAME.test(value);
}

/** True for keys a peer may not set: the three fixed ones, Kubernetes' (`*kubernetes.io/`, `*k8s.io/`), kubepeer's and any `node-role`. */
export function isReservedLabel(key: string): boolean {
  if (key === Labels.nodeType || key === Labels.nodeRole || key === Labels.remoteClusterID) return true;
  if (key.includes('node-role')) return true;
  const slash = key.indexOf('/');
  if (slash < 0) return false;
  const prefix = key.slice(0, slash).toLowerCase();
  return RESERVED_DOMAINS.some((d) => prefix === d || prefix.endsWith(`.${d}`));
}

export interface VirtualNodeLabels {
  labels: Record<string, string>;
  /** Advertised labels left out, with why (reserved key, not allowed, or not a valid label). */
  ignored: Array<{ key: string; why: 'reserved' | 'invalid' | 'notAllowed' }>;
}

/**
 * Whether a peer may put this label key on its virtual node: an allowlist, since a label is what
 * schedulers and people select nodes by (a stranger's `nvidia.com/gpu.present` would draw GPU
 * workloads). Liqo's own `liqo.io/` keys are allowed; any other key only when a person lists it,
 * or a prefix ending in "/" that covers it, in ClusterConfig peeringConfig.allowedNodeLabels.
 */
export function isAllowedLabel(key: string, allowed: readonly string[] = []): boolean {
  if (key.startsWith('liqo.io/')) return true;
  return allowed.some((a) => (a.endsWith('/') ? key.startsWith(a) : key === a));
}

/** The advertised labels that are allowed, then the three fixed ones (which always win). */
export function virtualNodeLabels(adv: Pick<Advertisement, 'spec'>, allowed: readonly string[] = []): VirtualNodeLabels {
  const labels: Record<string, string> = {};
  const ignored: VirtualNodeLabels['ignored'] = [];
  for (const [key, value] of Object.entries(adv.spec.labels ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
    const v = String(value);
    if (isReservedLabel(key)) ignored.push({ key, why: 'reserved' });
    else if (!isAllowedLabel(key, allowed)) ignored.push({ key, why: 'notAllowed' });
    else if (!isValidLabel(key, v)) ignored.push({ key, why: 'invalid' });
    else labels[key] = v;
  }
  labels[Labels.nodeType] = VIRTUAL_NODE_TYPE;
  labels[Labels.nodeRole] = VIRTUAL_NODE_ROLE;
  labels[Labels.remoteClusterID] = adv.spec.clusterID;
  return { labels, ignored };
}

// ---------------------------------------------------------------- resources

export type ResourceList = { cpu: string; memory: string; pods: string };

export function advertisedResources(adv: Pick<Advertisement, 'spec'>): ResourceList {
  const r = adv.spec.resources;
  return { cpu: String(r.cpu), memory: String(r.memory), pods: String(r.pods) };
}

// ---------------------------------------------------------------- heartbeat

export interface HeartbeatState {
  ready: boolean;
  /** Epoch ms of the last heartbeat; NaN when spec.heartbeat does not parse. */
  heartbeatMs: number;
  /** now - heartbeat, in seconds (negative when the peer's clock is ahead). */
  ageSeconds: number;
  timeToLiveSeconds: number;
  /** When the heartbeat expires (epoch ms); undefined when it does not parse. */
  expiresAtMs?: number;
}

/** Ready while now - spec.heartbeat <= spec.timeToLive seconds. */
export function heartbeatState(adv: Pick<Advertisement, 'spec'>, now: Date): HeartbeatState {
  const ttl = adv.spec.timeToLive ?? 30;
  const heartbeatMs = Date.parse(adv.spec.heartbeat);
  if (Number.isNaN(heartbeatMs)) return { ready: false, heartbeatMs, ageSeconds: Number.POSITIVE_INFINITY, timeToLiveSeconds: ttl };
  const ageMs = now.getTime() - heartbeatMs;
  return { ready: ageMs <= ttl * 1000, heartbeatMs, ageSeconds: ageMs / 1000, timeToLiveSeconds: ttl, expiresAtMs: heartbeatMs + ttl * 1000 };
}

/** metav1.Time is stored at second precision; write it that way so comparisons are stable. */
export const toMetaTime = (ms: number): string => isoSeconds(new Date(ms));
/** metav1.MicroTime (Lease renewTime). */
export const toMicroTime = (ms: number): string => new Date(ms).toISOString().replace(/Z$/, '000Z');
export const sameSecond = (a: string | undefined, bMs: number): boolean => a !== undefined && Math.floor(Date.parse(a) / 1000) === Math.floor(bMs / 1000);

// ---------------------------------------------------------------- the Node

export function ownerReferenceTo(adv: Pick<Advertisement, 'metadata'>): OwnerReference {
  return { apiVersion: `${SHARING_GROUP}/v1alpha1`, kind: 'Advertisement', name: adv.metadata.name, uid: adv.metadata.uid ?? '', controller: true };
}

export interface DesiredVirtualNode {
  name: string;
  /** Server-side apply body for metadata and spec (creates the Node when missing). */
  node: NodeLike;
  /** Merge patch body for the status subresource. */
  status: NonNullable<NodeLike['status']>;
  ready: boolean;
  heartbeat: HeartbeatState;
  ignoredLabels: VirtualNodeLabels['ignored'];
  /** When to look again so NotReady shows the moment the heartbeat expires (ms from now). */
  requeueAfterMs?: number;
}

/** Extra time after the expiry before re-checking, so the check lands after it, not just before. */
export const EXPIRY_SLACK_MS = 50;

/**
 * The virtual node for an accepted Advertisement. `observed` (the current Node, if any) keeps
 * taints other parties added and the Ready condition's lastTransitionTime when readiness does not flip.
 */
export function desiredVirtualNode(adv: Advertisement, now: Date, observed?: NodeLike, clusterName?: string, kubelet?: KubeletEndpointAddress, allowedLabels: readonly string[] = []): DesiredVirtualNode {
  const id = adv.spec.clusterID;
  const name = virtualNodeName(id);
  const { labels, ignored } = virtualNodeLabels(adv, allowedLabels);
  const hb = heartbeatState(adv, now);
  const who = clusterName && clusterName !== id ? `${clusterName} (${id})` : id;
  const resources = advertisedResources(adv);

  const otherTaints = (observed?.spec?.taints ?? []).filter((t) => t.key !== VIRTUAL_NODE_TAINT.key);
  const node: NodeLike = {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels, ownerReferences: [ownerReferenceTo(adv)] },
    spec: { taints: [...otherTaints, VIRTUAL_NODE_TAINT] },
  };

  const ready: NodeCondition = hb.ready
    ? {
        type: 'Ready',
        status: 'True',
        reason: 'HeartbeatReceived',
        // no timestamp here: the status is rewritten only on change or every few minutes, and the
        // node Lease (kube-node-lease) shows each heartbeat
        message: `cluster ${who} sends heartbeats (timeToLive ${hb.timeToLiveSeconds}s; the node Lease shows the latest)`,
      }
    : {
        type: 'Ready',
        status: 'False',
        reason: 'HeartbeatMissed',
        message: Number.isNaN(hb.heartbeatMs)
          ? `the Advertisement of cluster ${who} has no valid heartbeat ("${adv.spec.heartbeat}")`
          : `no heartbeat from cluster ${who} since ${adv.spec.heartbeat} (timeToLive ${hb.timeToLiveSeconds}s); the node stays until heartbeats return: check that the kubepeer agent of that cluster runs and reaches this API server`,
      };
  if (!Number.isNaN(hb.heartbeatMs)) ready.lastHeartbeatTime = toMetaTime(hb.heartbeatMs);
  const prev = observed?.status?.conditions?.find((c) => c.type === 'Ready');
  ready.lastTransitionTime = prev && prev.status === ready.status && prev.lastTransitionTime ? prev.lastTransitionTime : toMetaTime(now.getTime());

  return {
    name,
    node,
    status: { capacity: { ...resources }, allocatable: { ...resources }, conditions: [ready], nodeInfo: { kubeletVersion: VIRTUAL_NODE_VERSION }, ...kubeletEndpointStatus(kubelet) },
    ready: hb.ready,
    heartbeat: hb,
    ignoredLabels: ignored,
    requeueAfterMs: hb.ready && hb.expiresAtMs !== undefined ? Math.max(0, hb.expiresAtMs - now.getTime()) + EXPIRY_SLACK_MS : undefined,
  };
}
