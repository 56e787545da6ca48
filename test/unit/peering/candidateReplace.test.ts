/**
 * A newcomer with the name of an established peer's request (issue 12: no peer speaks for another).
 * Where we know the peer only from its requests, a stranger's API server can say it is that peer,
 * so "proves its identity" is not enough to replace a request that already proved itself: the
 * newcomer must have the stored credential's CA, or prove it is known (the LAN peering secret
 * over its own CA, a trusted CA). Found by test/integration/proofReplay.test.ts: before, a stranger
 * that set its cluster-id to A's replaced A's accepted request on B (A's credential deleted).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { ForeignCluster, PeeringRequest } from '../../../src/api/crds.js';
import { candidateMayReplace, planIncoming, type Action, type IncomingObserved } from '../../../src/peering/incoming/plan.js';
import { buildTokenKubeconfig } from '../../../src/peering/kubeconfig.js';
import { certificateFingerprint, createCA } from '../../../src/trust/pki.js';
import { requestProof } from '../../../src/trust/peeringSecret.js';

const OWN = '11111111-2222-4333-8444-555555555555';
const PEER = 'ff5aa14a-dd6e-4fd2-80fe-eaecb827cf55';
const PEER_API = 'https://198.18.0.2:6443';
const STRANGER_API = 'https://198.18.0.66:6443';
const NOW = Date.parse('2026-11-30T12:00:00Z');
const SECRET = Buffer.from('a LAN peering secret of 32 bytes.');
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const jwt = (tag: string) => `${Buffer.from('{"alg":"ES256"}').toString('base64url')}.${Buffer.from(JSON.stringify({ iat: NOW / 1000 - 10, exp: NOW / 1000 + 86400 * 365, tag })).toString('base64url')}.sig`;

let peerCA = '';
let strangerCA = '';
beforeAll(async () => {
  [peerCA, strangerCA] = await Promise.all([createCA('peer-ca').then((c) => c.certPem), createCA('stranger-ca').then((c) => c.certPem)]);
});

const accepted = { phase: 'Accepted', reason: 'AutoAcceptKnown', message: '', conditions: [{ type: 'IdentityVerified', status: 'True', reason: 'Verified', message: '', lastTransitionTime: iso(NOW - 3600_000) }] } as unknown as PeeringRequest['status'];
const verifiedWaiting = { phase: 'Pending', reason: 'WaitingForApproval', message: '', conditions: [{ type: 'IdentityVerified', status: 'True', reason: 'Verified', message: '', lastTransitionTime: iso(NOW - 60_000) }] } as unknown as PeeringRequest['status'];
const unverified = { phase: 'Pending', reason: 'RequesterUnreachable', message: 'timeout' } as unknown as PeeringRequest['status'];

function stored(status: PeeringRequest['status']): PeeringRequest {
  return {
    apiVersion: 'discovery.liqo.io/v1alpha1',
    kind: 'PeeringRequest',
    metadata: { name: PEER, uid: 'pr-uid', generation: 1, creationTimestamp: iso(NOW - 3600_000) },
    spec: { clusterID: PEER, clusterName: 'peer', namespace: 'liqo', apiUrl: PEER_API },
    status,
  } as unknown as PeeringRequest;
}

function newcomer(o: { apiUrl: string; caPem: string; proofCA?: string }): PeeringRequest {
  return {
    apiVersion: 'discovery.liqo.io/v1alpha1',
    kind: 'PeeringRequest',
    metadata: { name: PEER },
    spec: {
      clusterID: PEER,
      namespace: 'liqo',
      apiUrl: o.apiUrl,
      kubeconfig: buildTokenKubeconfig({ server: o.apiUrl, caPem: o.caPem, token: jwt('new') }),
      // the peer's own proof (over the CA it names), which a stranger can copy
      ...(o.proofCA ? { peeringProof: requestProof(SECRET, PEER, OWN, certificateFingerprint(o.proofCA)) } : {}),
    },
  } as unknown as PeeringRequest;
}

/** B knows the peer only from its request: its ForeignCluster was made from it. */
const incomingFC = { metadata: { name: 'peer' }, spec: { clusterID: PEER, apiUrl: PEER_API, discoveryType: 'IncomingPeering', join: false } } as unknown as ForeignCluster;
const manualFC = { metadata: { name: 'peer' }, spec: { clusterID: PEER, apiUrl: PEER_API, discoveryType: 'Manual', join: true } } as unknown as ForeignCluster;

