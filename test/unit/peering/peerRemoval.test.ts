/**
 * Issue 13 item 2 and issue 12 item 3, as pure decisions: a removed discovered peer stays removed
 * (a record discovery respects, that no automatic path makes known again), an incoming-only
 * peering always has something to show, and "I dropped your request" travels through the answer
 * channel and makes the requester send again at once, with the reason in its status.
 */
import { describe, expect, it } from 'vitest';
import { Annotations } from '../../../src/api/constants.js';
import type { ForeignCluster, PeeringRequest } from '../../../src/api/crds.js';
import { REQUEST_FINALIZER, UNVERIFIED_LIFETIME_MS, isKnownRequester, planIncoming, type Action as InAction, type IncomingObserved } from '../../../src/peering/incoming/plan.js';
import { FINALIZER, MIN_RESEND_MS, planOutgoing, trustKey, type Action as OutAction, type OutgoingObserved } from '../../../src/peering/outgoing/plan.js';
import { allPeers, discoveryWouldRecreate, isRemoved, madeBeforeRemoval, removalPatch, requestOnlyPeers } from '../../../src/peering/peerRecords.js';
import { isPeered } from '../../../src/discovery/foreignClusterUpsert.js';
import { joinPatch, knownWithoutProof } from '../../../src/trust/peeringSecret.js';
import { planLanPeer } from '../../../src/discovery/lan/lanController.js';
import { peerColumns, peerRows } from '../../../src/cli/commands/peer.js';
import { statusReport } from '../../../src/cli/commands/status.js';

