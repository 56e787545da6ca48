/**
 * What the requester side of peering decides (docs/design.md §5, steps 1-3, and unpeer), as a
 * pure function of what it observed: the ForeignCluster, its twins, the Advertisement and virtual
 * node, the trust result, the peer's last answer, the clock, and the results of this reconcile's
 * I/O steps. foreignClusterController.ts gathers `OutgoingObserved` and applies the actions (with
 * src/k8s/executor.ts); tests call `planOutgoing` with plain objects.
 *
 * A step that needs I/O (evaluate trust, ensure the credential, send the request) is an action
 * whose result comes back as a field of `OutgoingObserved`; the plan is then asked again. Adding a
 * decision is adding a field (what it depends on) and a branch.
 */
import { Annotations, Labels, Names } from '../../api/constants.js';
import { GVR, type Advertisement, type ForeignCluster, type PeeringPhase } from '../../api/crds.js';
import { getCondition, type ConditionInput } from '../../k8s/conditions.js';
import type { RuntimeAction } from '../../k8s/executor.js';
import { Core } from '../../k8s/rest.js';
import type { TrustOutcome } from '../../trust/trustEvaluator.js';
import { conditionOf } from '../reasons.js';
import { isRemoved, removedMessage } from '../peerRecords.js';

export const FINALIZER = 'discovery.liqo.io/peering-cleanup';
export const FIELD_MANAGER = 'kubepeer-outgoing';
/** While nothing comes back, the PeeringRequest is created again this often (the peer may have dropped it). */
export const RESEND_MS = 30_000;
/** A trust result is used this long, then evaluated again (and on any change of what it depends on). */
export const TRUST_RECHECK_MS = 5 * 60_000;
/** After a denial, the request is sent again this long after the answer. */
export const DENIED_RETRY_MS = 5 * 60_000;
/** How long to wait before retrying when the peer's webhook says too many requests are pending (429). */
export const TOO_MANY_PENDING_RETRY_MS = 60_000;
/**
 * The PeeringRequest is never sent twice within this long, whatever the peer answers (an answer
 * that keeps changing must not turn into a stream of requests to the peer).
 */
export const MIN_RESEND_MS = 5_000;

/**
 * The peer's latest answer about our request, read from ConfigMap `kubepeer-answer-<peer-id>`,
 * which only that peer's credential may write (peerAnswers.ts).
 */
export interface PeerAnswer {
  /** PeeringDropped: the peer deleted our request (expired, rejected, or we revoked its credential). */
  reason: 'PeeringPending' | 'PeeringDenied' | 'PeeringAccepted' | 'PeeringDropped' | 'CredentialRenewed';
  message: string;
  /** When the peer says it answered (ISO time). */
  at: string;
}

/** A trust evaluation: a success is remembered between reconciles, a failure only within one. */
export type TrustResult = { ok: true; outcome: TrustOutcome; key: string; atMs: number } | { ok: false; reason: string; message: string };

/** What creating the PeeringRequest on the peer gave. */
export type SendResult =
  | { ok: true; created: boolean }
  /** `code` 0: no HTTP answer (network). `status` is the API status reason (e.g. Forbidden). */
  | { ok: false; code: number; status: string; message: string };

export interface OutgoingObserved {
  now: Date;
  ownClusterID: string;
  foreignCluster: ForeignCluster;
  /** Other ForeignClusters that name the same cluster ID and are not being deleted. */
  twins: ForeignCluster[];
  /** Advertisement `advertisement-<id>` the peer wrote here. */
  advertisement?: Advertisement;
  /** Node `liqo-<id>`: whether it exists does not matter, only whether it is Ready. */
  virtualNodeReady: boolean;
  /** Whether the credential Secret `liqo-remote-<id>` is in the cache. */
  hasCredential: boolean;
  /** The peer's PeeringRequest to us (the incoming direction), when there is one. */
  incomingRequest?: { rejected: boolean };
  peerAnswer?: PeerAnswer;
  /** When this agent last created the PeeringRequest on the peer (ms; remembered in memory). */
  lastSentMs?: number;
  /** The remembered trust result (fresh or not: the plan decides), or the one just made. */
  trust?: TrustResult;
  /** The token of the credential, once ensured in this reconcile. */
  credential?: { token: string };
  /** The PeeringRequest sent in this reconcile. */
  sent?: SendResult;
}

/** The actions only this controller has (the executor's own are in RuntimeAction). */
export type OutgoingAction =
  | { type: 'evaluateTrust' }
  | { type: 'ensureCredential' }
  | { type: 'sendRequest'; token: string; ca: string[] }
  | { type: 'revokeCredential'; clusterID: string }
  /** The remembered trust result is no longer wanted (unpeered). */
  | { type: 'forgetTrust' }
  | { type: 'handshakeCompleted'; seconds: number };

