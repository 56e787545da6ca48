/**
 * Issue 12, "known": a SearchDomain a person created with `autojoin: true` joins a cluster, and
 * makes its requests known, only when the cluster's TXT record pins its CA (`ca=`) and that is the
 * CA actually presented; a cluster without a pin is listed for a person to connect.
 */
import { describe, expect, it } from 'vitest';
import type { ForeignCluster, SearchDomain } from '../../../src/api/crds.js';
import { AUTOJOIN_CA_PIN, autojoinDecision, knownByCAPin } from '../../../src/discovery/dns/caPin.js';
import { isKnownRequester, type IncomingObserved } from '../../../src/peering/incoming/plan.js';
import { joinPatch, knownWithoutProof } from '../../../src/trust/peeringSecret.js';
import { certificateFingerprint, createCA } from '../../../src/trust/pki.js';

const AUTOJOIN = 'discovery.kubepeer.io/autojoin';
const PEER = 'ff5aa14a-dd6e-4fd2-80fe-eaecb827cf55';
const API = 'https://api.peer.test:6443';
const sd = (autojoin: boolean): Pick<SearchDomain, 'spec'> => ({ spec: { domain: 'mydomain.com', autojoin } });

function wanFC(o: { join: boolean; mark?: string; pin?: string }): ForeignCluster {
  return {
    apiVersion: 'discovery.liqo.io/v1',
    kind: 'ForeignCluster',
    metadata: { name: PEER, ...(o.mark ? { annotations: { [AUTOJOIN]: o.mark } } : {}) },
    spec: { clusterID: PEER, namespace: 'liqo', apiUrl: API, join: o.join, discoveryType: 'WAN', allowUntrustedCA: false, ...(o.pin ? { caFingerprint: o.pin } : {}) },
  };
}

describe('autojoinDecision: who a SearchDomain joins by itself', () => {
  it('joins, with the CAPin mark, only a cluster whose TXT pins its CA; lists the others as NotProven; without autojoin marks nothing', () => {
    const pin = `sha256:${'ab'.repeat(32)}`;
    expect(autojoinDecision(sd(true), pin)).toEqual({ join: true, annotations: { [AUTOJOIN]: 'CAPin' } });
    expect(autojoinDecision(sd(true), undefined)).toEqual({ join: false, annotations: { [AUTOJOIN]: 'NotProven' } });
    expect(autojoinDecision(sd(false), pin)).toEqual({ join: false });
    expect(autojoinDecision(sd(false), undefined)).toEqual({ join: false });
  });
});

describe('known for AutoAcceptKnown through a SearchDomain', () => {
  it("counts a request only when its CA is the SearchDomain's pin; being listed, or joined by the pin with another CA, is not enough", async () => {
    const ca = await createCA('requester-ca');
    const other = await createCA('stranger-ca');
    const fp = certificateFingerprint(ca.certPem);
    const observed = (foreignCluster: ForeignCluster): Pick<IncomingObserved, 'own' | 'request' | 'foreignCluster' | 'peeringSecret' | 'trustedCAFingerprints'> => ({
      own: { clusterID: '11111111-2222-4333-8444-555555555555', clusterName: 'home' },
      foreignCluster,
    });
    const kc = (caPem: string) => ({ server: API, caPem, token: 't' });

    const pinned = wanFC({ join: true, mark: AUTOJOIN_CA_PIN, pin: fp });
    expect(knownWithoutProof(pinned)).toBe(false);
    expect(knownByCAPin(pinned, fp)).toBe(true);
    expect(isKnownRequester(observed(pinned), kc(ca.certPem))).toBe(true);
    expect(isKnownRequester(observed(pinned), kc(other.certPem))).toBe(false);

    const listed = wanFC({ join: false, mark: 'NotProven' });
    expect(isKnownRequester(observed(listed), kc(ca.certPem))).toBe(false);
    // a pin on a cluster that is only listed (autojoin off) is not an automatic join either
    expect(isKnownRequester(observed(wanFC({ join: false, pin: fp })), kc(ca.certPem))).toBe(false);
    // a person's connect makes it the person's decision: known without a proof
    expect(isKnownRequester(observed(wanFC({ join: true, pin: fp })), kc(other.certPem))).toBe(true);
  });

  it("a person's connect of a cluster the SearchDomain only listed trusts its CA on first use and drops the mark", () => {
    expect(joinPatch(wanFC({ join: false, mark: 'NotProven' }), true)).toMatchObject({ metadata: { annotations: { [AUTOJOIN]: null } }, spec: { join: true, allowUntrustedCA: true } });
    // a pinned one keeps relying on its pin; one a SearchDomain without autojoin listed is as before
    expect((joinPatch(wanFC({ join: true, mark: AUTOJOIN_CA_PIN }), true) as { spec: Record<string, unknown> }).spec.allowUntrustedCA).toBeUndefined();
    expect((joinPatch(wanFC({ join: false }), true) as { spec: Record<string, unknown> }).spec.allowUntrustedCA).toBeUndefined();
  });
});
