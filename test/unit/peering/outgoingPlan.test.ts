import { describe, expect, it } from 'vitest';
import type { ForeignCluster } from '../../../src/api/crds.js';
import {
  DENIED_RETRY_MS, FINALIZER, MIN_RESEND_MS, RESEND_MS, TOO_MANY_PENDING_RETRY_MS, TRUST_RECHECK_MS, planOutgoing, trustKey,
  type Action, type OutgoingObserved, type TrustResult,
} from '../../../src/peering/outgoing/plan.js';

const OWN = '11111111-2222-4333-8444-555555555555';
const PEER = 'ff5aa14a-dd6e-4fd2-80fe-eaecb827cf55';
const NOW = Date.parse('2026-11-30T12:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
/** Timestamps as the API server sends them (strings; the client's types say Date). */
const ts = (ms: number) => iso(ms) as unknown as Date;

function fc(over: { spec?: Partial<ForeignCluster['spec']>; metadata?: Partial<ForeignCluster['metadata']>; status?: ForeignCluster['status'] } = {}): ForeignCluster {
  return {
    apiVersion: 'discovery.liqo.io/v1',
    kind: 'ForeignCluster',
    metadata: {
      name: 'peer',
      uid: 'uid-1',
      generation: 1,
      resourceVersion: '10',
      creationTimestamp: ts(NOW - 3600_000),
      labels: { 'discovery.liqo.io/cluster-id': PEER, 'discovery.liqo.io/discovery-type': 'Manual' },
      finalizers: [FINALIZER],
      ...over.metadata,
    },
    spec: { clusterID: PEER, clusterName: 'peer', namespace: 'liqo', apiUrl: 'https://198.18.0.2:6443', join: true, discoveryType: 'Manual', ...over.spec },
    ...(over.status ? { status: over.status } : {}),
  } as ForeignCluster;
}

const trusted = (f: ForeignCluster, atMs = NOW): TrustResult => ({
  ok: true,
  key: trustKey(f),
  atMs,
  outcome: { mode: 'Trusted', ca: ['CA'], reason: 'TrustedCA', message: 'chains to a trusted CA', remoteName: 'peer' },
});

function observed(f: ForeignCluster, over: Partial<OutgoingObserved> = {}): OutgoingObserved {
  return { now: new Date(NOW), ownClusterID: OWN, foreignCluster: f, twins: [], virtualNodeReady: false, hasCredential: false, ...over };
}

/** Observed after trust and the credential are settled: the state every later decision starts from. */
const ready = (f: ForeignCluster, over: Partial<OutgoingObserved> = {}) => observed(f, { trust: trusted(f), credential: { token: 'tok' }, hasCredential: true, ...over });

const types = (actions: Action[]) => actions.map((a) => a.type);
const outgoingOf = (actions: Action[]) => actions.flatMap((a) => (a.type === 'foreignClusterStatus' && a.outgoing ? [a.outgoing] : []));
const requeue = (actions: Action[]) => actions.flatMap((a) => (a.type === 'requeueAfter' ? [a.ms] : []))[0];

/** Status with PeeringRequested=True since `requestedAt` and outgoing phase `phase` since `phaseAt`. */
function requested(phase: 'Pending' | 'Denied', requestedAt: number, phaseAt = requestedAt): ForeignCluster['status'] {
  return {
    outgoing: { phase, reason: 'RequestSent', message: '', lastTransitionTime: iso(phaseAt) },
    conditions: [{ type: 'PeeringRequested', status: 'True', reason: 'RequestSent', message: '', lastTransitionTime: iso(requestedAt) }],
  } as ForeignCluster['status'];
}

describe('planOutgoing: cluster IDs', () => {
  it('refuses a ForeignCluster that names our own cluster ID and sends nothing', () => {
    const f = fc({ spec: { clusterID: OWN }, metadata: { labels: { 'discovery.liqo.io/cluster-id': OWN, 'discovery.liqo.io/discovery-type': 'Manual' } } });
    const a = planOutgoing(observed(f));
    expect(outgoingOf(a)).toEqual([{ phase: 'None', reason: 'OwnCluster', message: expect.stringContaining('own cluster ID') }]);
    expect(types(a)).not.toContain('evaluateTrust');
    expect(types(a)).not.toContain('sendRequest');
  });

  it('ignores the younger of two ForeignClusters for one cluster ID and names the older one', () => {
    const younger = fc({ metadata: { name: 'b', creationTimestamp: ts(NOW) } });
    const older = fc({ metadata: { name: 'a', creationTimestamp: ts(NOW - 1000) } });
    const a = planOutgoing(observed(younger, { twins: [older] }));
    expect(outgoingOf(a)).toEqual([{ phase: 'None', reason: 'DuplicateClusterID', message: expect.stringContaining('ForeignCluster a already stands for') }]);
    expect(types(planOutgoing(observed(older, { twins: [younger] })))).toEqual(['evaluateTrust']);
  });

  it('breaks a tie of creation times by name, so exactly one of the twins peers', () => {
    const a1 = fc({ metadata: { name: 'a' } });
    const b1 = fc({ metadata: { name: 'b' } });
    expect(types(planOutgoing(observed(a1, { twins: [b1] })))).toEqual(['evaluateTrust']);
    expect(outgoingOf(planOutgoing(observed(b1, { twins: [a1] })))[0]?.reason).toBe('DuplicateClusterID');
  });

  it('labels a hand-made ForeignCluster with its cluster ID before anything else', () => {
    const a = planOutgoing(observed(fc({ metadata: { labels: {} } })));
    expect(a).toEqual([{ type: 'mergePatch', target: expect.anything(), patch: { metadata: { labels: { 'discovery.liqo.io/cluster-id': PEER, 'discovery.liqo.io/discovery-type': 'Manual' } } } }]);
  });
});

describe('planOutgoing: joining', () => {
  it('adds the cleanup finalizer before evaluating trust', () => {
    expect(types(planOutgoing(observed(fc({ metadata: { finalizers: [] } }))))).toEqual(['addFinalizer']);
  });

  it('asks for trust, then the credential, then sends the request, in three rounds', () => {
    const f = fc();
    expect(types(planOutgoing(observed(f)))).toEqual(['evaluateTrust']);
    expect(types(planOutgoing(observed(f, { trust: trusted(f) })))).toEqual(['ensureCredential']);
    expect(planOutgoing(ready(f))).toEqual([{ type: 'sendRequest', token: 'tok', ca: ['CA'] }]);
    const done = planOutgoing(ready(f, { sent: { ok: true, created: true } }));
    expect(outgoingOf(done)).toEqual([{ phase: 'Pending', reason: 'RequestSent', message: expect.stringContaining('sent to peer') }]);
    expect(requeue(done)).toBe(RESEND_MS / 2);
  });

  it('reuses a trust result while it is fresh and for the same generation, and evaluates again otherwise', () => {
    const f = fc();
    expect(types(planOutgoing(observed(f, { trust: trusted(f, NOW - TRUST_RECHECK_MS + 1) })))).toEqual(['ensureCredential']);
    expect(types(planOutgoing(observed(f, { trust: trusted(f, NOW - TRUST_RECHECK_MS) })))).toEqual(['evaluateTrust']);
    const edited = fc({ metadata: { generation: 2 } });
    expect(types(planOutgoing(observed(edited, { trust: trusted(f) })))).toEqual(['evaluateTrust']);
  });

  it('names a hand-made ForeignCluster after the name the peer publishes', () => {
    const f = fc({ spec: { clusterName: '' } });
    const a = planOutgoing(ready(f, { sent: { ok: true, created: true } }));
    expect(a).toContainEqual({ type: 'mergePatch', target: expect.anything(), patch: { spec: { clusterName: 'peer' } } });
  });

  it('is Established once the Advertisement is accepted and the virtual node Ready, and times the handshake', () => {
    const f = fc({ status: requested('Pending', NOW - 4000) });
    const adv = { metadata: { name: `advertisement-${PEER}` }, spec: { clusterID: PEER }, status: { phase: 'Accepted' } } as unknown as OutgoingObserved['advertisement'];
    const waiting = planOutgoing(ready(f, { advertisement: adv }));
    expect(outgoingOf(waiting)).toEqual([{ phase: 'Pending', reason: 'WaitingForVirtualNode', message: expect.any(String) }]);
    const a = planOutgoing(ready(f, { advertisement: adv, virtualNodeReady: true }));
    expect(outgoingOf(a)).toEqual([{ phase: 'Established', reason: 'VirtualNodeReady', message: expect.any(String) }]);
    expect(a).toContainEqual({ type: 'handshakeCompleted', seconds: 4 });
    expect(requeue(a)).toBe(TRUST_RECHECK_MS);
    expect(types(a)).not.toContain('sendRequest');
  });
});

describe('planOutgoing: resending', () => {
  it('sends again when the request has waited more than the resend interval without an answer', () => {
    const f = fc({ status: requested('Pending', NOW - RESEND_MS - 1) });
    expect(types(planOutgoing(ready(f)))).toEqual(['sendRequest']);
  });

  it('does not send again within the resend interval', () => {
    const f = fc({ status: requested('Pending', NOW - RESEND_MS + 1000) });
    const a = planOutgoing(ready(f));
    expect(types(a)).not.toContain('sendRequest');
    expect(requeue(a)).toBe(RESEND_MS / 2);
  });

  it('says it waits for approval when the peer answered PeeringPending', () => {
    const f = fc({ status: requested('Pending', NOW - 1000) });
    const a = planOutgoing(ready(f, { peerAnswer: { reason: 'PeeringPending', message: 'run kubepeer peer accept', at: iso(NOW - 500) } }));
    expect(outgoingOf(a)).toEqual([{ phase: 'Pending', reason: 'WaitingForApproval', message: expect.stringContaining('run kubepeer peer accept') }]);
  });

  it('reports a refused request with the peer\'s message and fails the reconcile; a 429 is retried after a minute', () => {
    const f = fc();
    const a = planOutgoing(ready(f, { sent: { ok: false, code: 403, status: 'Forbidden', message: 'acceptPolicy: RejectAll' } }));
    expect(outgoingOf(a)).toEqual([{ phase: 'Pending', reason: 'RequestRefused', message: expect.stringContaining('acceptPolicy: RejectAll') }]);
    expect(a.at(-1)).toEqual({ type: 'fail', reason: 'RequestRefused', message: expect.any(String) });
    const busy = planOutgoing(ready(f, { sent: { ok: false, code: 429, status: 'TooManyRequests', message: 'too many pending' } }));
    expect(busy.at(-1)).toEqual({ type: 'fail', reason: 'RequestRefused', message: expect.any(String), retryAfterMs: TOO_MANY_PENDING_RETRY_MS });
  });

  it('tells an unreachable peer from a peer whose agent is down', () => {
    const f = fc();
    const reason = (sent: OutgoingObserved['sent']) => planOutgoing(ready(f, { sent })).find((x) => x.type === 'fail');
    expect(reason({ ok: false, code: 0, status: '', message: 'ECONNREFUSED' })).toMatchObject({ reason: 'PeerUnreachable' });
    expect(reason({ ok: false, code: 500, status: 'InternalError', message: 'failed calling webhook "peeringrequests.liqo.io"' })).toMatchObject({ reason: 'PeerAgentDown' });
    expect(reason({ ok: false, code: 500, status: 'InternalError', message: 'etcd' })).toMatchObject({ reason: 'RequestFailed' });
  });
});

describe('planOutgoing: denial', () => {
  const denied = (answerAt: number) => ({ reason: 'PeeringDenied' as const, message: 'an administrator rejected the request', at: iso(answerAt) });

  it('shows a denial of the current request and waits before sending again', () => {
    const f = fc({ status: requested('Pending', NOW - 10_000) });
    const a = planOutgoing(ready(f, { peerAnswer: denied(NOW - 5000) }));
    expect(outgoingOf(a)).toEqual([{ phase: 'Denied', reason: 'Denied', message: expect.stringContaining('an administrator rejected') }]);
    expect(a).toContainEqual(expect.objectContaining({ type: 'event', reason: 'OutgoingDenied', eventType: 'Warning' }));
    expect(types(a)).not.toContain('sendRequest');
    expect(requeue(a)).toBe(DENIED_RETRY_MS);
  });

  it('sends again once the denial is older than the retry interval', () => {
    const f = fc({ status: requested('Denied', NOW - DENIED_RETRY_MS - 10_000) });
    const o = ready(f, { peerAnswer: denied(NOW - DENIED_RETRY_MS - 1) });
    expect(types(planOutgoing(o))).toEqual(['sendRequest']);
    const a = planOutgoing({ ...o, sent: { ok: true, created: true } });
    expect(outgoingOf(a).map((s) => s.phase)).toEqual(['Denied', 'Pending']);
  });

  it('ignores a denial older than the current request', () => {
    const f = fc({ status: requested('Pending', NOW - 1000) });
    const a = planOutgoing(ready(f, { peerAnswer: denied(NOW - 60_000) }));
    expect(outgoingOf(a).map((s) => s.phase)).not.toContain('Denied');
  });
});

describe('planOutgoing: the denial keeps the time of the last request, and re-sending is rate-limited', () => {
  const denied = (answerAt: number) => ({ reason: 'PeeringDenied' as const, message: 'no', at: iso(answerAt) });
  const statusOf = (actions: Action[]) => actions.find((x) => x.type === 'foreignClusterStatus');

  it('writes the Denied status with PeeringRequested kept (an apply without it would drop the time of the request)', () => {
    const f = fc({ status: requested('Pending', NOW - 5000) });
    const a = planOutgoing(ready(f, { peerAnswer: denied(NOW - 4000) }));
    expect(statusOf(a)).toMatchObject({ outgoing: { phase: 'Denied' } });
    expect((statusOf(a) as { conditions: Array<{ type: string; status: string }> }).conditions).toContainEqual(expect.objectContaining({ type: 'PeeringRequested', status: 'True' }));
    expect(types(a)).not.toContain('sendRequest');
  });

  it('does not send again within MIN_RESEND_MS of the last request, whatever the answer (dropped, pending, denied flapping)', () => {
    for (const peerAnswer of [undefined, { reason: 'PeeringDropped' as const, message: 'expired', at: iso(NOW - 500) }, denied(NOW - DENIED_RETRY_MS - 1)]) {
      const f = fc({ status: requested('Denied', NOW - DENIED_RETRY_MS - 10_000) });
      const a = planOutgoing(ready(f, { lastSentMs: NOW - 1000, ...(peerAnswer ? { peerAnswer } : {}) }));
      expect(types(a)).not.toContain('sendRequest');
      expect(requeue(a)).toBe(MIN_RESEND_MS - 1000);
    }
  });

  it('sends again at once (past MIN_RESEND_MS) when the peer says it dropped our last request', () => {
    const f = fc({ status: requested('Pending', NOW - 10_000) });
    const o = ready(f, { lastSentMs: NOW - MIN_RESEND_MS - 1, peerAnswer: { reason: 'PeeringDropped', message: 'expired', at: iso(NOW - 100) } });
    expect(types(planOutgoing(o))).toEqual(['sendRequest']);
  });

  it('ignores a dropped or denied answer older than the last request this agent sent', () => {
    const f = fc({ status: requested('Pending', NOW - 60_000, NOW - 1000) });
    for (const reason of ['PeeringDropped', 'PeeringDenied'] as const) {
      const a = planOutgoing(ready(f, { lastSentMs: NOW - 1000, peerAnswer: { reason, message: '', at: iso(NOW - 10_000) } }));
      expect(types(a)).not.toContain('sendRequest');
      expect(outgoingOf(a).map((s) => s.phase)).not.toContain('Denied');
    }
  });
});

describe('planOutgoing: trust failures', () => {
  it('reports an unreachable peer in Reachable, keeps an Established peering Established, and retries with backoff', () => {
    const f = fc({ status: { outgoing: { phase: 'Established', reason: 'VirtualNodeReady', message: '' } } as ForeignCluster['status'] });
    const a = planOutgoing(observed(f, { trust: { ok: false, reason: 'Unreachable', message: 'connect ECONNREFUSED' } }));
    const st = a.find((x) => x.type === 'foreignClusterStatus');
    expect(st).toMatchObject({ outgoing: { phase: 'Established', reason: 'Unreachable' }, conditions: [{ type: 'Reachable', status: 'False', reason: 'Unreachable' }] });
    expect(a.at(-1)).toEqual({ type: 'fail', reason: 'Unreachable', message: 'connect ECONNREFUSED' });
    expect(types(a)).not.toContain('revokeCredential');
  });

  it("refuses a host name that resolves to a forbidden address: Reachable=False/ForbiddenAddress and a Warning Event with the address, nothing sent", () => {
    const message = 'peer.example of https://peer.example:6443 resolves (the system resolver) to 169.254.169.254, a link-local address (where cloud metadata services live); refusing to connect to it; nothing was sent';
    const a = planOutgoing(observed(fc(), { trust: { ok: false, reason: 'ForbiddenAddress', message } }));
    const st = a.find((x) => x.type === 'foreignClusterStatus');
    expect(st).toMatchObject({ outgoing: { phase: 'Pending', reason: 'ForbiddenAddress', message }, conditions: [{ type: 'Reachable', status: 'False', reason: 'ForbiddenAddress', message }] });
    // it was never called, so nothing may say it answered
    expect((st as { conditions: unknown[] }).conditions).toHaveLength(1);
    expect(a).toContainEqual(expect.objectContaining({ type: 'event', eventType: 'Warning', reason: 'ForbiddenAddress', message }));
    expect(types(a)).not.toContain('sendRequest');
    expect(types(a)).not.toContain('ensureCredential');
  });

  it('stops the peering on a changed CA: Pending, TrustEstablished=False/CAChanged, credential revoked, checked again later', () => {
    const f = fc({ status: { outgoing: { phase: 'Established', reason: 'VirtualNodeReady', message: '' } } as ForeignCluster['status'] });
    const a = planOutgoing(observed(f, { trust: { ok: false, reason: 'CAChanged', message: 'the CA changed; kubepeer trust reset' } }));
    expect(a.find((x) => x.type === 'foreignClusterStatus')).toMatchObject({
      outgoing: { phase: 'Pending', reason: 'CAChanged' },
      conditions: [{ type: 'TrustEstablished', status: 'False', reason: 'CAChanged' }, { type: 'Reachable', status: 'True' }],
    });
    expect(a).toContainEqual({ type: 'revokeCredential', clusterID: PEER });
    expect(requeue(a)).toBe(TRUST_RECHECK_MS);
    expect(types(a)).not.toContain('fail');
    expect(types(a)).not.toContain('sendRequest');
  });
});

describe('planOutgoing: unpeering', () => {
  it('on join: false removes credential, Advertisement and virtual node without calling the peer', () => {
    const f = fc({ spec: { join: false }, status: { outgoing: { phase: 'Established', reason: '', message: '' } } as ForeignCluster['status'] });
    const a = planOutgoing(observed(f, { hasCredential: true }));
    expect(types(a)).toEqual(['foreignClusterStatus', 'event', 'revokeCredential', 'delete', 'delete', 'forgetTrust', 'event', 'foreignClusterStatus', 'event']);
    expect(outgoingOf(a).map((s) => s.phase)).toEqual(['Disconnecting', 'None']);
    expect(types(a)).not.toContain('sendRequest');
  });

  it('on join: false with nothing left only states it', () => {
    expect(types(planOutgoing(observed(fc({ spec: { join: false } }))))).toEqual(['foreignClusterStatus', 'event']);
  });

  it('on deletion cleans up and then removes the finalizer', () => {
    const f = fc({ metadata: { deletionTimestamp: ts(NOW) } });
    const a = planOutgoing(observed(f, { hasCredential: true }));
    expect(types(a).at(-1)).toBe('removeFinalizer');
    expect(types(a)).toContain('revokeCredential');
  });
});

describe('planOutgoing: a ForeignCluster takes over the record kubepeer made for an incoming request', () => {
  const record = fc({ metadata: { name: PEER, uid: 'uid-0', creationTimestamp: ts(NOW - 7200_000), labels: { 'discovery.liqo.io/cluster-id': PEER, 'discovery.liqo.io/discovery-type': 'IncomingPeering' } }, spec: { discoveryType: 'IncomingPeering', join: false } });

  for (const source of ['Manual', 'LAN', 'WAN'] as const) {
    it(`a ${source} ForeignCluster deletes the older IncomingPeering record and stands for the peer`, () => {
      const mine = fc({ metadata: { name: 'foreign-cluster', labels: { 'discovery.liqo.io/cluster-id': PEER, 'discovery.liqo.io/discovery-type': source } }, spec: { discoveryType: source } });
      const a = planOutgoing(observed(mine, { twins: [record] }));
      expect(a[0]).toEqual({ type: 'delete', target: { resource: expect.anything(), name: PEER } });
      expect(a).toContainEqual(expect.objectContaining({ type: 'event', reason: 'AdoptedIncomingRecord' }));
      expect(JSON.stringify(a)).not.toContain('DuplicateClusterID');
    });
  }

  it('the IncomingPeering record does nothing while another ForeignCluster stands for the peer', () => {
    const mine = fc({ metadata: { name: 'foreign-cluster' }, spec: { discoveryType: 'Manual' } });
    expect(planOutgoing(observed(record, { twins: [mine] }))).toEqual([]);
  });

  it('two ForeignClusters of people (not an incoming record) are still a duplicate', () => {
    const older = fc({ metadata: { name: 'a-older', creationTimestamp: ts(NOW - 7200_000) } });
    const a = planOutgoing(observed(fc(), { twins: [older] }));
    expect(outgoingOf(a)).toEqual([expect.objectContaining({ reason: 'DuplicateClusterID' })]);
  });
});

describe('planOutgoing: removal ends both directions; a peer that ends the peering is followed', () => {
  it('on deletion marks the peer\'s request to us rejected, so that the incoming direction ends too', () => {
    const f = fc({ metadata: { deletionTimestamp: ts(NOW) } });
    const a = planOutgoing(observed(f, { incomingRequest: { rejected: false } }));
    expect(a[0]).toMatchObject({ type: 'mergePatch', target: { name: PEER }, patch: { metadata: { annotations: { 'discovery.liqo.io/approval': 'rejected' } } } });
    expect(types(planOutgoing(observed(f, { incomingRequest: { rejected: true } })))).not.toContain('mergePatch');
  });

  it('removes the Advertisement, the virtual node and the credential when the peer denies after accepting', () => {
    const f = fc({ status: requested('Pending', NOW - 60_000) });
    const adv = { metadata: { name: `advertisement-${PEER}` }, spec: { clusterID: PEER }, status: { phase: 'Accepted' } } as unknown as OutgoingObserved['advertisement'];
    const a = planOutgoing(ready(f, { advertisement: adv, virtualNodeReady: true, peerAnswer: { reason: 'PeeringDenied', message: 'ended', at: iso(NOW - 100) } }));
    expect(types(a)).toEqual(['revokeCredential', 'delete', 'delete', 'event', 'requeueAfter']);
  });
});