export type Action = RuntimeAction | OutgoingAction;

/** What a remembered trust result depends on: a change of any of these evaluates trust again. */
export function trustKey(fc: ForeignCluster): string {
  return `${fc.metadata.uid}/${fc.metadata.generation}/${fc.metadata.annotations?.[Annotations.trustResetAt] ?? ''}/${fc.status?.caFingerprint ?? ''}`;
}

const fcTarget = (fc: ForeignCluster) => ({ resource: GVR.foreignCluster, name: fc.metadata.name });

/**
 * The outgoing status: phase, reason, message, the trust fields when trust is known, and the
 * conditions this controller keeps (an apply without one of them removes it). An Event when the
 * phase changes.
 */
function status(o: OutgoingObserved, phase: PeeringPhase, reason: string, message: string, trust: TrustOutcome | undefined, conditions: ConditionInput[] = []): Action[] {
  const fc = o.foreignCluster;
  const actions: Action[] = [
    {
      type: 'foreignClusterStatus',
      foreignCluster: fc,
      manager: FIELD_MANAGER,
      outgoing: { phase, reason, message },
      ...(trust ? { fields: { trustMode: trust.mode, caFingerprint: trust.fingerprint, apiUrl: fc.spec.apiUrl } } : {}),
      conditions,
    },
  ];
  if (fc.status?.outgoing?.phase !== phase) {
    actions.push({ type: 'event', object: fc, eventType: phase === 'Denied' ? 'Warning' : 'Normal', reason: `Outgoing${phase}`, message });
  }
  return actions;
}

/** Ends the peering on our side without calling the peer: the credential first, so the peer cannot write again while we clean up. */
function unpeer(o: OutgoingObserved): Action[] {
  const fc = o.foreignCluster;
  const id = fc.spec.clusterID;
  const phase = fc.status?.outgoing?.phase ?? 'None';
  if (!o.advertisement && !o.hasCredential && phase === 'None') return [];
  return [
    ...(phase !== 'Disconnecting' && phase !== 'None' ? status(o, 'Disconnecting', 'Unpeering', 'removing the virtual node, the Advertisement and the credential of this peer', undefined) : []),
    { type: 'revokeCredential', clusterID: id },
    { type: 'delete', target: { resource: GVR.advertisement, name: `${Names.advertisementPrefix}${id}` } },
    { type: 'delete', target: { resource: Core.nodes, name: `${Names.virtualNodePrefix}${id}` } },
    { type: 'forgetTrust' },
    { type: 'event', object: fc, eventType: 'Normal', reason: 'Unpeered', message: `peering with ${id} ended: virtual node, Advertisement and credential removed` },
  ];
}

/** The ForeignCluster that stands for the cluster ID when several do: the oldest, then by name. */
function olderTwin(o: OutgoingObserved): ForeignCluster | undefined {
  const fc = o.foreignCluster;
  const created = fc.metadata.creationTimestamp ?? '';
  return o.twins.find((t) => {
    const c = t.metadata.creationTimestamp ?? '';
    return c < created || (c === created && t.metadata.name < fc.metadata.name);
  });
}

/** Why creating the PeeringRequest failed, as a reason and a message a person can act on. */
export function sendFailure(fc: ForeignCluster, r: Extract<SendResult, { ok: false }>): { reason: string; message: string; retryAfterMs?: number } {
  const who = fc.spec.clusterName || fc.spec.clusterID;
  if (r.code === 0) return { reason: 'PeerUnreachable', message: `${who} unreachable at ${fc.spec.apiUrl}: ${r.message}; retrying with backoff` };
  if (r.code === 400 || r.code === 403 || r.code === 422 || r.code === 429) {
    // The peer's admission webhook or RBAC refused the request: its message is the reason.
    return { reason: 'RequestRefused', message: `${who} refused the PeeringRequest: ${r.message}`, ...(r.code === 429 ? { retryAfterMs: TOO_MANY_PENDING_RETRY_MS } : {}) };
  }
  if (/failed calling webhook/.test(r.message)) {
    return { reason: 'PeerAgentDown', message: `${who} cannot admit requests right now (its kubepeer agent's webhook does not answer); retrying with backoff` };
  }
  return { reason: 'RequestFailed', message: `creating the PeeringRequest on ${fc.spec.apiUrl} failed: ${r.code} ${r.status}: ${r.message}` };
}

