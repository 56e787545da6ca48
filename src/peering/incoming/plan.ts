/**
 * What the foreign side of peering decides (docs/design.md §5, steps 5-6), as a pure function of
 * what it observed: the PeeringRequest, the requester's ForeignCluster, the credential it handed
 * us, the accept policy, the clock, and the results of this reconcile's I/O steps (the callback
 * address, the identity read back, a token renewal, the Advertisement write).
 * peeringRequestController.ts gathers `IncomingObserved` and applies the actions (with
 * src/k8s/executor.ts); tests call `planIncoming` with plain objects.
 *
 * A step that needs I/O is an action whose result comes back as a field of `IncomingObserved`;
 * the plan is then asked again. Adding a decision is adding a field and a branch.
 */
import { Annotations } from '../../api/constants.js';
import { GVR, type AcceptPolicy, type ForeignCluster, type PeeringRequest, type PeeringRequestPhase } from '../../api/crds.js';
import { setCondition, type ConditionInput } from '../../k8s/conditions.js';
import type { RuntimeAction } from '../../k8s/executor.js';
import type { PhaseInput } from '../../k8s/foreignClusterStatus.js';
import { parseTokenKubeconfig, type TokenKubeconfig } from '../kubeconfig.js';
import { conditionOf } from '../reasons.js';
import { tokenRenewalDue } from './tokenRenewal.js';
import { certificateFingerprint } from '../../trust/pki.js';
import { knownWithoutProof, proofMatches, requestProof } from '../../trust/peeringSecret.js';
import { knownByCAPin } from '../../discovery/dns/caPin.js';
import { isRemoved, madeBeforeRemoval, removedAt } from '../peerRecords.js';

export const FIELD_MANAGER = 'kubepeer-incoming';
/** Denied requests are kept this long for people to see, then dropped so the requester may retry. */
export const DENIED_RETENTION_MS = 60_000;
/**
 * A 401 on our Advertisement means the requester revoked our credential (it unpeered), unless it
 * lasts less than this: a freshly restarted API server can answer 401 for a moment too.
 */
export const UNAUTHORIZED_GRACE_MS = 2000;
/**
 * A request whose requester has not proved its identity within this long (unreachable, or never
 * answering) is dropped: pending requests must not hold the cap forever. The requester re-sends
 * while it still wants to peer.
 */
export const UNVERIFIED_LIFETIME_MS = 5 * 60_000;
export const peerCredentialSecret = (clusterID: string) => `liqo-peer-${clusterID}`;

/** Where and how we call the requester back: its API server, the credential it sent, the checked address. */
export interface RequesterEndpoint {
  clusterID: string;
  apiUrl: string;
  kubeconfig: TokenKubeconfig;
  /** The address the callback connects to, checked against the address policy (undefined for a literal address). */
  pinnedAddress?: string;
}

/** A failed I/O step, as a reason (reasons.ts maps it to its condition) and a message. */
export interface Failure {
  ok: false;
  reason: string;
  message: string;
}

export interface IncomingObserved {
  now: Date;
  own: { clusterID: string; clusterName: string };
  acceptPolicy: AcceptPolicy;
  /** Our LAN peering secret, when configured: a request that proves it is known (src/trust/peeringSecret.ts). */
  peeringSecret?: Buffer;
  /** Fingerprints of the CAs in our trust store (trusted-ca-certificates): a requester whose CA is one of them is known. */
  trustedCAFingerprints?: string[];
  heartbeatSeconds: number;
  /** The work-queue key: the PeeringRequest's name, which is the requester's cluster ID. */
  name: string;
  /** Absent when the request is gone. */
  request?: PeeringRequest;
  /** The ForeignCluster for the requester's cluster ID (not being deleted), if any. */
  foreignCluster?: ForeignCluster;
  /**
   * The kubeconfig in Secret `liqo-peer-<id>`, parsed with the webhook's rules: undefined while not
   * read, null when there is none.
   */
  credential?: { ok: true; kubeconfig: TokenKubeconfig } | { ok: false; message: string } | null;
  /** When the requester's API server first answered 401 to our Advertisement (ms), while it lasts. */
  unauthorizedSinceMs?: number;
  /** The checked callback address, resolved in this reconcile. */
  callback?: { ok: true; pinnedAddress?: string } | Failure;
  /** The cluster ID the requester's API server gave with the credential, read in this reconcile. */
  identity?: { ok: true; clusterID?: string } | Failure;
  /** A fresh token of the requester's credential, asked for in this reconcile. */
  renewal?: { ok: true; token: string; expirationTimestamp: string } | { ok: false; message: string };
  /**
   * A newer create of this request's name that met AlreadyExists (candidates.ts), with a credential
   * other than the stored one; the controller leaves out re-sends of the stored request.
   */
  candidate?: { request: PeeringRequest; atMs: number; token: string };
  /** The identity the newcomer's own credential gave at the callback address, read in this reconcile. */
  candidateCheck?: { ok: true; clusterID?: string } | Failure;
  /** Our Advertisement written on the requester in this reconcile; `code` and `status` are the HTTP ones when there was an answer. */
  advertised?: { ok: true } | { ok: false; code?: number; status?: string; message: string };
}