const OWN = '11111111-2222-4333-8444-555555555555';
const PEER = 'ff5aa14a-dd6e-4fd2-80fe-eaecb827cf55';
const API = 'https://198.18.0.2:6443';
const NOW = Date.parse('2026-11-30T12:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const jwt = () => `${Buffer.from('{"alg":"ES256"}').toString('base64url')}.${Buffer.from(JSON.stringify({ iat: NOW / 1000 - 10, exp: NOW / 1000 + 86400 * 365 })).toString('base64url')}.sig`;

function fc(over: { discoveryType?: ForeignCluster['spec']['discoveryType']; join?: boolean; annotations?: Record<string, string>; status?: ForeignCluster['status'] } = {}): ForeignCluster {
  return {
    apiVersion: 'discovery.liqo.io/v1',
    kind: 'ForeignCluster',
    metadata: {
      name: PEER,
      uid: 'uid-1',
      generation: 2,
      creationTimestamp: iso(NOW - 3600_000),
      labels: { 'discovery.liqo.io/cluster-id': PEER, 'discovery.liqo.io/discovery-type': over.discoveryType ?? 'LAN' },
      finalizers: [FINALIZER],
      ...(over.annotations ? { annotations: over.annotations } : {}),
    },
    spec: { clusterID: PEER, clusterName: 'peer', namespace: 'liqo', apiUrl: API, join: over.join ?? false, discoveryType: over.discoveryType ?? 'LAN' },
    ...(over.status ? { status: over.status } : {}),
  } as unknown as ForeignCluster;
}
const removed = (atMs = NOW - 60_000, over: Parameters<typeof fc>[0] = {}) => fc({ ...over, annotations: { [Annotations.removed]: iso(atMs) } });

function pr(createdMs: number, status?: unknown, extra: Partial<PeeringRequest['spec']> = {}): PeeringRequest {
  return {
    apiVersion: 'discovery.liqo.io/v1alpha1',
    kind: 'PeeringRequest',
    metadata: { name: PEER, uid: 'pr-uid', generation: 1, creationTimestamp: iso(createdMs) },
    spec: { clusterID: PEER, clusterName: 'peer', namespace: 'liqo', apiUrl: API, ...extra },
    ...(status ? { status } : {}),
  } as unknown as PeeringRequest;
}
const verified = { type: 'IdentityVerified', status: 'True', reason: 'Verified', message: '', lastTransitionTime: iso(NOW - 3600_000) };
const accepted = { phase: 'Accepted' as const, reason: 'AutoAcceptKnown', message: 'accepted', conditions: [verified, { ...verified, type: 'Accepted', reason: 'AutoAcceptKnown' }] };

function incoming(request: PeeringRequest | undefined, over: Partial<IncomingObserved> = {}): IncomingObserved {
  return {
    now: new Date(NOW),
    own: { clusterID: OWN, clusterName: 'home' },
    acceptPolicy: 'AutoAcceptKnown',
    heartbeatSeconds: 10,
    name: PEER,
    ...(request ? { request } : {}),
    credential: { ok: true, kubeconfig: { server: API, caPem: 'CA', token: jwt() } },
    callback: { ok: true },
    ...over,
  };
}
const types = (a: Array<InAction | OutAction>) => a.map((x) => x.type);
const eventReasons = (a: Array<InAction | OutAction>) => a.flatMap((x) => (x.type === 'event' ? [x.reason] : []));
const answers = (a: InAction[]) => a.flatMap((x) => (x.type === 'answer' ? [x.reason] : []));

describe('the removal record', () => {
  it('is kept only for a peer discovery would find again (LAN, WAN); a person\'s or a request\'s ForeignCluster is deleted', () => {
    expect(discoveryWouldRecreate(fc({ discoveryType: 'LAN' }))).toBe(true);
    expect(discoveryWouldRecreate(fc({ discoveryType: 'WAN' }))).toBe(true);
    expect(discoveryWouldRecreate(fc({ discoveryType: 'Manual' }))).toBe(false);
    expect(discoveryWouldRecreate(fc({ discoveryType: 'IncomingPeering' }))).toBe(false);
  });

  it('sets join false and the removal time, and takes the autojoin mark away; a person\'s connect clears it, a disconnect does not', () => {
    expect(removalPatch(new Date(NOW))).toEqual({ metadata: { annotations: { [Annotations.removed]: new Date(NOW).toISOString(), [Annotations.autojoin]: null } }, spec: { join: false } });
    expect((joinPatch(removed(), true) as { metadata: { annotations: Record<string, unknown> } }).metadata.annotations[Annotations.removed]).toBeNull();
    expect((joinPatch(removed(), false) as { metadata: { annotations: Record<string, unknown> } }).metadata.annotations).not.toHaveProperty(Annotations.removed);
  });

  it('is state worth keeping: discovery does not delete it when the peer leaves', () => {
    expect(isPeered(fc())).toBe(false);
    expect(isPeered(removed())).toBe(true);
    const gone = planLanPeer({ ownClusterID: OWN, clusterID: PEER, peer: undefined, gone: 'disabled', fc: removed(), autojoin: true, autojoinUntrusted: true, trust: undefined, browsing: true, browsingForMs: 60_000 });
    expect(gone.type).toBe('none');
  });

  it('is not joined again when the LAN sees the peer: the sighting carries join false and no autojoin decision', () => {
    const seen = planLanPeer({
      ownClusterID: OWN,
      clusterID: PEER,
      peer: { clusterID: PEER, url: API, namespace: 'liqo', interface: 'eth0', instance: 'x' } as never,
      gone: undefined,
      fc: removed(),
      autojoin: true,
      autojoinUntrusted: true,
      hasPeeringSecret: true,
      trust: { url: API, mode: 'Trusted', proven: true, attempts: 1 },
      browsing: true,
      browsingForMs: 60_000,
    });
    expect(seen).toMatchObject({ type: 'upsert', sighting: { join: false } });
    expect((seen as { sighting: { annotations?: unknown } }).sighting.annotations).toBeUndefined();
  });

  it('makes the peer unknown to every automatic path: no acceptance by proof, trusted CA or a person\'s earlier join', () => {
    const manualRemoved = fc({ discoveryType: 'Manual', annotations: { [Annotations.removed]: iso(NOW) } });
    expect(knownWithoutProof(manualRemoved)).toBe(false);
    const o = incoming(pr(NOW), { foreignCluster: removed(), trustedCAFingerprints: ['irrelevant'] });
    expect(isKnownRequester(o, { server: API, caPem: 'not a pem', token: 't' })).toBe(false);
  });

  it('a new request from a removed peer waits for a person; the answer says so', () => {
    const waiting = { phase: 'Pending' as const, reason: 'IdentityVerified', message: '', conditions: [verified] };
    const a = planIncoming(incoming(pr(NOW - 1000, waiting), { foreignCluster: removed(NOW - 60_000) }));
    expect(a).toContainEqual(expect.objectContaining({ type: 'mergePatch', patch: expect.objectContaining({ status: expect.objectContaining({ phase: 'Pending', reason: 'WaitingForApproval' }) }) }));
    expect(answers(a)).toEqual(['PeeringPending']);
    // whatever the policy: AcceptAll does not undo a person's removal either
    const all = planIncoming(incoming(pr(NOW - 1000, waiting), { foreignCluster: removed(NOW - 60_000), acceptPolicy: 'AcceptAll' }));
    const pending = all.find((x) => x.type === 'answer') as { message: string } | undefined;
    expect(pending?.message).toContain('was removed by a person');
    expect(answers(all)).toEqual(['PeeringPending']);
    // a person's accept does
    const approved = { ...pr(NOW - 1000, waiting), metadata: { ...pr(NOW - 1000).metadata, annotations: { [Annotations.approval]: 'accepted' } } } as PeeringRequest;
    expect(answers(planIncoming(incoming(approved, { foreignCluster: removed(NOW - 60_000), advertised: { ok: true } })))).toEqual(['PeeringAccepted']);
  });

  it('ends an accepted request older than the removal (tells the peer, deletes request and credential), but not a newer one a person accepted', () => {
    const old = planIncoming(incoming(pr(NOW - 3600_000, accepted), { foreignCluster: removed(NOW - 60_000) }));
    expect(answers(old)).toEqual(['PeeringDenied']);
    expect(eventReasons(old)).toEqual(['PeeringEnded']);
    expect(types(old)).toContain('deleteCredential');
    const newer = planIncoming(incoming(pr(NOW - 1000, accepted), { foreignCluster: removed(NOW - 60_000) }));
    expect(types(newer)).toEqual(['writeAdvertisement']);
    expect(madeBeforeRemoval(removed(NOW), pr(NOW - 1))).toBe(true);
    expect(madeBeforeRemoval(fc(), pr(NOW - 1))).toBe(false);
  });

  it('shows in the outgoing status as Removed, with what to do, and the peering ends on our side', () => {
    const f = removed(NOW - 60_000, { status: { outgoing: { phase: 'Established', reason: 'VirtualNodeReady', message: '' } } as ForeignCluster['status'] });
    const o: OutgoingObserved = { now: new Date(NOW), ownClusterID: OWN, foreignCluster: f, twins: [], virtualNodeReady: true, hasCredential: true };
    const a = planOutgoing(o);
    expect(types(a)).toContain('revokeCredential');
    const st = a.find((x) => x.type === 'foreignClusterStatus' && x.outgoing?.phase === 'None') as { outgoing: { reason: string; message: string } } | undefined;
    expect(st?.outgoing.reason).toBe('Removed');
    expect(st?.outgoing.message).toContain(`kubepeer peer remove --forget ${PEER}`);
    expect(st?.outgoing.message).toContain(`kubepeer peer join ${PEER}`);
  });

  it('join set on it by hand (kubectl edit) is a person connecting it: the agent takes the mark away', () => {
    const f = removed(NOW - 60_000, { join: true });
    const a = planOutgoing({ now: new Date(NOW), ownClusterID: OWN, foreignCluster: f, twins: [], virtualNodeReady: false, hasCredential: false });
    expect(a[0]).toMatchObject({ type: 'mergePatch', patch: { metadata: { annotations: { [Annotations.removed]: null } } } });
    expect(eventReasons(a)).toEqual(['RemovalCleared']);
  });
});

describe('an incoming-only peering always shows', () => {
  it('the agent makes the ForeignCluster again for an accepted request whose ForeignCluster was deleted', () => {
    const a = planIncoming(incoming(pr(NOW - 3600_000, accepted), { advertised: { ok: true } }));
    expect(types(a)).toEqual(['ensureForeignCluster', 'requeueAfter']);
    const withFc = planIncoming(incoming(pr(NOW - 3600_000, accepted), { advertised: { ok: true }, foreignCluster: fc({ discoveryType: 'IncomingPeering' }) }));
    expect(types(withFc)).not.toContain('ensureForeignCluster');
  });

  it('a request without a ForeignCluster is listed as a peer, with the incoming state of its request', () => {
    const rows = requestOnlyPeers([], [pr(NOW, accepted)]);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ metadata: { name: PEER }, spec: { clusterID: PEER, discoveryType: 'IncomingPeering', join: false }, status: { incoming: { phase: 'Established' } } });
    expect(requestOnlyPeers([fc()], [pr(NOW, accepted)])).toEqual([]);
    expect(allPeers([], [pr(NOW, { phase: 'Pending', reason: 'WaitingForApproval', message: '' })])[0]?.status?.incoming?.phase).toBe('Pending');
  });

  it('peer list shows it, and a removal record as Removed', () => {
    const rows = peerRows([removed()], [pr(NOW, accepted, { clusterID: 'edge-b' } as never)]);
    const cell = (f: ForeignCluster, header: string) => peerColumns.find((c) => c.header === header)!.value(f);
    expect(rows).toHaveLength(1 + 1);
    expect(cell(rows[0]!, 'Outgoing')).toBe('Removed');
    expect(cell(rows[1]!, 'Incoming')).toBe('Established');
  });

  it('status counts it among the peers, by its incoming state, and names it', () => {
    const s = statusReport({ clusterID: OWN, server: 'https://127.0.0.1:6443', clusterConfig: null, lease: null, foreignClusters: [], peeringRequests: [pr(NOW, accepted)] });
    expect(s.peers.total).toBe(1);
    expect(s.peers.incoming).toEqual({ Established: 1 });
    expect(s.peers.incomingOnly).toEqual([{ clusterID: PEER, name: 'peer', incoming: 'Established' }]);
  });
});

