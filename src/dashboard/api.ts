/**
 * The dashboard's JSON API: what the server (dashboardServer.ts) sends and the web app (web/)
 * reads. Types only, no imports, so both sides compile it with their own settings.
 */

export type DiscoveryKind = 'LAN' | 'WAN' | 'Manual' | 'IncomingPeering';
export type Direction = 'outgoing' | 'incoming' | 'both';
/** available: discovered, not connected (join false); connecting: join true, not yet Established. */
export type PeerState = 'available' | 'connecting' | 'connected' | 'failed';
export type Health = 'healthy' | 'late' | 'down' | 'unknown';

export interface PhaseView {
  phase: string;
  reason?: string;
  message?: string;
  since?: string;
}

/** cpu in cores, memory in bytes, pods as a count; raw keeps the quantities as written. */
export interface Resources {
  cpu: number;
  memory: number;
  pods: number;
  raw: { cpu?: string; memory?: string; pods?: string };
}

export interface ConditionView {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

export interface VirtualNodeView {
  name: string;
  /** null when the node has no Ready condition yet. */
  ready: boolean | null;
  reason?: string;
  message?: string;
  capacity?: Resources;
}

export interface AdvertisementView {
  name: string;
  phase?: string;
  reason?: string;
  heartbeat?: string;
  /** Seconds since the last heartbeat, at the time the server answered. */
  heartbeatAgeSeconds?: number;
  timeToLive: number;
  resources: Resources;
  labels?: Record<string, string>;
}

/** Pods offloaded one way between this cluster and a peer, and what they use of what is allowed. */
export interface OffloadingDirectionView {
  pods: number;
  running: number;
  pending: number;
  /** Pods being deleted, still holding their requests; absent when none. */
  terminating?: number;
  /** Requests of those pods, as quantities (3m, 12Mi). */
  cpu: string;
  memory: string;
  /** What the other side allows: its virtual node's allocatable (we run there) or the quota (it runs here). */
  cpuLimit?: string;
  memoryLimit?: string;
  podsLimit?: string;
  /** The line the dashboard shows, e.g. "We run there: 3 pods (cpu 3m/2)". */
  text: string;
}

/** Both directions; a direction is absent when there is no virtual node (we run there) or no tenancy (it runs here). */
export interface OffloadingView {
  weRunThere?: OffloadingDirectionView;
  itRunsHere?: OffloadingDirectionView;
}

/** ok: in use; progress: on its way (pending, disconnecting); bad: denied or not answering; off: not peered. */
export type DirectionTone = 'ok' | 'progress' | 'bad' | 'off';

/** One direction of a peering as the card shows it, e.g. "Outgoing · Pending" with why. */
export interface DirectionStateView {
  /** The ForeignCluster's phase for this direction (None, Pending, Established, Denied, Disconnecting). */
  phase: string;
  /** What the card says: the phase, or "Unreachable" for a peering set up whose peer stopped answering. */
  word: string;
  /** "Outgoing · Pending". */
  label: string;
  /** What it means, or what is wrong. */
  detail: string;
  tone: DirectionTone;
}

/** A peered cluster that stopped answering: it stays under Connected, marked, with what to do. */
export interface UnreachableView {
  /** What was observed: no heartbeat for how long, our writes failing with what. */
  message: string;
  /** What a person can do about it. */
  todo: string;
}

export interface PeerView {
  /** ForeignCluster name. */
  name: string;
  clusterID: string;
  clusterName?: string;
  /** clusterName, else the ForeignCluster name, else the cluster ID. */
  displayName: string;
  discoveryType: DiscoveryKind;
  apiUrl?: string;
  namespace: string;
  join: boolean;
  allowUntrustedCA: boolean;
  trustMode: string;
  caFingerprint?: string;
  outgoing: PhaseView;
  incoming: PhaseView;
  state: PeerState;
  /**
   * Shown under Available or Connected Peers. False for a ForeignCluster that exists only because
   * that cluster asked to peer (it is shown under Incoming requests instead).
   */
  listed: boolean;
  /** Set when connected: the directions set up (Established, or set up and no longer answering). */
  direction?: Direction;
  /** Each direction's own state, shown at once (a merged one hides half a transition). */
  outgoingState: DirectionStateView;
  incomingState: DirectionStateView;
  /** Set when a peered cluster stops answering. */
  unreachable?: UnreachableView;
  /** One line a person reads: what is happening now, or what is wrong and what to do. */
  summary: string;
  /** A condition that is False and blocks progress, if any. */
  problem?: ConditionView;
  health: Health;
  healthMessage: string;
  virtualNode?: VirtualNodeView;
  advertisement?: AdvertisementView;
  /** Pods offloaded each way; absent when nothing can be offloaded either way or it could not be read. */
  offloading?: OffloadingView;
  /** An incoming PeeringRequest from this cluster is waiting for approval. */
  requestWaiting: boolean;
  /** When a person removed this discovered peer: a record that keeps discovery from joining it again (Connect clears it, Forget deletes it). */
  removedAt?: string;
  lastSeen?: Record<string, string>;
  createdAt?: string;
  deleting: boolean;
}

export interface RequestView {
  /** PeeringRequest name (the requester's cluster ID). */
  name: string;
  clusterID: string;
  clusterName?: string;
  apiUrl: string;
  phase: string;
  reason?: string;
  message?: string;
  waitingForApproval: boolean;
  /** What the requester's identity check said (condition IdentityVerified), if anything. */
  identity?: ConditionView;
  createdAt?: string;
  /** ForeignCluster that stands for the requester, when there is one. */
  foreignCluster?: string;
}

export interface DomainView {
  name: string;
  domain: string;
  autojoin: boolean;
  synced?: ConditionView;
  clusters: number;
  failures: Array<{ instance: string; reason: string; message: string }>;
  lastSync?: string;
}

export interface EventView {
  type: string;
  reason: string;
  message: string;
  object: string;
  count: number;
  lastTimestamp?: string;
  source?: string;
}

export interface Overview {
  clusterID: string;
  clusterName: string;
  /** 'api': read with your token; 'agent': your token may not read it, shown from the agent's public identity. */
  identitySource: 'api' | 'agent';
  acceptPolicy?: string;
  /** ClusterConfig peeringConfig.trustMode: Untrusted (default) or Trusted. */
  trustMode?: string;
  /**
   * Whether a kubepeer agent leads (its Lease is renewed): while none does, nothing is reconciled
   * and what the last one published is old. Absent when this token may not read the Lease.
   */
  agent?: { running: boolean; text: string; since?: string };
  counts: { available: number; connecting: number; connected: number; requests: number; domains: number };
}

/** Reads that failed without failing the whole answer (e.g. forbidden to list nodes). */
export type Warnings = string[];

export interface State {
  overview: Overview;
  peers: PeerView[];
  requests: RequestView[];
  domains: DomainView[];
  warnings: Warnings;
  /** Server time, so relative ages do not depend on the browser's clock. */
  now: string;
}

export interface PeerDetails {
  peer: PeerView;
  conditions: ConditionView[];
  events: EventView[];
  request?: RequestView;
  /** The objects as stored (managedFields removed). */
  raw: { foreignCluster: unknown; advertisement?: unknown; peeringRequest?: unknown };
  warnings: Warnings;
  now: string;
}

export interface Session {
  username: string;
  groups: string[];
  /** What RBAC lets this token do (SelfSubjectAccessReview); the API server decides anyway. */
  can: { connect: boolean; addPeer: boolean; remove: boolean; addDomain: boolean; approve: boolean };
}

export interface NewPeer {
  clusterID: string;
  apiUrl: string;
  namespace?: string;
  /** ForeignCluster name; default: the cluster ID. */
  name?: string;
  clusterName?: string;
  allowUntrustedCA: boolean;
  join: boolean;
}

export interface NewDomain {
  domain: string;
  /** SearchDomain name; default: the domain. */
  name?: string;
  /** spec.autojoin: peer with what the domain lists. */
  join: boolean;
}

export interface ApiErrorBody {
  error: {
    /** Unauthorized, Forbidden, Invalid, AlreadyExists, NotFound, Unavailable, ... */
    reason: string;
    message: string;
    /** Per form field: the message to show under it. */
    fields?: Record<string, string>;
    /** The API server's own words, when the message above paraphrases them. */
    detail?: string;
  };
}

/** Server-sent events on GET /api/events. */
export type LiveEvent =
  | { type: 'ready' }
  | { type: 'changed'; kinds: string[] }
  | { type: 'forbidden'; kind: string; message: string }
  | { type: 'unauthorized'; message: string };