/** What we tell a requester, in ConfigMap `kubepeer-answer-<our-id>` on its side (outgoing/peerAnswers.ts). */
export type Answer = 'PeeringPending' | 'PeeringDenied' | 'PeeringAccepted' | 'PeeringDropped' | 'CredentialRenewed';

/** The actions only this controller has (the executor's own are in RuntimeAction). */
export type IncomingAction =
  /**
   * Move the kubeconfig of the request into Secret `liqo-peer-<id>` owned by the request, then clear
   * it from the request and put REQUEST_FINALIZER on it (one write).
   */
  | { type: 'storeCredential'; request: PeeringRequest }
  | { type: 'readCredential'; clusterID: string }
  /** Check the callback URL against the address policy and resolve it to a checked address. */
  | { type: 'resolveCallback'; apiUrl: string }
  | { type: 'readIdentity'; peer: RequesterEndpoint; namespace: string }
  /** Tell the requester, in its namespace, what happened to its request (best effort). */
  | { type: 'answer'; peer: RequesterEndpoint; namespace: string; reason: Answer; message: string }
  | { type: 'ensureForeignCluster'; request: PeeringRequest }
  | { type: 'renewToken'; peer: RequesterEndpoint }
  | { type: 'storeRenewedCredential'; clusterID: string; kubeconfig: TokenKubeconfig }
  /** Write (or refresh) our Advertisement on the requester: the heartbeat. */
  | { type: 'writeAdvertisement'; peer: RequesterEndpoint }
  | { type: 'rememberUnauthorized'; clusterID: string; atMs: number }
  | { type: 'forgetUnauthorized'; clusterID: string }
  /**
   * Delete Secret `liqo-peer-<id>` now if `request` owns it. The garbage collector would too, but
   * only after a while on a loaded API server; an ended peering's credential goes with it.
   */
  | { type: 'deleteCredential'; clusterID: string; request: PeeringRequest }
  /** The request is gone: drop the client and what we remember of the requester. */
  | { type: 'forgetRequester'; clusterID: string }
  /** Call the newcomer back with its own credential (it is then forgotten unless it proves `clusterID`). */
  | { type: 'checkCandidate'; candidate: PeeringRequest; atMs: number; apiUrl: string }
  /** Replace the stored request (and its credential Secret) by the newcomer that proved its identity. */
  | { type: 'supersede'; old: PeeringRequest; candidate: PeeringRequest; atMs: number };

export type Action = RuntimeAction | IncomingAction;

const prTarget = (name: string, subresource?: string) => ({ resource: GVR.peeringRequest, name, ...(subresource ? { subresource } : {}) });
/**
 * On every request whose credential we hold: a deletion we did not make ourselves (a person's
 * `kubectl delete peeringrequest`, anything else) waits for us to tell the requester that we
 * dropped its request (PeeringDropped), with the credential it gave us, before both go. Without
 * it a requester whose accepted request vanished would wait for heartbeats forever.
 */
