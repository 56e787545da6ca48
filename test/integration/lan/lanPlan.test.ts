/**
 * The lan-discovery controller's decisions (planLanPeer) on plain objects: no network, no cluster.
 * (Kept next to the LAN integration tests; it runs in milliseconds.)
 */
import { describe, expect, it } from 'vitest';
import type { ForeignCluster } from '../../../src/api/crds.js';
import type { DiscoveredPeer } from '../../../src/mdns/index.js';
import { isLoopbackUrl, lanConfigFrom, planLanPeer, STARTUP_GRACE_MS, UNREACHABLE_PROBES, type LanObservation } from '../../../src/discovery/lan/lanController.js';

const OWN = '11111111-1111-4111-8111-111111111111';
const PEER = '22222222-2222-4222-8222-222222222222';
const URL_ = 'https://198.18.0.3:6443';

const peer: DiscoveredPeer = {
  instance: 'MyLiqo-22222222._liqo._tcp.local',
  clusterID: PEER,
  namespace: 'liqo',
  name: 'beta',
  url: URL_,
  port: 6443,
  host: 'MyLiqo-22222222.local',
  addresses: ['198.18.0.3'],
  ttl: 90,
  sourceAddress: '198.18.0.3',
  interface: 'eth0',
};

function fcOf(spec: Partial<ForeignCluster['spec']>, status: ForeignCluster['status'] = undefined): ForeignCluster {
  return {
    apiVersion: 'discovery.liqo.io/v1',
    kind: 'ForeignCluster',
    metadata: { name: PEER },
    spec: { clusterID: PEER, apiUrl: URL_, namespace: 'liqo', join: false, discoveryType: 'LAN', allowUntrustedCA: false, ...spec } as ForeignCluster['spec'],
    ...(status ? { status } : {}),
  };
}

function obs(o: Partial<LanObservation>): LanObservation {
  return {
    ownClusterID: OWN,
    clusterID: PEER,
    peer: undefined,
    gone: undefined,
    fc: undefined,
    autojoin: true,
    autojoinUntrusted: true,
    trust: undefined,
    browsing: true,
    browsingForMs: 60_000,
    ...o,
  };
}

