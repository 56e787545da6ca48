/**
 * What the dashboard shows, as pure functions of the objects read with the person's token and the
 * clock: which list a peer belongs to (Available / Connected), its direction, health, resources and
 * the one line that says what is happening. No I/O here.
 */
import { Labels, Names } from '../api/constants.js';
import type { Advertisement, Condition, ForeignCluster, PeeringRequest, SearchDomain } from '../api/crds.js';
import { parseQuantity } from '../k8s/quantity.js';
import type { NodeLike } from '../virtualnode/virtualNode.js';
import { memoryText, type Direction, type PeerOffloading } from '../offloading/usage.js';
import type {
  AdvertisementView, ConditionView, DiscoveryKind, DomainView, EventView, Health, OffloadingDirectionView, OffloadingView, Overview, PeerView, PhaseView, RequestView, Resources,
  VirtualNodeView,
} from './api.js';

/** The ForeignCluster conditions, in the order a peering goes through them. */
const CONDITION_ORDER = ['Discovered', 'Reachable', 'TrustEstablished', 'PeeringRequested', 'PeeringAccepted', 'VirtualNodeReady'];

export interface CoreEvent {
  type?: string;
  reason?: string;
  message?: string;
  count?: number;
  firstTimestamp?: string;
  lastTimestamp?: string;
  eventTime?: string;
  metadata?: { creationTimestamp?: string; uid?: string; name?: string };
  involvedObject?: { kind?: string; name?: string; namespace?: string };
  source?: { component?: string; host?: string };
  reportingComponent?: string;
}

export function resourcesOf(r: Record<string, string | undefined> | undefined): Resources {
  const num = (q: string | undefined) => {
    const n = parseQuantity(q);
    return Number.isFinite(n) ? n : 0;
  };
  return {
    cpu: num(r?.cpu),
    memory: num(r?.memory),
    pods: num(r?.pods),
    raw: { cpu: r?.cpu, memory: r?.memory, pods: r?.pods },
  };
}

export function conditionView(c: Pick<Condition, 'type' | 'status'> & Partial<Condition>): ConditionView {
  return { type: c.type, status: c.status, reason: c.reason || undefined, message: c.message || undefined, lastTransitionTime: c.lastTransitionTime || undefined };
}

export function sortedConditions(list: Condition[] | undefined): ConditionView[] {
  const rank = (t: string) => {
    const i = CONDITION_ORDER.indexOf(t);
    return i < 0 ? CONDITION_ORDER.length : i;
  };
  return [...(list ?? [])].sort((a, b) => rank(a.type) - rank(b.type) || a.type.localeCompare(b.type)).map(conditionView);
}

const phaseOf = (p: { phase?: string; reason?: string; message?: string; lastTransitionTime?: string } | undefined): PhaseView => ({
  phase: p?.phase || 'None',
  reason: p?.reason || undefined,
  message: p?.message || undefined,
  since: p?.lastTransitionTime || undefined,
});

export function virtualNodeView(node: NodeLike | undefined): VirtualNodeView | undefined {
  if (!node) return undefined;
  const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
  return {
    name: node.metadata.name,
    ready: ready ? ready.status === 'True' : null,
    reason: ready?.reason,
    message: ready?.message,
    capacity: node.status?.capacity ? resourcesOf(node.status.capacity) : undefined,
  };
}

export function advertisementView(adv: Advertisement | undefined, now: Date): AdvertisementView | undefined {
  if (!adv) return undefined;
  const hb = adv.spec.heartbeat ? Date.parse(adv.spec.heartbeat) : NaN;
  return {
    name: adv.metadata.name,
    phase: adv.status?.phase,
    reason: adv.status?.reason,
    heartbeat: adv.spec.heartbeat,
    heartbeatAgeSeconds: Number.isFinite(hb) ? Math.max(0, Math.round((now.getTime() - hb) / 1000)) : undefined,
    timeToLive: adv.spec.timeToLive ?? 30,
    resources: resourcesOf(adv.spec.resources as Record<string, string>),
    labels: adv.spec.labels,
  };
}