export const REQUEST_FINALIZER = 'discovery.liqo.io/request-cleanup';
const hasRequestFinalizer = (pr: PeeringRequest) => !!pr.metadata.finalizers?.includes(REQUEST_FINALIZER);
/** Our own deletions let go of the finalizer first: the requester was told what it needs (or revoked us). */
const release = (pr: PeeringRequest): Action[] =>
  hasRequestFinalizer(pr) ? [{ type: 'removeFinalizer', target: prTarget(pr.metadata.name), object: pr, finalizer: REQUEST_FINALIZER }] : [];
/** Delete a request and, at once, the credential Secret it owns. */
const deleteRequest = (pr: PeeringRequest): Action[] => [
  { type: 'deleteCredential', clusterID: pr.spec.clusterID, request: pr },
  ...release(pr),
  { type: 'delete', target: prTarget(pr.metadata.name) },
];

/** The request's status: written only when something changed; an Event when the phase changes. */
function requestStatus(o: IncomingObserved, pr: PeeringRequest, phase: PeeringRequestPhase, reason: string, message: string, conditions: ConditionInput[] = []): Action[] {
  let list = pr.status?.conditions ?? [];
  for (const c of conditions) list = setCondition(list, c, pr.metadata.generation, o.now);
  const same = pr.status?.phase === phase && pr.status?.reason === reason && pr.status?.message === message && list === (pr.status?.conditions ?? []);
  if (same) return [];
  return [
    { type: 'mergePatch', target: prTarget(pr.metadata.name, 'status'), patch: { status: { phase, reason, message, conditions: list } } },
    ...(pr.status?.phase !== phase ? [{ type: 'event', object: pr, eventType: phase === 'Denied' ? 'Warning' : 'Normal', reason: `Peering${phase}`, message } as const] : []),
  ];
}

/** The incoming direction on the requester's ForeignCluster (when there is one); an Event when the phase changes. */
function incoming(o: IncomingObserved, next: PhaseInput): Action[] {
  const fc = o.foreignCluster;
  if (!fc) return [];
  const prev = fc.status?.incoming?.phase;
  return [
    { type: 'foreignClusterStatus', foreignCluster: fc, manager: FIELD_MANAGER, incoming: next },
    ...(prev !== next.phase && (prev || next.phase !== 'None')
      ? [{ type: 'event', object: fc, eventType: next.phase === 'Denied' ? 'Warning' : 'Normal', reason: `Incoming${next.phase}`, message: next.message } as const]
      : []),
  ];
}

function deny(o: IncomingObserved, pr: PeeringRequest, reason: string, message: string, tell?: RequesterEndpoint): Action[] {
  return [
    ...requestStatus(o, pr, 'Denied', reason, message, [{ type: 'Accepted', status: 'False', reason, message }]),
    ...(tell ? [{ type: 'answer', peer: tell, namespace: pr.spec.namespace, reason: 'PeeringDenied', message } as const] : []),
    ...incoming(o, { phase: 'Denied', reason, message }),
  ];
}

const denyAndRetain = (o: IncomingObserved, pr: PeeringRequest, reason: string, message: string, tell?: RequesterEndpoint): Action[] => [
  ...deny(o, pr, reason, message, tell),
  { type: 'requeueAfter', ms: DENIED_RETENTION_MS },
];

/** The request is gone: the incoming direction ends, and a ForeignCluster that existed only for it goes too. */
function forget(o: IncomingObserved): Action[] {
  const fc = o.foreignCluster;
  const onlyForTheRequest = fc && fc.spec.discoveryType === 'IncomingPeering' && !fc.spec.join && (fc.status?.outgoing?.phase ?? 'None') === 'None';
  return [
    { type: 'forgetRequester', clusterID: o.name },
    ...incoming(o, { phase: 'None', reason: 'NoRequest', message: 'no PeeringRequest from this cluster' }),
    ...(onlyForTheRequest ? [{ type: 'delete', target: { resource: GVR.foreignCluster, name: fc.metadata.name } } as const] : []),
  ];
}