function observed(request: PeeringRequest, candidate: PeeringRequest, over: Partial<IncomingObserved> = {}): IncomingObserved {
  return {
    now: new Date(NOW),
    own: { clusterID: OWN, clusterName: 'home' },
    acceptPolicy: 'AutoAcceptKnown',
    heartbeatSeconds: 10,
    name: PEER,
    request,
    foreignCluster: incomingFC,
    peeringSecret: SECRET,
    credential: { ok: true, kubeconfig: { server: PEER_API, caPem: peerCA, token: jwt('stored') } },
    candidate: { request: candidate, atMs: NOW - 100, token: jwt('new') },
    callback: { ok: true },
    ...over,
  };
}
const types = (a: Action[]) => a.map((x) => x.type);

describe('a newcomer with an established peer\'s name, where we know the peer only from its requests', () => {
  it('a stranger with its own CA does not replace an accepted or verified request, even replaying the peer\'s proof, and is not even called', () => {
    for (const status of [accepted, verifiedWaiting]) {
      const c = newcomer({ apiUrl: STRANGER_API, caPem: strangerCA, proofCA: peerCA });
      expect(candidateMayReplace(observed(stored(status), c), stored(status), c, undefined)).toBe(false);
      // its identity check would pass (its API server says it is the peer): the plan never gets there
      const a = planIncoming({ ...observed(stored(status), c), candidateCheck: { ok: true, clusterID: PEER } });
      expect(types(a)).not.toContain('supersede');
      expect(types(a)).not.toContain('checkCandidate');
    }
  });

  it('the peer itself replaces it: with the same CA (a new token), or proving the secret over a new CA', async () => {
    const sameCA = newcomer({ apiUrl: PEER_API, caPem: peerCA });
    const o = observed(stored(accepted), sameCA);
    expect(candidateMayReplace(o, stored(accepted), sameCA, undefined)).toBe(true);
    expect(planIncoming(o)).toEqual([{ type: 'checkCandidate', candidate: sameCA, atMs: NOW - 100, apiUrl: PEER_API }]);
    expect(types(planIncoming({ ...o, candidateCheck: { ok: true, clusterID: PEER } }))).toEqual(['event', 'supersede']);
    // re-installed: a new CA, and the proof over it
    const newCA = (await createCA('peer-ca-2')).certPem;
    const proving = newcomer({ apiUrl: PEER_API, caPem: newCA, proofCA: newCA });
    expect(candidateMayReplace(observed(stored(accepted), proving), stored(accepted), proving, undefined)).toBe(true);
    // or a CA in our trust store
    const trusted = newcomer({ apiUrl: PEER_API, caPem: newCA });
    expect(candidateMayReplace(observed(stored(accepted), trusted), stored(accepted), trusted, undefined)).toBe(false);
    expect(candidateMayReplace(observed(stored(accepted), trusted, { trustedCAFingerprints: [certificateFingerprint(newCA)] }), stored(accepted), trusted, undefined)).toBe(true);
  });

  it('an unverified request (a squatter\'s, or an unreachable one) is still replaced by any newcomer that proves the identity', () => {
    const c = newcomer({ apiUrl: STRANGER_API, caPem: strangerCA });
    expect(candidateMayReplace(observed(stored(unverified), c), stored(unverified), c, undefined)).toBe(true);
  });

  it('where we know the peer at an address of our own, the check there decides (only the peer passes it)', () => {
    const c = newcomer({ apiUrl: STRANGER_API, caPem: strangerCA });
    const o = observed(stored(accepted), c, { foreignCluster: manualFC });
    expect(candidateMayReplace(o, stored(accepted), c, PEER_API)).toBe(true);
    expect(planIncoming(o)).toEqual([{ type: 'checkCandidate', candidate: c, atMs: NOW - 100, apiUrl: PEER_API }]);
  });

  it('a newcomer whose kubeconfig does not parse never replaces a proven request', () => {
    const c = { ...newcomer({ apiUrl: STRANGER_API, caPem: strangerCA }), spec: { clusterID: PEER, apiUrl: STRANGER_API, kubeconfig: 'not: [a kubeconfig' } } as unknown as PeeringRequest;
    expect(candidateMayReplace(observed(stored(accepted), c), stored(accepted), c, undefined)).toBe(false);
  });
});