describe('planLanPeer', () => {
  it('ignores our own cluster ID', () => {
    expect(planLanPeer(obs({ clusterID: OWN, peer: { ...peer, clusterID: OWN } })).type).toBe('none');
  });

  it('probes trust before creating a ForeignCluster, and only then', () => {
    expect(planLanPeer(obs({ peer }))).toEqual({ type: 'probe', url: URL_ });
    // an existing ForeignCluster is updated without a probe: join is decided at creation only
    expect(planLanPeer(obs({ peer, fc: fcOf({}) })).type).toBe('upsert');
  });

  it('joins a Trusted peer when autojoin is on, without allowUntrustedCA', () => {
    const a = planLanPeer(obs({ peer, autojoinUntrusted: false, trust: { url: URL_, mode: 'Trusted', attempts: 1 } }));
    expect(a).toMatchObject({ type: 'upsert', sighting: { clusterID: PEER, apiUrl: URL_, source: 'LAN', join: true, clusterName: 'beta', namespace: 'liqo' } });
    expect(a.type === 'upsert' && a.sighting.allowUntrustedCA).toBeFalsy();
  });

  it('joins an Untrusted peer that proved the peering secret, with allowUntrustedCA and the PeeringSecret mark, when autojoinUntrusted is on', () => {
    const on = planLanPeer(obs({ peer, autojoin: false, hasPeeringSecret: true, trust: { url: URL_, mode: 'Untrusted', attempts: 1, proven: true } }));
    expect(on).toMatchObject({ type: 'upsert', sighting: { join: true, allowUntrustedCA: true, annotations: { 'discovery.kubepeer.io/autojoin': 'PeeringSecret' } } });
    const off = planLanPeer(obs({ peer, autojoinUntrusted: false, hasPeeringSecret: true, trust: { url: URL_, mode: 'Untrusted', attempts: 1, proven: true } }));
    expect(off).toMatchObject({ type: 'upsert', sighting: { join: false } });
    expect(off.type === 'upsert' && off.sighting.allowUntrustedCA).toBeFalsy();
  });

  it('only lists a LAN stranger (no trusted CA, no proof): join false, marked NotProven, whatever autojoinUntrusted says', () => {
    for (const hasPeeringSecret of [true, false]) {
      const a = planLanPeer(obs({ peer, hasPeeringSecret, trust: { url: URL_, mode: 'Untrusted', attempts: 1, proven: false } }));
      expect(a).toMatchObject({ type: 'upsert', sighting: { join: false, annotations: { 'discovery.kubepeer.io/autojoin': 'NotProven' } } });
      expect(a.type === 'upsert' && a.sighting.allowUntrustedCA).toBeFalsy();
    }
  });

  it('joins a listed stranger once it proves the secret, but never one a person left', () => {
    const listed = { ...fcOf({}), metadata: { name: PEER, annotations: { 'discovery.kubepeer.io/autojoin': 'NotProven' } } };
    expect(planLanPeer(obs({ peer, fc: listed, hasPeeringSecret: true }))).toEqual({ type: 'probe', url: URL_ });
    const proven = planLanPeer(obs({ peer, fc: listed, hasPeeringSecret: true, trust: { url: URL_, mode: 'Untrusted', attempts: 1, proven: true } }));
    expect(proven).toMatchObject({ type: 'upsert', sighting: { join: true, annotations: { 'discovery.kubepeer.io/autojoin': 'PeeringSecret' } } });
    const leftByAPerson = fcOf({}); // join false, no mark: `kubepeer peer leave` removed it
    expect(planLanPeer(obs({ peer, fc: leftByAPerson, hasPeeringSecret: true, trust: { url: URL_, mode: 'Untrusted', attempts: 1, proven: true } }))).toMatchObject({ type: 'upsert', sighting: { join: false } });
  });

  it('re-probes an unreachable peer a few times when a trusted CA or a proof could make it join, then only lists it', () => {
    const first = planLanPeer(obs({ peer, autojoinUntrusted: false, trust: { url: URL_, mode: 'Unreachable', attempts: 1 } }));
    expect(first).toMatchObject({ type: 'retry', reprobe: true });
    const last = planLanPeer(obs({ peer, autojoinUntrusted: false, trust: { url: URL_, mode: 'Unreachable', attempts: UNREACHABLE_PROBES } }));
    expect(last).toMatchObject({ type: 'upsert', sighting: { join: false } });
    // when nothing could make it join, the answer does not matter: no waiting
    expect(planLanPeer(obs({ peer, autojoin: false, trust: { url: URL_, mode: 'Unreachable', attempts: 1 } }))).toMatchObject({ type: 'upsert', sighting: { join: false } });
  });

  it('probes again when the URL changed since the probe', () => {
    expect(planLanPeer(obs({ peer, trust: { url: 'https://198.18.0.9:6443', mode: 'Trusted', attempts: 1 } }))).toEqual({ type: 'probe', url: URL_ });
  });

  it('decides join for a placeholder IncomingPeering ForeignCluster (the request came before the sighting)', () => {
    const placeholder = fcOf({ discoveryType: 'IncomingPeering' });
    expect(planLanPeer(obs({ peer, fc: placeholder }))).toEqual({ type: 'probe', url: URL_ });
    const peered = fcOf({ discoveryType: 'IncomingPeering', join: true });
    expect(planLanPeer(obs({ peer, fc: peered })).type).toBe('upsert');
  });

  it('retires a ForeignCluster whose peer said goodbye or expired', () => {
    expect(planLanPeer(obs({ fc: fcOf({}), gone: 'goodbye' }))).toMatchObject({ type: 'retire', why: expect.stringContaining('goodbye') });
    expect(planLanPeer(obs({ fc: fcOf({}), gone: 'expired' }))).toMatchObject({ type: 'retire', why: expect.stringContaining('expired') });
  });

  it('when discovery is turned off, deletes only discovered-only ForeignClusters', () => {
    expect(planLanPeer(obs({ fc: fcOf({}), gone: 'disabled' })).type).toBe('retire');
    expect(planLanPeer(obs({ fc: fcOf({ join: true }), gone: 'disabled' })).type).toBe('none');
    expect(planLanPeer(obs({ fc: fcOf({ discoveryType: 'Manual' }), gone: 'disabled' })).type).toBe('none');
  });

  it('retires a LAN ForeignCluster left from an earlier term only after the start-up grace', () => {
    expect(planLanPeer(obs({ fc: fcOf({}), browsingForMs: 1000 }))).toMatchObject({ type: 'retry', afterMs: STARTUP_GRACE_MS - 1000 + 100 });
    expect(planLanPeer(obs({ fc: fcOf({}), browsingForMs: STARTUP_GRACE_MS + 1 })).type).toBe('retire');
    expect(planLanPeer(obs({ fc: fcOf({}), browsing: false })).type).toBe('none');
    expect(planLanPeer(obs({ fc: fcOf({ discoveryType: 'Manual' }) })).type).toBe('none');
  });
});

describe('LAN settings', () => {
  it('announces the port of the URL peers use and the ClusterConfig settings', () => {
    const c = lanConfigFrom(
      { clusterID: OWN, apiUrl: 'https://198.18.0.2:34567', namespace: 'liqo' },
      { name: 'Lab', service: '_liqo._tcp', domain: 'local.', port: 6443, ttl: 5, enableDiscovery: true, enableAdvertisement: false, autojoin: true, autojoinUntrusted: true, dnsServer: '', resyncSeconds: 30, interfaces: ['eth0'], clusterName: 'alpha' },
    );
    expect(c).toMatchObject({ clusterID: OWN, url: 'https://198.18.0.2:34567', port: 34567, name: 'Lab', ttl: 5, enableAdvertisement: false, interfaces: ['eth0'], clusterName: 'alpha' });
  });

  it('knows a loopback API URL when it sees one', () => {
    expect(isLoopbackUrl('https://127.0.0.1:6443')).toBe(true);
    expect(isLoopbackUrl('https://[::1]:6443')).toBe(true);
    expect(isLoopbackUrl('https://localhost:6443')).toBe(true);
    expect(isLoopbackUrl('https://198.18.0.2:6443')).toBe(false);
    expect(isLoopbackUrl('https://cluster.example.com')).toBe(false);
  });
});