/**
 * "Known" for AutoAcceptKnown (docs/design.md §5): the request proves our peering secret for this
 * requester, us and the CA of its credential (which the identity callback then verifies its API
 * server with); or that CA is in our trust store; or a person made or joined its ForeignCluster
 * (a Manual one, or join set outside discovery's autojoin); or a SearchDomain with autojoin lists
 * it with a `ca=` pin that is that CA. Being seen on the LAN or in DNS is not enough.
 */
export function isKnownRequester(o: Pick<IncomingObserved, 'own' | 'request' | 'foreignCluster' | 'peeringSecret' | 'trustedCAFingerprints'>, kubeconfig: TokenKubeconfig): boolean {
  // A peer a person removed stays removed until a person connects it: nothing makes it known.
  if (isRemoved(o.foreignCluster)) return false;
  if (knownWithoutProof(o.foreignCluster)) return true;
  let ca: string;
  try {
    ca = certificateFingerprint(kubeconfig.caPem);
  } catch {
    return false;
  }
  if (o.trustedCAFingerprints?.includes(ca)) return true;
  if (knownByCAPin(o.foreignCluster, ca)) return true;
  const pr = o.request;
  if (!o.peeringSecret || !pr?.spec.peeringProof) return false;
  return proofMatches(requestProof(o.peeringSecret, pr.spec.clusterID, o.own.clusterID, ca), pr.spec.peeringProof);
}

/**
 * Whether a newcomer with a stored request's name may replace it (step 0 of planIncoming). Where we
 * know the peer at an address of our own, the newcomer's identity is checked there, which only the
 * cluster itself passes. Where we know it only from its requests, "proves its identity" means only
 * that some API server, verified with the CA the newcomer sent, says it is that ID, which any
 * cluster can say of itself: such a newcomer may replace a request that is still unverified, but a
 * verified or accepted one only when it shows what a stranger cannot copy: the same CA as the
 * stored credential (the same cluster with a new token), or its own proof of being known (our LAN
 * peering secret over its CA, a CA we trust or pinned: isKnownRequester). Otherwise anyone could
 * end an established peering by claiming the peer's ID.
 */
export function candidateMayReplace(o: Pick<IncomingObserved, 'own' | 'foreignCluster' | 'peeringSecret' | 'trustedCAFingerprints' | 'credential'>, stored: PeeringRequest, candidate: PeeringRequest, knownAt: string | undefined): boolean {
  if (knownAt) return true;
  const proven = stored.status?.phase === 'Accepted' || stored.status?.conditions?.some((c) => c.type === 'IdentityVerified' && c.status === 'True');
  if (!proven) return true;
  let kubeconfig: TokenKubeconfig;
  try {
    kubeconfig = parseTokenKubeconfig(candidate.spec.kubeconfig ?? '');
  } catch {
    return false;
  }
  const fingerprint = (pem: string | undefined) => {
    try {
      return pem ? certificateFingerprint(pem) : undefined;
    } catch {
      return undefined;
    }
  };
  const ca = fingerprint(kubeconfig.caPem);
  if (ca && o.credential?.ok && ca === fingerprint(o.credential.kubeconfig.caPem)) return true;
  return isKnownRequester({ ...o, request: candidate }, kubeconfig);
}

