import { describe, expect, it } from 'vitest';
import type { ForeignCluster, PeeringRequest } from '../../../src/api/crds.js';
import { UNVERIFIED_LIFETIME_MS, planIncoming, type Action, type IncomingObserved } from '../../../src/peering/incoming/plan.js';
import { isPending, takesSlot } from '../../../src/peering/incoming/pendingRequests.js';
import { validatePeeringRequest } from '../../../src/peering/incoming/admission.js';
import { PeeringCandidates, CANDIDATE_TTL_MS } from '../../../src/peering/incoming/candidates.js';

const OWN = '11111111-2222-4333-8444-555555555555';
const PEER = 'ff5aa14a-dd6e-4fd2-80fe-eaecb827cf55';
const KNOWN_API = 'https://198.18.0.2:6443';
const SQUAT_API = 'https://198.18.0.66:6443';
const NOW = Date.parse('2026-11-30T12:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const jwt = (tag: string) => `${Buffer.from('{"alg":"ES256"}').toString('base64url')}.${Buffer.from(JSON.stringify({ iat: NOW / 1000 - 10, exp: NOW / 1000 + 86400 * 365, tag })).toString('base64url')}.sig`;
const credential = (token = jwt('stored')) => ({ ok: true as const, kubeconfig: { server: SQUAT_API, caPem: 'CA', token } });

function pr(over: { createdMs?: number; status?: PeeringRequest['status']; apiUrl?: string } = {}): PeeringRequest {
  return {
    apiVersion: 'discovery.liqo.io/v1alpha1',
    kind: 'PeeringRequest',
    metadata: { name: PEER, uid: 'pr-uid', generation: 1, creationTimestamp: iso(over.createdMs ?? NOW - 1000) },
    spec: { clusterID: PEER, clusterName: 'peer', namespace: 'liqo', apiUrl: over.apiUrl ?? SQUAT_API },
    ...(over.status ? { status: over.status } : {}),
  } as unknown as PeeringRequest;
}
const knownFC = (discoveryType: 'Manual' | 'IncomingPeering' = 'Manual') => ({ metadata: { name: 'b' }, spec: { clusterID: PEER, apiUrl: KNOWN_API, discoveryType, join: true } }) as unknown as ForeignCluster;

function observed(request: PeeringRequest, over: Partial<IncomingObserved> = {}): IncomingObserved {
  return { now: new Date(NOW), own: { clusterID: OWN, clusterName: 'home' }, acceptPolicy: 'AutoAcceptKnown', heartbeatSeconds: 10, name: PEER, request, credential: credential(), ...over };
}
const types = (a: Action[]) => a.map((x) => x.type);
const deletesRequest = (a: Action[]) => a.some((x) => x.type === 'delete' && x.target.name === PEER && !x.target.namespace);
const reasons = (a: Action[]) => a.flatMap((x) => (x.type === 'event' ? [x.reason] : []));

describe('planIncoming: pending requests expire', () => {
  it('drops a request whose requester has not proved its identity within the lifetime', () => {
    const a = planIncoming(observed(pr({ createdMs: NOW - UNVERIFIED_LIFETIME_MS - 1, status: { phase: 'Pending', reason: 'RequesterUnreachable', message: 'connect ECONNREFUSED' } as PeeringRequest['status'] }), { callback: { ok: false, reason: 'RequesterUnreachable', message: 'no address' } }));
    expect(deletesRequest(a)).toBe(true);
    expect(reasons(a)).toEqual(['RequestExpired']);
  });

  it('keeps a younger unverified request, and a verified one waiting for approval past the lifetime', () => {
    expect(deletesRequest(planIncoming(observed(pr({ createdMs: NOW - UNVERIFIED_LIFETIME_MS + 5000 }))))).toBe(false);
    const waiting = { phase: 'Pending', reason: 'WaitingForApproval', message: '', conditions: [{ type: 'IdentityVerified', status: 'True', reason: 'Verified', message: '', lastTransitionTime: iso(NOW - 3600_000) }] };
    expect(deletesRequest(planIncoming(observed(pr({ createdMs: NOW - 3600_000, status: waiting as unknown as PeeringRequest['status'] }), { callback: { ok: true } })))).toBe(false);
  });
});

describe('planIncoming: a known peer\'s ID cannot be squatted', () => {
  it('calls a known peer back at the address we know, and drops a request its API server does not confirm at once (no minute of retention)', () => {
    const o = observed(pr(), { foreignCluster: knownFC() });
    expect(planIncoming(o)).toEqual([{ type: 'resolveCallback', apiUrl: KNOWN_API }]);
    for (const identity of [
      { ok: false as const, reason: 'CredentialRejected', message: '401' },
      { ok: false as const, reason: 'RequesterUnreachable', message: 'x509: certificate signed by unknown authority' },
      { ok: true as const, clusterID: 'someone-else' },
    ]) {
      const a = planIncoming({ ...o, callback: { ok: true }, identity });
      expect(deletesRequest(a), JSON.stringify(identity)).toBe(true);
      expect(reasons(a)).toEqual(['UnverifiedRequestDropped']);
      expect(types(a)).not.toContain('requeueAfter');
    }
  });

  it("keeps a known peer's request, retrying, while the address we know it at does not resolve yet (DNS discovery records it a moment after the ForeignCluster appears)", () => {
    const o = observed(pr(), { foreignCluster: knownFC(), callback: { ok: false, reason: 'RequesterUnresolvable', message: 'cannot resolve api.peer.test of apiUrl https://api.peer.test:6443: ENOTFOUND' } });
    const a = planIncoming(o);
    expect(deletesRequest(a)).toBe(false);
    expect(reasons(a)).not.toContain('UnverifiedRequestDropped');
    expect(a.at(-1)).toEqual({ type: 'fail', reason: 'RequesterUnresolvable', message: expect.stringContaining('ENOTFOUND') });
    // it resolves but refuses: dropped, as before
    expect(reasons(planIncoming({ ...o, callback: { ok: false, reason: 'RequesterUnreachable', message: 'connect ECONNREFUSED' } }))).toEqual(['UnverifiedRequestDropped']);
  });

  it('still retries an unreachable requester that is not a known peer (its request is its only address)', () => {
    const a = planIncoming(observed(pr(), { foreignCluster: knownFC('IncomingPeering'), callback: { ok: true }, identity: { ok: false, reason: 'RequesterUnreachable', message: 'timeout' } }));
    expect(deletesRequest(a)).toBe(false);
    expect(types(a)).toContain('fail');
  });

  it('lets a newcomer that proves the identity replace the stored request at once', () => {
    const newcomer = { ...pr({ apiUrl: KNOWN_API }), spec: { ...pr().spec, apiUrl: KNOWN_API, kubeconfig: 'kc' } } as PeeringRequest;
    const o = observed(pr(), { foreignCluster: knownFC(), candidate: { request: newcomer, atMs: NOW - 100, token: jwt('new') } });
    expect(planIncoming(o)).toEqual([{ type: 'checkCandidate', candidate: newcomer, atMs: NOW - 100, apiUrl: KNOWN_API }]);
    const a = planIncoming({ ...o, candidateCheck: { ok: true, clusterID: PEER } });
    expect(types(a)).toEqual(['event', 'supersede']);
    expect(reasons(a)).toEqual(['RequestSuperseded']);
  });

  it('ignores a newcomer that does not prove the identity, and the stored request sent again', () => {
    const newcomer = { ...pr(), spec: { ...pr().spec, kubeconfig: 'kc' } } as PeeringRequest;
    const o = observed(pr(), { callback: { ok: true }, candidate: { request: newcomer, atMs: NOW, token: jwt('new') } });
    for (const candidateCheck of [{ ok: false as const, reason: 'CredentialRejected', message: '401' }, { ok: true as const, clusterID: 'other' }]) {
      expect(types(planIncoming({ ...o, candidateCheck }))).not.toContain('supersede');
    }
    const again = planIncoming({ ...o, candidate: { request: newcomer, atMs: NOW, token: jwt('stored') } });
    expect(types(again)).not.toContain('checkCandidate');
  });
});

describe('the pending cap', () => {
  const verifiedWaiting = { status: { phase: 'Pending', conditions: [{ type: 'IdentityVerified', status: 'True' }] } } as unknown as PeeringRequest;
  it('counts unverified pending requests only: a verified one waiting for approval takes no slot', () => {
    expect(takesSlot({ status: { phase: 'Pending' } } as PeeringRequest)).toBe(true);
    expect(takesSlot({} as PeeringRequest)).toBe(true);
    expect(isPending(verifiedWaiting)).toBe(true);
    expect(takesSlot(verifiedWaiting)).toBe(false);
  });

  it('lets a known peer\'s request past a full cap; a stranger gets 429', () => {
    const obj = { apiVersion: 'discovery.liqo.io/v1alpha1', kind: 'PeeringRequest', metadata: { name: PEER }, spec: { clusterID: PEER, clusterName: 'p', namespace: 'liqo', apiUrl: SQUAT_API, kubeconfig: 'x' } };
    const snap = { ownClusterID: OWN, acceptPolicy: 'AutoAcceptKnown' as const, maxPendingRequests: 2, pendingCount: 2, operation: 'CREATE' as const, requesterUsername: 'system:anonymous' };
    expect(validatePeeringRequest(obj, snap)).toMatchObject({ allowed: false, code: 429 });
    const known = validatePeeringRequest(obj, { ...snap, isKnownPeer: (id: string) => id === PEER });
    expect(known).not.toMatchObject({ code: 429 });
  });
});

describe('PeeringCandidates', () => {
  it('keeps the latest create per name for a minute, and forgets only the one it was asked about', () => {
    let now = NOW;
    const c = new PeeringCandidates(() => now);
    const req = (tag: string) => ({ metadata: { name: PEER }, spec: { clusterID: PEER, kubeconfig: tag } }) as unknown as PeeringRequest;
    const seen: string[] = [];
    c.onChange((n) => seen.push(n));
    c.offer(req('one'));
    now += 10;
    c.offer(req('two'));
    expect(c.get(PEER)?.request.spec.kubeconfig).toBe('two');
    expect(seen).toEqual([PEER, PEER]);
    c.forget(PEER, NOW); // the first one: already replaced
    expect(c.get(PEER)).toBeDefined();
    now += CANDIDATE_TTL_MS + 1;
    expect(c.get(PEER)).toBeUndefined();
  });
});

describe('planIncoming: ending an accepted request', () => {
  const accepted = (annotations: Record<string, string>) =>
    ({ ...pr({ status: { phase: 'Accepted', reason: 'AcceptAll', message: '', conditions: [{ type: 'IdentityVerified', status: 'True', reason: 'Verified', message: '', lastTransitionTime: iso(NOW - 5000) }] } as unknown as PeeringRequest['status'] }), metadata: { ...pr().metadata, annotations } }) as PeeringRequest;
  it('tells the requester and deletes the request and its credential Secret at once when a person rejected it', () => {
    const a = planIncoming(observed(accepted({ 'discovery.liqo.io/approval': 'rejected' }), { callback: { ok: true } }));
    expect(types(a)).toEqual(['answer', 'event', 'deleteCredential', 'delete']);
    expect(a[2]).toMatchObject({ type: 'deleteCredential', clusterID: PEER });
    expect(a[0]).toMatchObject({ reason: 'PeeringDenied' });
    expect(types(a)).not.toContain('writeAdvertisement');
  });
  it('ends it even when the requester cannot be reached (nothing to tell)', () => {
    const a = planIncoming(observed(accepted({ 'discovery.liqo.io/approval': 'rejected' }), { callback: { ok: false, reason: 'RequesterUnreachable', message: 'down' } }));
    expect(types(a)).toEqual(['event', 'deleteCredential', 'delete']);
  });
});
