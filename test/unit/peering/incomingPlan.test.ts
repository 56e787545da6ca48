import { describe, expect, it } from 'vitest';
import type { ForeignCluster, PeeringRequest } from '../../../src/api/crds.js';
import { DENIED_RETENTION_MS, UNAUTHORIZED_GRACE_MS, planIncoming, type Action, type IncomingObserved } from '../../../src/peering/incoming/plan.js';
import { certificateFingerprint, createCA } from '../../../src/trust/pki.js';
import { requestProof } from '../../../src/trust/peeringSecret.js';

const OWN = '11111111-2222-4333-8444-555555555555';
const PEER = 'ff5aa14a-dd6e-4fd2-80fe-eaecb827cf55';
const API = 'https://198.18.0.2:6443';
const NOW = Date.parse('2026-11-30T12:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const jwt = (iat: number, exp: number) =>
  `${Buffer.from('{"alg":"ES256"}').toString('base64url')}.${Buffer.from(
    JSON.stringify({ iat, exp, 'kubernetes.io': { namespace: 'liqo', serviceaccount: { name: `liqo-remote-${OWN}` }, secret: { name: `liqo-remote-${OWN}`, uid: 's' } } }),
  ).toString('base64url')}.sig`;

/** A token issued 10 s ago that lives a year: renewal not due. */
const freshToken = () => jwt(NOW / 1000 - 10, NOW / 1000 + 365 * 86400);
const credential = (token = freshToken()) => ({ ok: true as const, kubeconfig: { server: API, caPem: 'CA', token } });

function pr(status?: PeeringRequest['status'], over: { annotations?: Record<string, string>; name?: string; clusterID?: string } = {}): PeeringRequest {
  return {
    apiVersion: 'discovery.liqo.io/v1alpha1',
    kind: 'PeeringRequest',
    metadata: { name: over.name ?? PEER, uid: 'pr-uid', generation: 1, ...(over.annotations ? { annotations: over.annotations } : {}) },
    spec: { clusterID: over.clusterID ?? PEER, clusterName: 'peer', namespace: 'liqo', apiUrl: API },
    ...(status ? { status } : {}),
  } as PeeringRequest;
}

const verified = (phase: 'Pending' | 'Accepted' = 'Pending', extra: Array<Record<string, string>> = []): PeeringRequest['status'] =>
  ({
    phase,
    reason: phase === 'Accepted' ? 'AcceptAll' : 'IdentityVerified',
    message: '',
    conditions: [{ type: 'IdentityVerified', status: 'True', reason: 'Verified', message: '', lastTransitionTime: iso(NOW - 5000) }, ...extra],
  }) as unknown as PeeringRequest['status'];

const knownFC = (discoveryType: 'LAN' | 'IncomingPeering' | 'Manual' = 'LAN', incoming?: string) =>
  ({
    metadata: { name: PEER },
    spec: { clusterID: PEER, apiUrl: API, discoveryType, join: false },
    ...(incoming ? { status: { incoming: { phase: incoming } } } : {}),
  }) as ForeignCluster;

function observed(request: PeeringRequest | undefined, over: Partial<IncomingObserved> = {}): IncomingObserved {
  return {
    now: new Date(NOW),
    own: { clusterID: OWN, clusterName: 'home' },
    acceptPolicy: 'AutoAcceptKnown',
    heartbeatSeconds: 10,
    name: PEER,
    ...(request ? { request } : {}),
    credential: credential(),
    callback: { ok: true },
    ...over,
  };
}

const types = (a: Action[]) => a.map((x) => x.type);
const requeue = (a: Action[]) => a.flatMap((x) => (x.type === 'requeueAfter' ? [x.ms] : []))[0];
const prStatus = (a: Action[]) => a.flatMap((x) => (x.type === 'mergePatch' && x.target.subresource === 'status' ? [(x.patch as { status: { phase: string; reason: string } }).status] : []));
const incomingOf = (a: Action[]) => a.flatMap((x) => (x.type === 'foreignClusterStatus' && x.incoming ? [x.incoming] : []));

describe('planIncoming: who asks', () => {
  it('denies a request that claims our own cluster ID', () => {
    const a = planIncoming(observed(pr(undefined, { name: OWN, clusterID: OWN }), { name: OWN }));
    expect(prStatus(a)).toEqual([expect.objectContaining({ phase: 'Denied', reason: 'InvalidRequest' })]);
    expect(types(a)).not.toContain('readIdentity');
  });

  it('denies a request whose name is not its cluster ID', () => {
    const a = planIncoming(observed(pr(undefined, { name: 'other' }), { name: 'other' }));
    expect(prStatus(a)).toEqual([expect.objectContaining({ phase: 'Denied', reason: 'InvalidRequest', message: expect.stringContaining('does not match') })]);
  });

  it('moves the credential out of the request first, then reads it back from the Secret', () => {
    const withKubeconfig = pr();
    withKubeconfig.spec.kubeconfig = 'apiVersion: v1\nkind: Config\n';
    expect(types(planIncoming(observed(withKubeconfig)))).toEqual(['storeCredential']);
    const { credential: _c, ...rest } = observed(pr());
    expect(planIncoming(rest)).toEqual([{ type: 'readCredential', clusterID: PEER }]);
  });

  it('denies a request without a credential and keeps it a minute for people to see', () => {
    const a = planIncoming(observed(pr(), { credential: null }));
    expect(prStatus(a)).toEqual([expect.objectContaining({ phase: 'Denied', reason: 'NoCredential' })]);
    expect(requeue(a)).toBe(DENIED_RETENTION_MS);
  });

  it('denies a request whose stored credential breaks the kubeconfig rules', () => {
    const a = planIncoming(observed(pr(), { credential: { ok: false, message: 'spec.kubeconfig: exec is not accepted' } }));
    expect(prStatus(a)).toEqual([expect.objectContaining({ phase: 'Denied', reason: 'InvalidCredential', message: expect.stringContaining('exec is not accepted') })]);
    expect(types(a)).not.toContain('resolveCallback');
  });

  it('drops a denied request once its minute is over', () => {
    const denied = { phase: 'Denied', reason: 'X', message: '', conditions: [{ type: 'Accepted', status: 'False', reason: 'X', message: '', lastTransitionTime: iso(NOW - DENIED_RETENTION_MS) }] } as PeeringRequest['status'];
    expect(types(planIncoming(observed(pr(denied))))).toEqual(['deleteCredential', 'delete']);
    const recent = { ...denied!, conditions: [{ ...denied!.conditions![0]!, lastTransitionTime: iso(NOW - 10_000) }] } as PeeringRequest['status'];
    expect(requeue(planIncoming(observed(pr(recent))))).toBe(DENIED_RETENTION_MS - 10_000 + 100);
  });

  it('calls back the URL of the ForeignCluster we already know for that ID, not the one in the request', () => {
    const known = { ...knownFC('LAN'), spec: { ...knownFC('LAN').spec, apiUrl: 'https://198.18.0.99:6443' } } as ForeignCluster;
    const { callback: _c, ...o } = observed(pr(), { foreignCluster: known });
    expect(planIncoming(o)).toEqual([{ type: 'resolveCallback', apiUrl: 'https://198.18.0.99:6443' }]);
  });
});

describe('planIncoming: identity', () => {
  it('reads the requester\'s cluster ID with its own credential, then records it verified', () => {
    const o = observed(pr());
    expect(types(planIncoming(o))).toEqual(['readIdentity']);
    const a = planIncoming({ ...o, identity: { ok: true, clusterID: PEER } });
    expect(prStatus(a)).toEqual([expect.objectContaining({ phase: 'Pending', reason: 'IdentityVerified' })]);
  });

  it('denies a requester whose API server says it is another cluster, and tells it why', () => {
    const a = planIncoming(observed(pr(), { identity: { ok: true, clusterID: 'someone-else' } }));
    expect(prStatus(a)).toEqual([expect.objectContaining({ phase: 'Denied', reason: 'IdentityMismatch' })]);
    expect(a).toContainEqual(expect.objectContaining({ type: 'answer', reason: 'PeeringDenied' }));
    expect(requeue(a)).toBe(DENIED_RETENTION_MS);
  });

  it('retries an unreachable requester with backoff instead of denying it', () => {
    const a = planIncoming(observed(pr(), { identity: { ok: false, reason: 'RequesterUnreachable', message: 'ECONNREFUSED' } }));
    expect(prStatus(a)).toEqual([expect.objectContaining({ phase: 'Pending', reason: 'RequesterUnreachable' })]);
    expect(a.at(-1)).toEqual({ type: 'fail', reason: 'RequesterUnreachable', message: 'ECONNREFUSED' });
  });

  it('denies a callback address the address policy forbids', () => {
    const a = planIncoming(observed(pr(), { callback: { ok: false, reason: 'ForbiddenApiUrl', message: 'a link-local address' } }));
    expect(prStatus(a)).toEqual([expect.objectContaining({ phase: 'Denied', reason: 'ForbiddenApiUrl' })]);
  });
});

describe('planIncoming: policy', () => {
  it('waits for approval when the requester is not known (AutoAcceptKnown), tells it once, and lists it', () => {
    const a = planIncoming(observed(pr(verified())));
    expect(prStatus(a)).toEqual([expect.objectContaining({ phase: 'Pending', reason: 'WaitingForApproval' })]);
    expect(a).toContainEqual(expect.objectContaining({ type: 'answer', reason: 'PeeringPending' }));
    expect(types(a)).toContain('ensureForeignCluster');
    const again = planIncoming(observed(pr({ ...verified()!, reason: 'WaitingForApproval' })));
    expect(types(again)).not.toContain('answer');
  });

  it('accepts a known requester and starts the heartbeat in the same reconcile', () => {
    const o = observed(pr(verified()), { foreignCluster: knownFC('Manual') });
    expect(types(planIncoming(o))).toEqual(['writeAdvertisement']);
    const a = planIncoming({ ...o, advertised: { ok: true } });
    expect(prStatus(a)).toEqual([expect.objectContaining({ phase: 'Accepted', reason: 'AutoAcceptKnown' })]);
    expect(a).toContainEqual(expect.objectContaining({ type: 'answer', reason: 'PeeringAccepted' }));
    expect(incomingOf(a)).toEqual([expect.objectContaining({ phase: 'Established', reason: 'Advertising' })]);
    expect(requeue(a)).toBe(10_000);
  });

  it('does not count an IncomingPeering ForeignCluster as known', () => {
    expect(prStatus(planIncoming(observed(pr(verified()), { foreignCluster: knownFC('IncomingPeering') })))[0]?.reason).toBe('WaitingForApproval');
  });

  it('follows an administrator\'s decision over the policy', () => {
    const rejected = planIncoming(observed(pr(verified(), { annotations: { 'discovery.liqo.io/approval': 'rejected' } }), { acceptPolicy: 'AcceptAll' }));
    expect(prStatus(rejected)).toEqual([expect.objectContaining({ phase: 'Denied', reason: 'RejectedByAdmin' })]);
    const accepted = planIncoming(observed(pr(verified(), { annotations: { 'discovery.liqo.io/approval': 'accepted' } }), { acceptPolicy: 'Manual', advertised: { ok: true } }));
    expect(prStatus(accepted)).toEqual([expect.objectContaining({ phase: 'Accepted', reason: 'ApprovedByAdmin' })]);
  });
});

describe('planIncoming: heartbeat and revocation', () => {
  const accepted = (over: Partial<IncomingObserved> = {}) => observed(pr(verified('Accepted')), { foreignCluster: knownFC('LAN', 'Established'), ...over });

  it('treats the first 401 as a possible API server restart: Pending, checked again after the grace period', () => {
    const a = planIncoming(accepted({ advertised: { ok: false, code: 401, message: 'Unauthorized' } }));
    expect(a).toContainEqual({ type: 'rememberUnauthorized', clusterID: PEER, atMs: NOW });
    expect(incomingOf(a)).toEqual([expect.objectContaining({ phase: 'Pending', reason: 'CredentialRejected' })]);
    expect(requeue(a)).toBe(UNAUTHORIZED_GRACE_MS + 100);
    expect(types(a)).not.toContain('delete');
  });

  it('keeps waiting while 401s last less than the grace period', () => {
    const a = planIncoming(accepted({ advertised: { ok: false, code: 401, message: '' }, unauthorizedSinceMs: NOW - UNAUTHORIZED_GRACE_MS + 1 }));
    expect(types(a)).not.toContain('delete');
    expect(types(a)).not.toContain('rememberUnauthorized');
  });

  it('ends the peering when 401s last the grace period: the requester revoked our credential', () => {
    const a = planIncoming(accepted({ advertised: { ok: false, code: 401, message: '' }, unauthorizedSinceMs: NOW - UNAUTHORIZED_GRACE_MS }));
    expect(a).toContainEqual({ type: 'delete', target: expect.objectContaining({ name: PEER }) });
    expect(a).toContainEqual(expect.objectContaining({ type: 'event', reason: 'PeerRevoked' }));
  });

  it('forgets an earlier 401 once a heartbeat goes through', () => {
    expect(planIncoming(accepted({ advertised: { ok: true }, unauthorizedSinceMs: NOW - 500 }))).toContainEqual({ type: 'forgetUnauthorized', clusterID: PEER });
  });

  it('keeps trying on 403 (authorization, not revocation) and says so', () => {
    const a = planIncoming(accepted({ advertised: { ok: false, code: 403, status: 'Forbidden', message: 'RBAC' } }));
    expect(incomingOf(a)).toEqual([expect.objectContaining({ phase: 'Pending', reason: 'AdvertisementForbidden' })]);
    expect(a.at(-1)).toMatchObject({ type: 'fail', reason: 'AdvertisementForbidden' });
  });
});

describe('planIncoming: credential renewal', () => {
  it('does not renew before 80 % of the token\'s lifetime', () => {
    const iat = NOW / 1000 - 799;
    const a = planIncoming(observed(pr(verified('Accepted')), { credential: credential(jwt(iat, iat + 1000)) }));
    expect(types(a)).toEqual(['writeAdvertisement']);
  });

  it('renews at 80 % of the lifetime, stores the new token and heartbeats with it', () => {
    const iat = NOW / 1000 - 800;
    const o = observed(pr(verified('Accepted')), { credential: credential(jwt(iat, iat + 1000)) });
    expect(types(planIncoming(o))).toEqual(['renewToken']);
    const renewed = jwt(NOW / 1000, NOW / 1000 + 1000);
    const write = planIncoming({ ...o, renewal: { ok: true, token: renewed, expirationTimestamp: iso(NOW + 1000_000) } });
    expect(write).toEqual([{ type: 'writeAdvertisement', peer: expect.objectContaining({ kubeconfig: expect.objectContaining({ token: renewed }) }) }]);
    const a = planIncoming({ ...o, renewal: { ok: true, token: renewed, expirationTimestamp: iso(NOW + 1000_000) }, advertised: { ok: true } });
    expect(a).toContainEqual({ type: 'storeRenewedCredential', clusterID: PEER, kubeconfig: { server: API, caPem: 'CA', token: renewed } });
    expect(a).toContainEqual(expect.objectContaining({ type: 'event', reason: 'CredentialRenewed' }));
  });

  it('goes on with the heartbeat when renewal fails (the current token still lasts)', () => {
    const iat = NOW / 1000 - 900;
    const o = observed(pr(verified('Accepted')), { credential: credential(jwt(iat, iat + 1000)), renewal: { ok: false, message: 'forbidden' } });
    expect(types(planIncoming(o))).toEqual(['writeAdvertisement']);
    expect(planIncoming({ ...o, advertised: { ok: true } })).toContainEqual(expect.objectContaining({ type: 'log', level: 'warn' }));
  });
});

describe('planIncoming: the request is gone', () => {
  it('ends the incoming direction and removes a ForeignCluster that existed only for the request', () => {
    const a = planIncoming(observed(undefined, { foreignCluster: knownFC('IncomingPeering', 'Established') }));
    expect(types(a)).toEqual(['forgetRequester', 'foreignClusterStatus', 'event', 'delete']);
    const keep = planIncoming(observed(undefined, { foreignCluster: knownFC('LAN', 'Established') }));
    expect(types(keep)).not.toContain('delete');
  });
});

describe('planIncoming: who is known (LAN trust model)', () => {
  const secret = Buffer.from('the LAN peering secret, 32 bytes');
  const withCA = async () => {
    const ca = await createCA('requester CA', 1);
    return { ca, cred: { ok: true as const, kubeconfig: { server: API, caPem: ca.certPem, token: freshToken() } } };
  };
  const proved = (proof: string) => {
    const p = pr(verified());
    p.spec.peeringProof = proof;
    return p;
  };
  const reason = (a: Action[]) => prStatus(a)[0]?.reason;

  it('does not accept a requester only because LAN discovery saw it', () => {
    expect(reason(planIncoming(observed(pr(verified()), { foreignCluster: knownFC('LAN') })))).toBe('WaitingForApproval');
    const joinedByLan = { ...knownFC('LAN'), metadata: { name: PEER, annotations: { 'discovery.kubepeer.io/autojoin': 'NotProven' } } } as ForeignCluster;
    expect(reason(planIncoming(observed(pr(verified()), { foreignCluster: joinedByLan })))).toBe('WaitingForApproval');
  });

  it('accepts a requester whose proof of the peering secret names it, us and the CA of its credential', async () => {
    const { ca, cred } = await withCA();
    const proof = requestProof(secret, PEER, OWN, certificateFingerprint(ca.certPem));
    const a = planIncoming(observed(proved(proof), { peeringSecret: secret, credential: cred, advertised: { ok: true } }));
    expect(prStatus(a)).toEqual([expect.objectContaining({ phase: 'Accepted', reason: 'AutoAcceptKnown' })]);
  });

  it('refuses a proof made for another target, another CA, or with another secret', async () => {
    const { ca, cred } = await withCA();
    const fp = certificateFingerprint(ca.certPem);
    const other = await createCA('stranger CA', 1);
    for (const proof of [
      requestProof(secret, PEER, 'another-cluster', fp), // replayed from a request to another cluster
      requestProof(secret, PEER, OWN, certificateFingerprint(other.certPem)), // another CA
      requestProof(Buffer.from('a different secret of 32 bytes!!'), PEER, OWN, fp),
      'not hex',
    ]) {
      expect(reason(planIncoming(observed(proved(proof), { peeringSecret: secret, credential: cred })))).toBe('WaitingForApproval');
    }
    // and without a secret of ours, no proof counts
    expect(reason(planIncoming(observed(proved(requestProof(secret, PEER, OWN, fp)), { credential: cred })))).toBe('WaitingForApproval');
  });

  it('accepts a requester whose CA is in the trust store, or that a person connected', async () => {
    const { ca, cred } = await withCA();
    const a = planIncoming(observed(pr(verified()), { credential: cred, trustedCAFingerprints: [certificateFingerprint(ca.certPem)], advertised: { ok: true } }));
    expect(reason(a)).toBe('AutoAcceptKnown');
    const connected = { ...knownFC('LAN'), spec: { ...knownFC('LAN').spec, join: true } } as ForeignCluster; // no autojoin mark: a person's join
    expect(reason(planIncoming(observed(pr(verified()), { foreignCluster: connected, advertised: { ok: true } })))).toBe('AutoAcceptKnown');
  });
});