export function planIncoming(o: IncomingObserved): Action[] {
  const pr = o.request;
  if (!pr) return forget(o);
  const name = pr.metadata.name;
  const id = pr.spec.clusterID;
  if (pr.metadata.deletionTimestamp && !hasRequestFinalizer(pr)) return [];
  if (name !== id || id === o.own.clusterID) {
    return deny(o, pr, 'InvalidRequest', name !== id ? `PeeringRequest name ${name} does not match its clusterID ${id}` : 'a cluster never peers with itself');
  }

  // 1. The credential moves into a Secret we own (through the request), then leaves the request.
  if (pr.spec.kubeconfig) return [{ type: 'storeCredential', request: pr }];
  if (o.credential === undefined) return [{ type: 'readCredential', clusterID: id }];
  const known = o.foreignCluster;
  // A peer we know at an address of our own is called back there, never at the request's apiUrl.
  const knownAt = known?.spec.discoveryType !== 'IncomingPeering' && known?.spec.apiUrl ? known.spec.apiUrl : undefined;

  // Someone else deleted the request (ours release the finalizer first): the requester, waiting
  // or peered, is told where its address passes the policy, so that it sends a new one at once.
  if (pr.metadata.deletionTimestamp) {
    // Told last, once the request is gone: a new one it sends at once must not meet the old name.
    const dropped = (tell?: RequesterEndpoint): Action[] => [
      { type: 'event', object: pr, eventType: 'Normal', reason: 'RequestDeleted', message: `the PeeringRequest of ${id} was deleted: its credential goes with it${tell ? `, and ${id} is told` : ''}` },
      { type: 'deleteCredential', clusterID: id, request: pr },
      ...release(pr),
      ...(tell ? [{ type: 'answer', peer: tell, namespace: pr.spec.namespace, reason: 'PeeringDropped', message: 'your PeeringRequest was deleted here; send a new one if you still want to peer' } as const] : []),
    ];
    if (!o.credential?.ok) return dropped();
    if (!o.callback) return [{ type: 'resolveCallback', apiUrl: knownAt ?? pr.spec.apiUrl }];
    if (!o.callback.ok) return dropped();
    return dropped({ clusterID: id, apiUrl: knownAt ?? pr.spec.apiUrl, kubeconfig: o.credential.kubeconfig, ...(o.callback.pinnedAddress ? { pinnedAddress: o.callback.pinnedAddress } : {}) });
  }

  // 0. A newcomer with this request's name (its create met AlreadyExists) that proves the identity
  //    the name claims, with its own credential at the address we call, replaces this request at
  //    once: the real peer wins over a request that squats its ID, and a peer that re-joins does
  //    not wait for the old request to end (candidates.ts says why this is safe).
  const c = o.candidate;
  const storedToken = o.credential?.ok ? o.credential.kubeconfig.token : undefined;
  if (c && c.request.spec.clusterID === id && c.token !== storedToken && candidateMayReplace(o, pr, c.request, knownAt) && (!o.candidateCheck || (o.candidateCheck.ok && o.candidateCheck.clusterID === id))) {
    if (!o.candidateCheck) return [{ type: 'checkCandidate', candidate: c.request, atMs: c.atMs, apiUrl: knownAt ?? c.request.spec.apiUrl }];
    return [
      { type: 'event', object: pr, eventType: 'Normal', reason: 'RequestSuperseded', message: `a newer PeeringRequest from ${id} proved its identity at ${knownAt ?? c.request.spec.apiUrl}: it replaces this one` },
      ...release(pr),
      { type: 'supersede', old: pr, candidate: c.request, atMs: c.atMs },
    ];
  }
  if (!o.credential) return denyAndRetain(o, pr, 'NoCredential', 'the request carries no credential (kubeconfig); the requester must send a new PeeringRequest');
  if (!o.credential.ok) return denyAndRetain(o, pr, 'InvalidCredential', `the credential is unusable: ${o.credential.message}`);
  const kubeconfig = o.credential.kubeconfig;
  const apiUrl = knownAt ?? pr.spec.apiUrl;
  const now = o.now.getTime();

  // Denied requests are kept a minute for people to see, then dropped so the requester may retry.
  if (pr.status?.phase === 'Denied') {
    const at = Date.parse(pr.status.conditions?.find((c) => c.type === 'Accepted')?.lastTransitionTime ?? '') || now;
    if (now - at >= DENIED_RETENTION_MS) return deleteRequest(pr);
    return [{ type: 'requeueAfter', ms: DENIED_RETENTION_MS - (now - at) + 100 }];
  }

  const verified = pr.status?.conditions?.find((c) => c.type === 'IdentityVerified')?.status === 'True';
  const created = Date.parse(String(pr.metadata.creationTimestamp ?? '')) || now;
  const expired = pr.status?.phase !== 'Accepted' && !verified && now - created >= UNVERIFIED_LIFETIME_MS;
  if (expired) {
    // The requester may still be waiting on this request (its re-sends meet AlreadyExists): it is
    // told, where its address passes the policy, so that it sends a fresh one at once. Best
    // effort: a requester that never answered our callback will most likely not get it either.
    const why = `the requester did not prove its identity within ${UNVERIFIED_LIFETIME_MS / 60_000} minutes (${pr.status?.message ?? 'no answer'})`;
    if (!o.callback) return [{ type: 'resolveCallback', apiUrl }];
    const tell: RequesterEndpoint | undefined = o.callback.ok ? { clusterID: id, apiUrl, kubeconfig, ...(o.callback.pinnedAddress ? { pinnedAddress: o.callback.pinnedAddress } : {}) } : undefined;
    // told once the request is gone, so that a new one it sends at once does not meet the old name
    return [
      { type: 'event', object: pr, eventType: 'Warning', reason: 'RequestExpired', message: `${why}; request dropped` },
      ...deleteRequest(pr),
      ...(tell ? [{ type: 'answer', peer: tell, namespace: pr.spec.namespace, reason: 'PeeringDropped', message: `your PeeringRequest was dropped: ${why}; send a new one` } as const] : []),
    ];
  }
  /**
   * A request for a peer we know at our own address that fails the identity check there is not
   * kept or retried: it would hold the name (the real peer's create meets AlreadyExists). Dropped
   * at once; if it was the real peer, briefly unreachable, its next re-send comes back.
   */
  const dropUnproven = (reason: string, message: string): Action[] => [
    { type: 'event', object: pr, eventType: 'Warning', reason: 'UnverifiedRequestDropped', message: `${id} is a known peer at ${knownAt}, which did not confirm this request (${reason}: ${message}); dropped so that its own request can take its place` },
    ...deleteRequest(pr),
  ];
  // An accepted request a person rejected (`kubepeer peer reject`), or whose ForeignCluster a person
  // removed: the incoming peering ends. The request goes (its credential Secret with it: the
  // request owns it), so no heartbeat follows; the requester is told where it can be reached.
  // A removal record (src/peering/peerRecords.ts) newer than the request ends it the same way.
  const ended = pr.status?.phase === 'Accepted' && (pr.metadata.annotations?.[Annotations.approval] === 'rejected' || madeBeforeRemoval(o.foreignCluster, pr));
  const endIncoming = (peer?: RequesterEndpoint): Action[] => [
    ...(peer ? [{ type: 'answer', peer, namespace: pr.spec.namespace, reason: 'PeeringDenied', message: `an administrator of ${o.own.clusterName} ended the peering` } as const] : []),
    { type: 'event', object: pr, eventType: 'Normal', reason: 'PeeringEnded', message: `the incoming peering of ${id} ended: request and credential deleted, no more Advertisement or heartbeats` },
    ...deleteRequest(pr),
  ];
  if (!o.callback) return [{ type: 'resolveCallback', apiUrl }];
  if (ended && !o.callback.ok) return endIncoming();
  if (!o.callback.ok) {
    const { reason, message } = o.callback;
    // A name we cannot resolve says nothing about the request: a peer DNS discovery listed has its
    // addresses recorded a moment after its ForeignCluster appears (status.dnsAddresses), and
    // dropping its request then made it wait for its next re-send (30 s).
    if (knownAt && pr.status?.phase !== 'Accepted' && reason !== 'RequesterUnresolvable') return dropUnproven(reason, message);
    if (reason === 'RequesterUnreachable' || reason === 'RequesterUnresolvable') {
      // a name that does not resolve (yet): retried with backoff, not a refusal
      return [
        ...(pr.status?.phase !== 'Accepted' ? requestStatus(o, pr, 'Pending', reason, message, [{ type: conditionOf(reason), status: 'Unknown', reason, message }]) : []),
        { type: 'fail', reason, message },
      ];
    }
    return denyAndRetain(o, pr, reason, message);
  }
  const peer: RequesterEndpoint = { clusterID: id, apiUrl, kubeconfig, ...(o.callback.pinnedAddress ? { pinnedAddress: o.callback.pinnedAddress } : {}) };
  if (ended) return endIncoming(peer);

  const actions: Action[] = [];
  // An accepted peering always has its ForeignCluster, so that it shows in `peer list`, `status`
  // and the dashboard: made again if someone deleted it.
  if (pr.status?.phase === 'Accepted' && !o.foreignCluster) actions.push({ type: 'ensureForeignCluster', request: pr });
  if (pr.status?.phase !== 'Accepted') {
    // 2. identity: the requester proves it is `id` by reading its own cluster-id with its token.
    if (pr.status?.conditions?.find((c) => c.type === 'IdentityVerified')?.status !== 'True') {
      if (!o.identity) return [{ type: 'readIdentity', peer, namespace: pr.spec.namespace }];
      if (!o.identity.ok) {
        const { reason, message } = o.identity;
        if (knownAt) return dropUnproven(reason, message);
        if (reason === 'RequesterUnreachable') {
          return [...requestStatus(o, pr, 'Pending', reason, message, [{ type: conditionOf(reason), status: 'Unknown', reason, message }]), { type: 'fail', reason, message }];
        }
        return denyAndRetain(o, pr, reason, message);
      }
      if (o.identity.clusterID !== id) {
        if (knownAt) return dropUnproven('IdentityMismatch', `it says it is cluster "${o.identity.clusterID ?? '(none)'}"`);
        return denyAndRetain(o, pr, 'IdentityMismatch', `the API server at ${apiUrl} says it is cluster "${o.identity.clusterID ?? '(none)'}", but the request claims ${id}`, peer);
      }
      return requestStatus(o, pr, 'Pending', 'IdentityVerified', `identity of ${id} verified at ${apiUrl}`, [
        { type: 'IdentityVerified', status: 'True', reason: 'Verified', message: `${apiUrl} answered with its own credential as ${id}` },
      ]);
    }

    // 3. policy
    const policy = o.acceptPolicy;
    const approval = pr.metadata.annotations?.[Annotations.approval];
    const knownPeer = isKnownRequester(o, kubeconfig);
    const who = pr.spec.clusterName || id;
    if (approval === 'rejected' || policy === 'RejectAll') {
      return denyAndRetain(
        o,
        pr,
        approval === 'rejected' ? 'RejectedByAdmin' : 'RejectAll',
        approval === 'rejected' ? 'an administrator rejected the request' : 'this cluster does not accept peering requests (acceptPolicy: RejectAll)',
        peer,
      );
    }
    // A peer a person removed here waits for a person whatever the policy: accepting it by itself
    // would undo the removal within minutes.
    const removedHere = removedAt(o.foreignCluster);
    const accept = approval === 'accepted' || (!removedHere && (policy === 'AcceptAll' || (policy === 'AutoAcceptKnown' && knownPeer)));
    if (!accept) {
      const why = removedHere
        ? `${who} was removed by a person on ${o.own.clusterName} at ${removedHere}: run "kubepeer peer accept ${id}" or "kubepeer peer join ${id}" there to connect it again`
        : policy === 'Manual'
          ? `waiting for approval (acceptPolicy: Manual): run "kubepeer peer accept ${id}" on ${o.own.clusterName}`
          : `${who} is not a known peer (it did not prove our LAN peering secret, its CA is not in our trust store, and no person connected it): run "kubepeer peer join ${id}" or "kubepeer peer accept ${id}" on ${o.own.clusterName} to accept`;
      const wasPending = pr.status?.reason === 'WaitingForApproval';
      return [
        ...requestStatus(o, pr, 'Pending', 'WaitingForApproval', why, [{ type: 'Accepted', status: 'Unknown', reason: 'WaitingForApproval', message: why }]),
        ...(wasPending ? [] : [{ type: 'answer', peer, namespace: pr.spec.namespace, reason: 'PeeringPending', message: why } as const]),
        { type: 'ensureForeignCluster', request: pr },
        ...incoming(o, { phase: 'Pending', reason: 'WaitingForApproval', message: why }),
      ];
    }
    const by = approval === 'accepted' ? 'ApprovedByAdmin' : policy;
    actions.push(
      { type: 'ensureForeignCluster', request: pr },
      ...requestStatus(o, pr, 'Accepted', by, `accepted (${approval === 'accepted' ? 'approved by an administrator' : `acceptPolicy ${policy}`})`, [
        { type: 'Accepted', status: 'True', reason: by, message: 'request accepted' },
      ]),
      { type: 'answer', peer, namespace: pr.spec.namespace, reason: 'PeeringAccepted', message: 'request accepted; advertising resources' },
    );
  }

  // 4. Advertisement + heartbeat, renewing the credential first when 80 % of its lifetime is gone
  let advertiseAs = peer;
  if (tokenRenewalDue(kubeconfig.token, now)) {
    if (!o.renewal) return [{ type: 'renewToken', peer }];
    if (o.renewal.ok) {
      const renewed = { ...kubeconfig, token: o.renewal.token };
      advertiseAs = { ...peer, kubeconfig: renewed };
      actions.push(
        { type: 'storeRenewedCredential', clusterID: id, kubeconfig: renewed },
        { type: 'log', level: 'info', message: 'renewed the credential of the requester', fields: { clusterID: id, expires: o.renewal.expirationTimestamp } },
        { type: 'event', object: pr, eventType: 'Normal', reason: 'CredentialRenewed', message: `renewed our credential on ${apiUrl} before it expired; the new one expires at ${o.renewal.expirationTimestamp}` },
        { type: 'answer', peer: advertiseAs, namespace: pr.spec.namespace, reason: 'CredentialRenewed', message: `renewed our credential; the new token expires at ${o.renewal.expirationTimestamp}` },
      );
    } else {
      // Not fatal while the current token lasts (e.g. a credential from an older requester
      // agent that has not granted the renewal yet); the heartbeat goes on, retried next time.
      actions.push({ type: 'log', level: 'warn', message: 'could not renew the credential of the requester; it stays valid until it expires', fields: { clusterID: id, err: o.renewal.message } });
    }
  }

  if (!o.advertised) return [{ type: 'writeAdvertisement', peer: advertiseAs }];
  const ad = o.advertised;
  if (!ad.ok) {
    if (ad.code === 401) {
      // 401: the token is no longer valid, i.e. the requester revoked it (unpeered), unless the
      // 401s last less than the grace period (an API server that just restarted).
      const since = o.unauthorizedSinceMs;
      if (since === undefined || now - since < UNAUTHORIZED_GRACE_MS) {
        return [
          ...actions,
          ...(since === undefined ? [{ type: 'rememberUnauthorized', clusterID: id, atMs: now } as const] : []),
          ...incoming(o, { phase: 'Pending', reason: 'CredentialRejected', message: `${apiUrl} rejected our credential (401); checking again before ending the peering` }),
          { type: 'requeueAfter', ms: UNAUTHORIZED_GRACE_MS + 100 },
        ];
      }
      return [
        ...actions,
        { type: 'forgetUnauthorized', clusterID: id },
        { type: 'log', level: 'info', message: 'requester revoked our credential; removing its PeeringRequest', fields: { clusterID: id, code: 401 } },
        { type: 'event', object: pr, eventType: 'Normal', reason: 'PeerRevoked', message: `${id} revoked the credential (HTTP 401): the peering ended on its side` },
        ...deleteRequest(pr),
      ];
    }
    // 403 is authorization, not revocation: RBAC may be warming up after a restart, or someone
    // changed the role. Keep trying and say so.
    const [reason, message] =
      ad.code === 403 ? ['AdvertisementForbidden', `${apiUrl} refused our Advertisement (403 ${ad.message}); retrying`] : ['AdvertisementFailed', `cannot write our Advertisement on ${apiUrl}: ${ad.status ? `${ad.status}: ` : ''}${ad.message}`];
    return [...actions, ...incoming(o, { phase: 'Pending', reason, message }), { type: 'fail', reason, message }];
  }
  return [
    ...actions,
    ...(o.unauthorizedSinceMs !== undefined ? [{ type: 'forgetUnauthorized', clusterID: id } as const] : []),
    ...incoming(o, { phase: 'Established', reason: 'Advertising', message: `advertising resources to ${pr.spec.clusterName || id} every ${o.heartbeatSeconds}s` }),
    { type: 'requeueAfter', ms: o.heartbeatSeconds * 1000 },
  ];
}
