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
import { allPeers, removedAt } from '../peering/peerRecords.js';
import type {
  AdvertisementView, ConditionView, DirectionStateView, DirectionTone, DiscoveryKind, DomainView, EventView, Health, OffloadingDirectionView, OffloadingView, Overview, PeerView, PhaseView,
  RequestView, Resources, UnreachableView, VirtualNodeView,
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
    const waiting = `${d.pending ? `, ${d.pending} pending` : ''}${d.terminating ? `, ${d.terminating} terminating` : ''}`;
    out.weRunThere = directionView(d, `We run there: ${plural(d.pods, 'pod')} (cpu ${usedOf(d.cpu, d.cpuLimit)}, memory ${usedOf(d.memory, d.memoryLimit, true)}${waiting})`);
  }
  if (o.incoming) {
    const d = o.incoming;
    const quota = [d.podsLimit && `${d.pods}/${d.podsLimit} pods`, d.cpuLimit && `cpu ${usedOf(d.cpu, d.cpuLimit)}`, d.memoryLimit && `memory ${usedOf(d.memory, d.memoryLimit, true)}`].filter(Boolean).join(', ');
    out.itRunsHere = directionView(d, `It runs here: ${plural(d.pods, 'pod')} (${quota ? `quota ${quota}` : 'no quota'}${d.terminating ? `, ${d.terminating} terminating` : ''})`);
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

function healthOf(
  connected: boolean,
  outgoingUp: boolean,
  node: VirtualNodeView | undefined,
  adv: AdvertisementView | undefined,
  incomingUp: boolean,
  unreachable: UnreachableView | undefined,
): { health: Health; healthMessage: string } {
  if (!connected) return { health: 'unknown', healthMessage: 'Not connected' };
  // The card says what was seen and what to do once, next to the directions.
  if (unreachable) return { health: 'down', healthMessage: 'not answering' };
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

/**
 * Why the outgoing peering, once set up, no longer hears from the peer: its heartbeats stopped (our
 * virtual node went NotReady, or the Advertisement is older than its time to live), or its API
 * server does not answer our checks. Undefined while it answers.
 */
function outgoingSilence(node: VirtualNodeView | undefined, adv: AdvertisementView | undefined, reachable: ConditionView | undefined): string | undefined {
  const age = adv?.heartbeatAgeSeconds;
  if (adv && age !== undefined && age > adv.timeToLive) return `no heartbeat from it for ${ago(age)} (limit ${adv.timeToLive} s)`;
  if (node?.ready === false) return `its virtual node is NotReady${age !== undefined ? `: last heartbeat ${ago(age)} ago` : ''}${node.message ? ` (${node.message})` : ''}`;
  if (reachable?.status === 'False') return reachable.message ?? `its API server does not answer (${reachable.reason})`;
  return undefined;
}

/** The incoming reason for an accepted request whose peer we cannot write to (our Advertisement, our heartbeat). */
const INCOMING_WRITE_FAILED = 'AdvertisementFailed';

interface DirectionFacts {
  which: 'Outgoing' | 'Incoming';
  phase: PhaseView;
  /** Set up: Established, or set up earlier and now not answering. */
  held: boolean;
  /** Why a direction set up no longer answers. */
  silence?: string;
  /** A False condition that blocks this direction. */
  problem?: ConditionView;
  /** What Established means, and what None means, for this direction. */
  up: string;
  off: string;
}

/** One direction as the card shows it ("Outgoing · Pending", with why). */
export function directionState({ which, phase, held, silence, problem, up, off }: DirectionFacts): DirectionStateView {
  const state = (word: string, detail: string, tone: DirectionTone): DirectionStateView => ({ phase: phase.phase, word, label: `${which} · ${word}`, detail, tone });
  if (held && silence) return state('Unreachable', silence, 'bad');
  switch (phase.phase) {
    case 'Established':
      return state('Established', up, 'ok');
    case 'None':
      return state('Not peered', off, 'off');
    case 'Denied':
      return state('Denied', phase.message ?? phase.reason ?? 'The peer denied the request', 'bad');
    default:
      return state(phase.phase, problem?.message ?? phase.message ?? phase.reason ?? `${phase.phase}…`, problem ? 'bad' : 'progress');
  }
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
  const vnode = virtualNodeView(node);
  const adv = advertisementView(advertisement, now);
  const conds = fc.status?.conditions ?? [];
  // A direction stays set up while the peer does not answer: our virtual node stands for the
  // outgoing one (the phase drops to Pending when the node goes NotReady), an Accepted request
  // for the incoming one (its phase drops to Pending when our writes to the peer fail).
  const outgoingUp = outgoing.phase === 'Established' || (!!spec.join && !!vnode && outgoing.phase === 'Pending');
  const incomingUp = incoming.phase === 'Established' || (incoming.phase === 'Pending' && incoming.reason === INCOMING_WRITE_FAILED && request?.status?.phase === 'Accepted');
  const connected = outgoingUp || incomingUp;
  const direction = outgoingUp && incomingUp ? 'both' : outgoingUp ? 'outgoing' : incomingUp ? 'incoming' : undefined;
  const requestWaiting = !!request && !isAcceptedOrDenied(request) && request.status?.reason === 'WaitingForApproval';
  const problem = spec.join || connected ? sortedConditions(conds).find((c) => c.status === 'False' && c.reason !== 'JoinDisabled') : undefined;
  const reachable = conds.find((c) => c.type === 'Reachable');
  const outgoingSilent = outgoingUp ? outgoingSilence(vnode, adv, reachable && conditionView(reachable)) : undefined;
  const incomingSilent = incomingUp && incoming.reason === INCOMING_WRITE_FAILED ? (incoming.message ?? 'we cannot write our Advertisement on it') : undefined;
  const displayName = spec.clusterName || fc.metadata.name || spec.clusterID;
  const removed = removedAt(fc);
  const unreachable: UnreachableView | undefined =
    outgoingSilent || incomingSilent
      ? {
          message: `${displayName} does not answer: ${[outgoingSilent, incomingSilent].filter(Boolean).join('; ')}`,
          todo: 'Check that its API server and kubepeer agent run (on it: kubepeer status). The peering stays and resumes by itself when it answers; to end it for good, open Details and Remove it (both directions end).',
        }
      : undefined;
  const outgoingState = directionState({
    which: 'Outgoing',
    phase: outgoing,
    held: outgoingUp,
    silence: outgoingSilent,
    problem: outgoing.phase === 'Pending' ? problem : undefined,
    up: 'You use its resources through the virtual node',
    off: spec.join ? 'Connecting…' : 'You do not use its resources',
  });
  const incomingState = directionState({
    which: 'Incoming',
    phase: incoming,
    held: incomingUp,
    silence: incomingSilent,
    up: 'It uses resources of your cluster',
    off: 'It does not use your resources',
  });

  let state: PeerView['state'];
  if (connected) state = 'connected';
  else if (outgoing.phase === 'Denied') state = 'failed';
  else if (spec.join) state = 'connecting';
  else state = 'available';

  let summary: string;
  const searchDomain = fc.metadata.labels?.[Labels.searchDomain];
  if (unreachable) {
    summary = unreachable.message;
  } else if (state === 'connected') {
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
  } else if (removed) {
    summary = 'Removed by a person: discovery does not connect it again. Connect peers with it again; Forget (in Details) deletes this record.';
  } else {
    summary = discoveryType === 'WAN' && searchDomain ? `Discovered through DNS (${searchDomain})` : sourceLabel[discoveryType];
  }
  const { health, healthMessage } = healthOf(connected, outgoingUp, vnode, adv, incomingUp, unreachable);
  const listed = !(state === 'available' && discoveryType === 'IncomingPeering' && outgoing.phase === 'None');

  return {
    name: fc.metadata.name,
    clusterID: spec.clusterID,
    clusterName: spec.clusterName || undefined,
    displayName,
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
    outgoingState,
    incomingState,
    ...(unreachable ? { unreachable } : {}),
    summary,
    problem,
    health,
    healthMessage,
    virtualNode: vnode,
    advertisement: adv,
    offloading: offloadingView(offloading),
    requestWaiting,
    ...(removed ? { removedAt: removed } : {}),
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

/** Every peer of a snapshot (also those known only by their request to us), sorted by name. */
export function peerViews(s: Snapshot, now: Date): PeerView[] {
  const advs = new Map(s.advertisements.map((a) => [a.metadata.name, a]));
  const nodes = new Map(s.nodes.map((n) => [n.metadata.name, n]));
  const prs = new Map(s.requests.map((p) => [p.spec.clusterID, p]));
  const offloading = new Map((s.offloading ?? []).map((o) => [o.peerID, o]));
  return allPeers(s.fcs, s.requests)
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