const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`;
/** `used/limit`, the limit as a person reads it (a node's memory comes in Ki). */
const usedOf = (used: string, limit: string | undefined, memory = false) => (limit ? `${used}/${memory ? memoryText(parseQuantity(limit)) : limit}` : used);

function directionView(d: Direction, text: string): OffloadingDirectionView {
  return { ...d, text };
}

/**
 * What the per-peer card says about offloading: "We run there: 3 pods (cpu 3m/2)" (pods bound to
 * its virtual node, their requests against what it offers) and "It runs here: 2 pods (quota 2/20
 * pods, cpu 20m/1)" (pods of its tenant namespace against the quota this cluster gives it).
 */
export function offloadingView(o: PeerOffloading | undefined): OffloadingView | undefined {
  if (!o || (!o.outgoing && !o.incoming)) return undefined;
  const out: OffloadingView = {};
  if (o.outgoing) {
    const d = o.outgoing;
    const waiting = d.pending ? `, ${d.pending} pending` : '';
    out.weRunThere = directionView(d, `We run there: ${plural(d.pods, 'pod')} (cpu ${usedOf(d.cpu, d.cpuLimit)}, memory ${usedOf(d.memory, d.memoryLimit, true)}${waiting})`);
  }
  if (o.incoming) {
    const d = o.incoming;
    const quota = [d.podsLimit && `${d.pods}/${d.podsLimit} pods`, d.cpuLimit && `cpu ${usedOf(d.cpu, d.cpuLimit)}`, d.memoryLimit && `memory ${usedOf(d.memory, d.memoryLimit, true)}`].filter(Boolean).join(', ');
    out.itRunsHere = directionView(d, `It runs here: ${plural(d.pods, 'pod')} (${quota ? `quota ${quota}` : 'no quota'})`);
  }
  return out;
}

const sourceLabel: Record<DiscoveryKind, string> = {
  LAN: 'Discovered on the LAN',
  WAN: 'Discovered through DNS',
  Manual: 'Added by hand',
  IncomingPeering: 'Asked to peer with this cluster',
};

function ago(seconds: number): string {
  if (seconds < 90) return `${seconds} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${Math.round(seconds / 3600)} h`;
}

function healthOf(connected: boolean, outgoingUp: boolean, node: VirtualNodeView | undefined, adv: AdvertisementView | undefined, incomingUp: boolean): { health: Health; healthMessage: string } {
  if (!connected) return { health: 'unknown', healthMessage: 'Not connected' };
  if (!outgoingUp) return incomingUp ? { health: 'healthy', healthMessage: 'Incoming peering established' } : { health: 'unknown', healthMessage: '' };
  if (node?.ready === false) {
    const age = adv?.heartbeatAgeSeconds;
    return { health: 'down', healthMessage: `Virtual node NotReady${age !== undefined ? `: last heartbeat ${ago(age)} ago` : ''}${node.message ? ` (${node.message})` : ''}` };
  }
  if (!adv) return { health: 'down', healthMessage: 'No Advertisement from the peer yet' };
  const age = adv.heartbeatAgeSeconds;
  if (age === undefined) return { health: 'unknown', healthMessage: 'No heartbeat recorded' };
  if (age > adv.timeToLive) return { health: 'down', healthMessage: `No heartbeat for ${ago(age)} (limit ${adv.timeToLive} s)` };
  if (age > adv.timeToLive / 2) return { health: 'late', healthMessage: `Heartbeat late: ${ago(age)} ago` };
  if (!node) return { health: 'late', healthMessage: `Heartbeat ${ago(age)} ago; virtual node not created yet` };
  return { health: 'healthy', healthMessage: `Heartbeat ${ago(age)} ago` };
}

export interface PeerInputs {
  fc: ForeignCluster;
  advertisement?: Advertisement;
  node?: NodeLike;
  request?: PeeringRequest;
  /** Pods offloaded each way between us and this peer (offloadingByPeer's row for its ID). */
  offloading?: PeerOffloading;
  now: Date;
}

export function peerView({ fc, advertisement, node, request, offloading, now }: PeerInputs): PeerView {
  const spec = fc.spec;
  const discoveryType = (spec.discoveryType ?? 'Manual') as DiscoveryKind;
  const outgoing = phaseOf(fc.status?.outgoing);
  const incoming = phaseOf(fc.status?.incoming);
  const outgoingUp = outgoing.phase === 'Established';
  const incomingUp = incoming.phase === 'Established';
  const connected = outgoingUp || incomingUp;
  const direction = outgoingUp && incomingUp ? 'both' : outgoingUp ? 'outgoing' : incomingUp ? 'incoming' : undefined;
  const vnode = virtualNodeView(node);
  const adv = advertisementView(advertisement, now);
  const requestWaiting = !!request && !isAcceptedOrDenied(request) && request.status?.reason === 'WaitingForApproval';
  const conds = fc.status?.conditions ?? [];
  const problem = spec.join || connected ? sortedConditions(conds).find((c) => c.status === 'False' && c.reason !== 'JoinDisabled') : undefined;

  let state: PeerView['state'];
  if (connected) state = 'connected';
  else if (outgoing.phase === 'Denied') state = 'failed';
  else if (spec.join) state = 'connecting';
  else state = 'available';

  let summary: string;
  const searchDomain = fc.metadata.labels?.[Labels.searchDomain];
  if (state === 'connected') {
    summary =
      direction === 'both'
        ? 'Peered both ways: you use its resources and it uses yours'
        : direction === 'outgoing'
          ? 'You use resources of this peer'
          : 'This peer uses resources of your cluster';
  } else if (state === 'failed') {
    summary = outgoing.message ?? 'The peer denied the peering request';
  } else if (state === 'connecting') {
    summary = problem?.message ?? outgoing.message ?? (outgoing.phase === 'None' ? 'Connecting…' : `${outgoing.phase}…`);
  } else if (requestWaiting) {
    summary = 'Asks to peer with this cluster: see Incoming requests';
  } else {
    summary = discoveryType === 'WAN' && searchDomain ? `Discovered through DNS (${searchDomain})` : sourceLabel[discoveryType];
  }
  const { health, healthMessage } = healthOf(connected, outgoingUp, vnode, adv, incomingUp);
  const listed = !(state === 'available' && discoveryType === 'IncomingPeering' && outgoing.phase === 'None');

  return {
    name: fc.metadata.name,
    clusterID: spec.clusterID,
    clusterName: spec.clusterName || undefined,
    displayName: spec.clusterName || fc.metadata.name || spec.clusterID,
    discoveryType,
    apiUrl: spec.apiUrl,
    namespace: spec.namespace ?? 'liqo',
    join: !!spec.join,
    allowUntrustedCA: !!spec.allowUntrustedCA,
    trustMode: fc.status?.trustMode ?? 'Unknown',
    caFingerprint: fc.status?.caFingerprint ?? spec.caFingerprint,
    outgoing,
    incoming,
    state,
    listed,
    direction,
    summary,
    problem,
    health,
    healthMessage,
    virtualNode: vnode,
    advertisement: adv,
    offloading: offloadingView(offloading),
    requestWaiting,
    lastSeen: fc.status?.lastSeen,
    createdAt: fc.metadata.creationTimestamp ? new Date(fc.metadata.creationTimestamp as unknown as string).toISOString() : undefined,
    deleting: !!fc.metadata.deletionTimestamp,
  };
}

const isAcceptedOrDenied = (pr: PeeringRequest) => pr.status?.phase === 'Accepted' || pr.status?.phase === 'Denied';

export function requestView(pr: PeeringRequest, fcs: ForeignCluster[]): RequestView {
  const fc = fcs.find((f) => f.spec.clusterID === pr.spec.clusterID);
  const identity = pr.status?.conditions?.find((c) => c.type === 'IdentityVerified');
  const phase = pr.status?.phase ?? 'Pending';
  return {
    name: pr.metadata.name,
    clusterID: pr.spec.clusterID,
    clusterName: pr.spec.clusterName || undefined,
    apiUrl: pr.spec.apiUrl,
    phase,
    reason: pr.status?.reason,
    message: pr.status?.message,
    waitingForApproval: phase === 'Pending' && pr.status?.reason === 'WaitingForApproval',
    identity: identity ? conditionView(identity) : undefined,
    createdAt: pr.metadata.creationTimestamp ? new Date(pr.metadata.creationTimestamp as unknown as string).toISOString() : undefined,
    foreignCluster: fc?.metadata.name,
  };
}

export function domainView(sd: SearchDomain): DomainView {
  const synced = sd.status?.conditions?.find((c) => c.type === 'Synced');
  return {
    name: sd.metadata.name,
    domain: sd.spec.domain,
    autojoin: !!sd.spec.autojoin,
    synced: synced ? conditionView(synced) : undefined,
    clusters: sd.status?.clusters?.length ?? 0,
    failures: sd.status?.failures ?? [],
    lastSync: sd.status?.lastSync,
  };
}

export function eventView(e: CoreEvent): EventView {
  const io = e.involvedObject ?? {};
  return {
    type: e.type ?? 'Normal',
    reason: e.reason ?? '',
    message: e.message ?? '',
    object: `${(io.kind ?? '').toLowerCase()}/${io.name ?? ''}`,
    count: e.count ?? 1,
    lastTimestamp: e.lastTimestamp || e.eventTime || e.firstTimestamp || e.metadata?.creationTimestamp,
    source: e.reportingComponent || e.source?.component || undefined,
  };
}

/** Newest first, at most `limit`. */
export function sortEvents(list: EventView[], limit = 100): EventView[] {
  return [...list].sort((a, b) => (b.lastTimestamp ?? '').localeCompare(a.lastTimestamp ?? '')).slice(0, limit);
}

export interface Snapshot {
  fcs: ForeignCluster[];
  advertisements: Advertisement[];
  nodes: NodeLike[];
  requests: PeeringRequest[];
  domains: SearchDomain[];
  /** Per peer, pods offloaded each way (empty when it could not be read). */
  offloading?: PeerOffloading[];
}

export function advertisementNameFor(clusterID: string): string {
  return `${Names.advertisementPrefix}${clusterID}`;
}

export function virtualNodeNameFor(clusterID: string): string {
  return `${Names.virtualNodePrefix}${clusterID}`;
}

/** Every peer of a snapshot, sorted by name. */
export function peerViews(s: Snapshot, now: Date): PeerView[] {
  const advs = new Map(s.advertisements.map((a) => [a.metadata.name, a]));
  const nodes = new Map(s.nodes.map((n) => [n.metadata.name, n]));
  const prs = new Map(s.requests.map((p) => [p.spec.clusterID, p]));
  const offloading = new Map((s.offloading ?? []).map((o) => [o.peerID, o]));
  return s.fcs
    .map((fc) =>
      peerView({
        fc,
        advertisement: advs.get(advertisementNameFor(fc.spec.clusterID)),
        node: nodes.get(virtualNodeNameFor(fc.spec.clusterID)),
        request: prs.get(fc.spec.clusterID),
        offloading: offloading.get(fc.spec.clusterID),
        now,
      }),
    )
    .sort((a, b) => a.displayName.localeCompare(b.displayName) || a.name.localeCompare(b.name));
}

export function counts(peers: PeerView[], requests: RequestView[], domains: DomainView[]): Overview['counts'] {
  return {
    available: peers.filter((p) => p.listed && (p.state === 'available' || p.state === 'failed')).length,
    connecting: peers.filter((p) => p.state === 'connecting').length,
    connected: peers.filter((p) => p.state === 'connected').length,
    requests: requests.filter((r) => r.waitingForApproval).length,
    domains: domains.length,
  };
}

/** Drops what a person never needs to see and must not travel (managedFields, credentials). */
export function scrub<T>(obj: T): T {
  if (!obj || typeof obj !== 'object') return obj;
  const copy = structuredClone(obj) as Record<string, unknown> & { metadata?: Record<string, unknown>; spec?: Record<string, unknown> };
  if (copy.metadata) delete copy.metadata.managedFields;
  if (copy.spec && 'kubeconfig' in copy.spec) copy.spec.kubeconfig = copy.spec.kubeconfig ? '(hidden)' : copy.spec.kubeconfig;
  return copy as T;
}