export function planOutgoing(o: OutgoingObserved): Action[] {
  const fc = o.foreignCluster;
  const id = fc.spec.clusterID;
  const who = fc.spec.clusterName || id;
  const now = o.now.getTime();
  const hasFinalizer = !!fc.metadata.finalizers?.includes(FINALIZER);

  if (fc.metadata.deletionTimestamp) {
    // Removing the peer ends both directions: its request to us is marked rejected, and the
    // peeringrequest controller ends it (request and credential deleted, the peer told). Only the
    // record kubepeer made for that request leaves the request alone (it goes because the request did).
    const endIncoming: Action[] =
      o.incomingRequest && !o.incomingRequest.rejected && fc.spec.discoveryType !== 'IncomingPeering'
        ? [{ type: 'mergePatch', target: { resource: GVR.peeringRequest, name: id }, patch: { metadata: { annotations: { [Annotations.approval]: 'rejected' } } } }]
        : [];
    return [...endIncoming, ...unpeer(o), ...(hasFinalizer ? [{ type: 'removeFinalizer', target: fcTarget(fc), object: fc, finalizer: FINALIZER } as const] : [])];
  }

  // Every ForeignCluster carries the cluster-id label, hand-made ones included, so that lookups
  // by ID find one peer, never two.
  if (fc.metadata.labels?.[Labels.clusterID] !== id || fc.metadata.labels?.[Labels.discoveryType] !== fc.spec.discoveryType) {
    return [{ type: 'mergePatch', target: fcTarget(fc), patch: { metadata: { labels: { [Labels.clusterID]: id, [Labels.discoveryType]: fc.spec.discoveryType } } } }];
  }

  // join set on a removal record can only be a person's (discovery never sets it there), e.g. with
  // kubectl edit: that is connecting the peer again, so the record's mark goes, as with peer join.
  if (fc.spec.join && isRemoved(fc)) {
    return [
      { type: 'mergePatch', target: fcTarget(fc), patch: { metadata: { annotations: { [Annotations.removed]: null } } } },
      { type: 'event', object: fc, eventType: 'Normal', reason: 'RemovalCleared', message: `join set on the removed peer ${id}: connecting it again` },
    ];
  }

  if (id === o.ownClusterID) {
    return status(o, 'None', 'OwnCluster', 'this ForeignCluster names our own cluster ID; a cluster never peers with itself', undefined, [
      { type: 'PeeringRequested', status: 'False', reason: 'OwnCluster', message: 'this is our own cluster ID: nothing to peer with' },
    ]);
  }

  // The record kubepeer made for a peer's incoming request gives way to any other ForeignCluster
  // for the same ID (a person's, LAN, DNS): that one takes over, its spec as it is; the
  // peeringrequest controller writes the incoming state on it from the request, which stays.
  // So the seed's two-way procedure, applied on both sides in either order, ends with one
  // ForeignCluster per peer.
  if (fc.spec.discoveryType === 'IncomingPeering') {
    if (o.twins.some((t) => t.spec.discoveryType !== 'IncomingPeering')) return [];
  } else {
    const record = o.twins.find((t) => t.spec.discoveryType === 'IncomingPeering');
    if (record) {
      return [
        { type: 'delete', target: fcTarget(record) },
        { type: 'event', object: fc, eventType: 'Normal', reason: 'AdoptedIncomingRecord', message: `took over ForeignCluster ${record.metadata.name}, which kubepeer made for ${id}'s request to us: this one stands for ${id} now` },
        { type: 'requeueAfter', ms: 1000 },
      ];
    }
  }

  const older = olderTwin(o);
  if (older) {
    return status(o, 'None', 'DuplicateClusterID', `ForeignCluster ${older.metadata.name} already stands for cluster ${id}; this one is ignored (delete one of them)`, undefined, [
      { type: 'PeeringRequested', status: 'False', reason: 'DuplicateClusterID', message: `ForeignCluster ${older.metadata.name} already stands for cluster ${id}; delete one of the two` },
    ]);
  }

  if (!fc.spec.join && isRemoved(fc)) {
    const message = removedMessage(fc);
    return [
      ...unpeer(o),
      ...status(o, 'None', 'Removed', message, undefined, [
        { type: 'PeeringRequested', status: 'False', reason: 'Removed', message },
        { type: 'PeeringAccepted', status: 'False', reason: 'Removed', message },
      ]),
    ];
  }
  if (!fc.spec.join) {
    return [
      ...unpeer(o),
      ...status(o, 'None', 'JoinDisabled', 'join is false: not peering (set spec.join: true to peer)', undefined, [
        { type: 'PeeringRequested', status: 'False', reason: 'JoinDisabled', message: 'spec.join is false' },
        { type: 'PeeringAccepted', status: 'False', reason: 'JoinDisabled', message: 'spec.join is false' },
      ]),
    ];
  }

  if (!hasFinalizer) return [{ type: 'addFinalizer', target: fcTarget(fc), object: fc, finalizer: FINALIZER }];

  // 1. trust
  const t = o.trust;
  const fresh = t && (!t.ok || (t.key === trustKey(fc) && now - t.atMs < TRUST_RECHECK_MS));
  if (!t || !fresh) return [{ type: 'evaluateTrust' }];
  if (!t.ok) {
    const reachable = conditionOf(t.reason) === 'Reachable';
    const phase = fc.status?.outgoing?.phase === 'Established' && t.reason !== 'CAChanged' ? 'Established' : 'Pending';
    const actions: Action[] = [
      ...status(o, phase, t.reason, t.message, undefined, [
        reachable ? { type: 'Reachable', status: 'False', reason: t.reason, message: t.message } : { type: 'TrustEstablished', status: 'False', reason: t.reason, message: t.message },
        ...(reachable ? [] : [{ type: 'Reachable', status: 'True', reason: 'Reachable', message: `${fc.spec.apiUrl} answered` } as const]),
      ]),
      { type: 'event', object: fc, eventType: 'Warning', reason: t.reason, message: t.message },
    ];
    // A changed CA stops the peering until a person re-approves it.
    if (t.reason === 'CAChanged') return [...actions, { type: 'revokeCredential', clusterID: id }, { type: 'requeueAfter', ms: TRUST_RECHECK_MS }];
    return [...actions, { type: 'fail', reason: t.reason, message: t.message }];
  }
  const trust = t.outcome;

  // 2. credential
  if (!o.credential) return [{ type: 'ensureCredential' }];

  const actions: Action[] = [];
  if (!fc.spec.clusterName && trust.remoteName) {
    // A hand-made ForeignCluster has no name; the peer's own (verified) one is the best guess.
    actions.push({ type: 'mergePatch', target: fcTarget(fc), patch: { spec: { clusterName: trust.remoteName } } });
  }
  const trustConds: ConditionInput[] = [
    { type: 'TrustEstablished', status: 'True', reason: trust.reason, message: trust.message },
    { type: 'Reachable', status: 'True', reason: 'Reachable', message: `${fc.spec.apiUrl} answered over verified TLS${trust.address ? ` at ${trust.address}` : ''}` },
  ];

  // The peer's answer counts only when it is about our last request or a later one. The time of
  // our last request: the condition (kept in status across restarts) or, newer, the one this
  // agent remembers.
  const answer = o.peerAnswer;
  const requested = getCondition(fc.status?.conditions, 'PeeringRequested');
  const requestedAt = requested?.status === 'True' ? Date.parse(requested.lastTransitionTime) : 0;
  const lastRequestAt = Math.max(requestedAt, o.lastSentMs ?? 0);
  const answered = (r: PeerAnswer['reason']) => answer?.reason === r && lastRequestAt > 0 && Date.parse(answer.at) >= lastRequestAt - 1000;

  // 3. outcome so far: the peer's Advertisement and our virtual node, or the peer's answer.
  //    A denial after the peer accepted means it ended the peering (a person rejected or removed
  //    us there): its Advertisement, our virtual node and the credential it no longer holds go.
  if (o.advertisement && answered('PeeringDenied')) {
    return [
      { type: 'revokeCredential', clusterID: id },
      { type: 'delete', target: { resource: GVR.advertisement, name: `${Names.advertisementPrefix}${id}` } },
      { type: 'delete', target: { resource: Core.nodes, name: `${Names.virtualNodePrefix}${id}` } },
      { type: 'event', object: fc, eventType: 'Warning', reason: 'PeerEndedPeering', message: `${who} ended the peering: ${answer!.message}; virtual node, Advertisement and credential removed` },
      { type: 'requeueAfter', ms: 1000 },
    ];
  }
  //    A drop after it accepted (someone deleted our request there): its Advertisement is history;
  //    the request is sent again at once (step 4) and the peer accepts it anew.
  if (o.advertisement?.status?.phase === 'Accepted' && !answered('PeeringDropped')) {
    const ready = o.virtualNodeReady;
    if (fc.status?.outgoing?.phase !== 'Established' && ready) {
      const since = Date.parse(getCondition(fc.status?.conditions, 'PeeringRequested')?.lastTransitionTime ?? '') || now;
      actions.push({ type: 'handshakeCompleted', seconds: Math.max(0, (now - since) / 1000) });
    }
    return [
      ...actions,
      ...status(
        o,
        ready ? 'Established' : 'Pending',
        ready ? 'VirtualNodeReady' : 'WaitingForVirtualNode',
        ready ? `peered: virtual node ${Names.virtualNodePrefix}${id} is Ready` : `Advertisement received; waiting for virtual node ${Names.virtualNodePrefix}${id} to be Ready`,
        trust,
        [
          ...trustConds,
          { type: 'PeeringRequested', status: 'True', reason: 'RequestSent', message: 'PeeringRequest created on the peer' },
          { type: 'PeeringAccepted', status: 'True', reason: 'Accepted', message: `${who} accepted and advertises resources` },
        ],
      ),
      { type: 'requeueAfter', ms: TRUST_RECHECK_MS },
    ];
  }

  // Every status written from here on keeps PeeringRequested: a server-side apply without it
  // would drop it, and with it the time of the last request (and the request would go at once).
  const requestedCond: ConditionInput[] = requested?.status === 'True' ? [{ type: 'PeeringRequested', status: 'True', reason: requested.reason, message: requested.message }] : [];
  if (answered('PeeringDenied')) {
    actions.push(
      ...status(o, 'Denied', 'Denied', `${who} denied the peering: ${answer!.message}`, trust, [
        ...trustConds,
        ...requestedCond,
        { type: 'PeeringAccepted', status: 'False', reason: 'Denied', message: answer!.message },
      ]),
    );
    if (now - Date.parse(answer!.at) < DENIED_RETRY_MS) return [...actions, { type: 'requeueAfter', ms: DENIED_RETRY_MS }];
  }

  // 4. (re)send the PeeringRequest: on first join, when the peer says it dropped our request, and
  //    periodically while nothing has come back (the peer may have dropped it without telling;
  //    creating it again is harmless: AlreadyExists). Never twice within MIN_RESEND_MS.
  const pending = answered('PeeringPending');
  const resend =
    !requestedAt || answered('PeeringDropped') || now - Date.parse(fc.status?.outgoing?.lastTransitionTime ?? '0') > RESEND_MS || fc.status?.outgoing?.phase !== 'Pending';
  if (resend && o.lastSentMs !== undefined && now - o.lastSentMs < MIN_RESEND_MS && !o.sent) {
    return [...actions, { type: 'requeueAfter', ms: MIN_RESEND_MS - (now - o.lastSentMs) }];
  }
  if (resend) {
    if (!o.sent) return [{ type: 'sendRequest', token: o.credential.token, ca: trust.ca }];
    if (!o.sent.ok) {
      const f = sendFailure(fc, o.sent);
      return [
        ...actions,
        ...status(o, 'Pending', f.reason, f.message, trust, [...trustConds, { type: conditionOf(f.reason), status: 'False', reason: f.reason, message: f.message }]),
        { type: 'event', object: fc, eventType: 'Warning', reason: f.reason, message: f.message },
        { type: 'fail', ...f },
      ];
    }
    // A peer that dropped our request says why: the status keeps it until the peer answers again.
    const dropped = answered('PeeringDropped');
    const waiting = pending
      ? `waiting for approval on ${who}: ${answer!.message}`
      : dropped
        ? `${who} dropped our PeeringRequest (${answer!.message}); sent it again, waiting for it to verify and accept`
        : `PeeringRequest ${o.sent.created ? 'sent to' : 'already on'} ${who}; waiting for it to verify and accept`;
    actions.push(
      ...status(o, 'Pending', pending ? 'WaitingForApproval' : dropped ? 'RequestDropped' : 'RequestSent', waiting, trust, [
        ...trustConds,
        { type: 'PeeringRequested', status: 'True', reason: dropped ? 'RequestResent' : 'RequestSent', message: `PeeringRequest ${o.ownClusterID} created on ${fc.spec.apiUrl}` },
        { type: 'PeeringAccepted', status: 'Unknown', reason: pending ? 'WaitingForApproval' : dropped ? 'RequestDropped' : 'WaitingForPeer', message: waiting },
      ]),
    );
  } else if (pending) {
    const waiting = `waiting for approval on ${who}: ${answer!.message}`;
    actions.push(...status(o, 'Pending', 'WaitingForApproval', waiting, trust, [...trustConds, ...requestedCond, { type: 'PeeringAccepted', status: 'Unknown', reason: 'WaitingForApproval', message: waiting }]));
  }
  return [...actions, { type: 'requeueAfter', ms: RESEND_MS / 2 }];
}