describe('"I dropped your request" (PeeringDropped)', () => {
  const expiredPending = pr(NOW - UNVERIFIED_LIFETIME_MS - 1, { phase: 'Pending', reason: 'RequesterUnreachable', message: 'connect ECONNREFUSED' });

  it('the foreign side tells a requester whose unverified request expired, where its address passes the policy, then drops it', () => {
    const first = planIncoming(incoming(expiredPending, { callback: undefined }));
    expect(first).toEqual([{ type: 'resolveCallback', apiUrl: API }]);
    const a = planIncoming(incoming(expiredPending));
    expect(answers(a)).toEqual(['PeeringDropped']);
    expect(eventReasons(a)).toEqual(['RequestExpired']);
    // told once the request is gone, so that its new one does not meet the old name
    expect(types(a).slice(-3)).toEqual(['deleteCredential', 'delete', 'answer']);
    const refused = planIncoming(incoming(expiredPending, { callback: { ok: false, reason: 'ForbiddenApiUrl', message: 'metadata address' } }));
    expect(answers(refused)).toEqual([]);
    expect(types(refused).slice(-2)).toEqual(['deleteCredential', 'delete']);
  });

  it('a request someone else deleted (its finalizer holds it) is told, after it is gone; our own deletions let the finalizer go first', () => {
    const held = (p: PeeringRequest, deleting: boolean) =>
      ({ ...p, metadata: { ...p.metadata, finalizers: [REQUEST_FINALIZER], ...(deleting ? { deletionTimestamp: iso(NOW - 1000) } : {}) } }) as PeeringRequest;
    const deleted = held(pr(NOW - 3600_000, accepted), true);
    expect(planIncoming(incoming(deleted, { callback: undefined }))).toEqual([{ type: 'resolveCallback', apiUrl: API }]);
    const a = planIncoming(incoming(deleted));
    expect(types(a)).toEqual(['event', 'deleteCredential', 'removeFinalizer', 'answer']);
    expect(answers(a)).toEqual(['PeeringDropped']);
    expect(eventReasons(a)).toEqual(['RequestDeleted']);
    // no credential, or an address the policy refuses: let it go without a word
    expect(types(planIncoming(incoming(deleted, { credential: null })))).toEqual(['event', 'deleteCredential', 'removeFinalizer']);
    expect(answers(planIncoming(incoming(deleted, { callback: { ok: false, reason: 'ForbiddenApiUrl', message: '' } })))).toEqual([]);
    // without our finalizer (a request from before it, or one we never stored): nothing to do
    expect(planIncoming(incoming({ ...deleted, metadata: { ...deleted.metadata, finalizers: [] } } as PeeringRequest))).toEqual([]);
    // our own: the rejection of an accepted request releases it before deleting it (and says Denied, not Dropped)
    const rejected = held({ ...pr(NOW - 3600_000, accepted), metadata: { ...pr(NOW - 3600_000).metadata, annotations: { [Annotations.approval]: 'rejected' } } } as PeeringRequest, false);
    const ended = planIncoming(incoming(rejected));
    expect(types(ended).slice(-3)).toEqual(['deleteCredential', 'removeFinalizer', 'delete']);
    expect(answers(ended)).toEqual(['PeeringDenied']);
  });

  it('the requester of an accepted request that was dropped sends it again at once, its Advertisement notwithstanding', () => {
    const f = fc({
      discoveryType: 'Manual',
      join: true,
      status: {
        outgoing: { phase: 'Established', reason: 'VirtualNodeReady', message: '', lastTransitionTime: iso(NOW - 600_000) },
        conditions: [{ type: 'PeeringRequested', status: 'True', reason: 'RequestSent', message: '', lastTransitionTime: iso(NOW - 600_000) }],
      } as unknown as ForeignCluster['status'],
    });
    const base: OutgoingObserved = {
      now: new Date(NOW),
      ownClusterID: OWN,
      foreignCluster: f,
      twins: [],
      advertisement: { metadata: { name: `advertisement-${PEER}` }, spec: { clusterID: PEER }, status: { phase: 'Accepted' } } as never,
      virtualNodeReady: true,
      hasCredential: true,
      credential: { token: 'tok' },
      trust: { ok: true, key: trustKey(f), atMs: NOW, outcome: { mode: 'Trusted', ca: ['CA'], reason: 'TrustedCA', message: '' } },
    };
    expect(types(planOutgoing(base))).not.toContain('sendRequest');
    const dropped = { ...base, peerAnswer: { reason: 'PeeringDropped' as const, message: 'your PeeringRequest was deleted here', at: iso(NOW - 100) } };
    expect(types(planOutgoing(dropped))).toEqual(['sendRequest']);
    // once sent, the Advertisement counts again (the peer accepts the new request and goes on writing it)
    expect(types(planOutgoing({ ...dropped, lastSentMs: NOW - 50 }))).not.toContain('sendRequest');
  });

  it('is not sent when a denied request\'s retention ends: that would turn the 5-minute denial backoff into a minute', () => {
    const denied = pr(NOW - 3600_000, { phase: 'Denied', reason: 'RejectAll', message: '', conditions: [{ ...verified, type: 'Accepted', status: 'False', lastTransitionTime: iso(NOW - 120_000) }] } as never);
    const a = planIncoming(incoming(denied));
    expect(types(a)).toEqual(['deleteCredential', 'delete']);
  });

  it('the requester sends again at once (rate-limited) and its status says the peer dropped the request and why', () => {
    const f = fc({
      discoveryType: 'Manual',
      join: true,
      status: {
        outgoing: { phase: 'Pending', reason: 'RequestSent', message: '', lastTransitionTime: iso(NOW - 10_000) },
        conditions: [{ type: 'PeeringRequested', status: 'True', reason: 'RequestSent', message: '', lastTransitionTime: iso(NOW - 10_000) }],
      } as unknown as ForeignCluster['status'],
    });
    const answer = { reason: 'PeeringDropped' as const, message: 'home: your PeeringRequest was dropped: the requester did not prove its identity within 5 minutes', at: iso(NOW - 100) };
    const base: OutgoingObserved = {
      now: new Date(NOW),
      ownClusterID: OWN,
      foreignCluster: f,
      twins: [],
      virtualNodeReady: false,
      hasCredential: true,
      credential: { token: 'tok' },
      trust: { ok: true, key: trustKey(f), atMs: NOW, outcome: { mode: 'Trusted', ca: ['CA'], reason: 'TrustedCA', message: '' } },
      peerAnswer: answer,
      lastSentMs: NOW - MIN_RESEND_MS - 1,
    };
    expect(types(planOutgoing(base))).toEqual(['sendRequest']);
    const after = planOutgoing({ ...base, sent: { ok: true, created: true } });
    const st = after.find((x) => x.type === 'foreignClusterStatus') as { outgoing: { reason: string; message: string }; conditions: Array<{ type: string; reason: string; message: string }> };
    expect(st.outgoing.reason).toBe('RequestDropped');
    expect(st.outgoing.message).toContain('dropped our PeeringRequest');
    expect(st.conditions).toContainEqual(expect.objectContaining({ type: 'PeeringAccepted', reason: 'RequestDropped', message: expect.stringContaining('did not prove its identity') }));
    // within MIN_RESEND_MS of the last send: not again
    expect(types(planOutgoing({ ...base, lastSentMs: NOW - 1000 }))).not.toContain('sendRequest');
  });
});

it('isRemoved reads the annotation', () => {
  expect(isRemoved(removed())).toBe(true);
  expect(isRemoved(fc())).toBe(false);
  expect(isRemoved(undefined)).toBe(false);
});
