import { describe, expect, it } from 'vitest';
import type { ForeignCluster, SearchDomain, SearchDomainStatus } from '../../../src/api/crds.js';
import type { BrowseResult, DiscoveredCluster, InstanceFailure } from '../../../src/discovery/dns/types.js';
import {
  LAST_SYNC_REFRESH_MS,
  MAX_FAILURE_EVENTS,
  failedSyncCondition,
  nextStatus,
  planEvents,
  planSync,
  stableApiUrl,
  statusPatch,
  type SyncInput,
} from '../../../src/discovery/dns/searchDomainPlan.js';

const LABEL = 'discovery.liqo.io/searchdomain';
const B = '9a596a4b-591c-4ac6-8fd6-80258b4b3bf9';
const C = '3f2b8c9d-1e4a-4b6c-8d7e-9f0a1b2c3d4e';
const D = 'ff5aa14a-dd6e-4fd2-80fe-eaecb827cf55';
const PIN = `sha256:${'ab'.repeat(32)}`;
const T0 = Date.parse('2026-03-01T10:00:00.000Z');
const at = (s: number) => new Date(T0 + s * 1000);

function sd(name: string, status?: SearchDomainStatus, spec: Partial<SearchDomain['spec']> = {}, uid = `uid-${name}`): SearchDomain {
  return {
    apiVersion: 'discovery.liqo.io/v1',
    kind: 'SearchDomain',
    metadata: { name, uid, generation: 1 },
    spec: { domain: 'mydomain.com', autojoin: true, ...spec },
    ...(status ? { status } : {}),
  };
}

function found(clusterID: string, instance: string, extra: Partial<DiscoveredCluster> = {}): DiscoveredCluster {
  return {
    instance,
    clusterID,
    namespace: 'liqo',
    apiUrl: `https://api-${instance.split('.')[0]}.mydomain.com:6443`,
    target: `api-${instance.split('.')[0]}.mydomain.com.`,
    port: 6443,
    addresses: ['127.0.0.1'],
    ttl: 300,
    endpoints: [{ target: `api-${instance.split('.')[0]}.mydomain.com.`, port: 6443, priority: 0, weight: 0 }],
    ...extra,
  };
}

function browse(instances: DiscoveredCluster[], failures: InstanceFailure[] = []): BrowseResult {
  return { domain: 'mydomain.com.', server: '127.0.0.1:5300', instances, failures, queries: 2 + 2 * instances.length, skippedOwn: 0 };
}

function fc(clusterID: string, o: { discoveryType?: ForeignCluster['spec']['discoveryType']; label?: string; owners?: string[]; join?: boolean; apiUrl?: string; name?: string } = {}): ForeignCluster {
  return {
    apiVersion: 'discovery.liqo.io/v1',
    kind: 'ForeignCluster',
    metadata: {
      name: o.name ?? clusterID,
      labels: { 'discovery.liqo.io/cluster-id': clusterID, ...(o.label ? { [LABEL]: o.label } : {}) },
      ownerReferences: (o.owners ?? []).map((uid) => ({ apiVersion: 'discovery.liqo.io/v1', kind: 'SearchDomain', name: uid.replace('uid-', ''), uid })),
    },
    spec: { clusterID, namespace: 'liqo', join: o.join ?? false, discoveryType: o.discoveryType ?? 'WAN', allowUntrustedCA: false, ...(o.apiUrl ? { apiUrl: o.apiUrl } : {}) },
  };
}

function input(domain: SearchDomain, result: BrowseResult, fcs: ForeignCluster[] = [], others: SearchDomain[] = []): SyncInput {
  return { sd: domain, result, foreignClusters: fcs, find: (id) => fcs.find((f) => f.spec.clusterID === id), otherDomains: others };
}

const AUTOJOIN = 'discovery.kubepeer.io/autojoin';

describe('planSync: found clusters', () => {
  it('creates WAN sightings labelled and owned by the SearchDomain; autojoin joins only a cluster whose TXT pins its CA, the others are listed', () => {
    const domain = sd('mydomain.com');
    const plan = planSync(input(domain, browse([found(B, 'b._liqo._tcp.mydomain.com.', { caFingerprint: PIN, clusterName: 'bee' }), found(C, 'c._liqo._tcp.mydomain.com.')])));
    expect(plan.sightings.map((p) => p.sighting)).toEqual([
      {
        clusterID: B,
        apiUrl: 'https://api-b.mydomain.com:6443',
        namespace: 'liqo',
        clusterName: 'bee',
        caFingerprint: PIN,
        source: 'WAN',
        join: true,
        annotations: { [AUTOJOIN]: 'CAPin' },
        labels: { [LABEL]: 'mydomain.com' },
        owner: { apiVersion: 'discovery.liqo.io/v1', kind: 'SearchDomain', name: 'mydomain.com', uid: 'uid-mydomain.com' },
        via: 'SearchDomain mydomain.com',
        dnsAddresses: { host: 'api-b.mydomain.com', addresses: ['127.0.0.1'], server: '127.0.0.1:5300' },
      },
      // no pin: a hint like a LAN sighting, listed for a person to connect, never trusted on first use by itself
      expect.objectContaining({ clusterID: C, join: false, annotations: { [AUTOJOIN]: 'NotProven' } }),
    ]);
    expect(plan.sightings[0]!.sighting.allowUntrustedCA).toBeUndefined();
    expect(plan.sightings[1]!.sighting.allowUntrustedCA).toBeUndefined();
    expect(plan.sightings.map((p) => p.foreignCluster)).toEqual([B, C]);
    expect(plan.releases).toEqual([]);
  });

  it('without autojoin neither joins nor marks anything, pin or not', () => {
    const off = planSync(input(sd('x', undefined, { autojoin: false }), browse([found(C, 'c._liqo._tcp.mydomain.com.'), found(B, 'b._liqo._tcp.mydomain.com.', { caFingerprint: PIN })])));
    for (const p of off.sightings) {
      expect(p.sighting.join).toBe(false);
      expect(p.sighting.annotations).toBeUndefined();
      expect(p.sighting.allowUntrustedCA).toBeUndefined();
    }
  });

  it('records the addresses the DNS server gave for the URL host (sorted), and keeps the recorded ones when the URL kept for stability is another target', () => {
    const two = found(B, 'b._liqo._tcp.mydomain.com.', {
      apiUrl: 'https://api1.mydomain.com:6443',
      target: 'api1.mydomain.com.',
      addresses: ['192.0.2.9', '192.0.2.1'],
      endpoints: [
        { target: 'api1.mydomain.com.', port: 6443, priority: 10, weight: 50 },
        { target: 'api2.mydomain.com.', port: 6443, priority: 10, weight: 50 },
      ],
    });
    const fresh = planSync(input(sd('x'), browse([two])));
    expect(fresh.sightings[0]!.sighting.dnsAddresses).toEqual({ host: 'api1.mydomain.com', addresses: ['192.0.2.1', '192.0.2.9'], server: '127.0.0.1:5300' });
    const recorded = { host: 'api2.mydomain.com', addresses: ['192.0.2.2'], server: '127.0.0.1:5300' };
    const onApi2 = { ...fc(B, { apiUrl: 'https://api2.mydomain.com:6443' }), status: { trustMode: 'Unknown' as const, dnsAddresses: recorded } };
    const kept = planSync(input(sd('x'), browse([two]), [onApi2]));
    expect(kept.sightings[0]!.sighting.apiUrl).toBe('https://api2.mydomain.com:6443');
    expect(kept.sightings[0]!.sighting.dnsAddresses).toEqual(recorded);
    const stale = { ...onApi2, status: { trustMode: 'Unknown' as const, dnsAddresses: { ...recorded, host: 'old.mydomain.com' } } };
    expect(planSync(input(sd('x'), browse([two]), [stale])).sightings[0]!.sighting.dnsAddresses).toBeUndefined();
  });

  it('leaves the label with another SearchDomain that still lists the cluster, so two domains never relabel it back and forth', () => {
    const other = sd('other', { clusters: [{ clusterID: B, foreignCluster: B, apiUrl: 'https://x:1', instance: 'b._liqo._tcp.other.' }] });
    const plan = planSync(input(sd('mine'), browse([found(B, 'b._liqo._tcp.mydomain.com.')]), [fc(B, { label: 'other', owners: ['uid-other'] })], [other]));
    expect(plan.sightings[0]!.sighting.labels).toEqual({});
    expect(plan.sightings[0]!.sighting.via).toBe('SearchDomain other');
    // It still becomes an owner, so deleting the other SearchDomain does not collect the cluster.
    expect(plan.sightings[0]!.sighting.owner?.uid).toBe('uid-mine');
  });

  it('takes the label over when its holder no longer lists the cluster', () => {
    const other = sd('other', { clusters: [] });
    const plan = planSync(input(sd('mine'), browse([found(B, 'b._liqo._tcp.mydomain.com.')]), [fc(B, { label: 'other' })], [other]));
    expect(plan.sightings[0]!.sighting.labels).toEqual({ [LABEL]: 'mine' });
    expect(plan.sightings[0]!.sighting.via).toBe('SearchDomain mine');
  });

  it('names the existing ForeignCluster in the plan, whatever its name', () => {
    const plan = planSync(input(sd('mine'), browse([found(B, 'b._liqo._tcp.mydomain.com.')]), [fc(B, { discoveryType: 'Manual', name: 'foreign-cluster' })]));
    expect(plan.sightings[0]!.foreignCluster).toBe('foreign-cluster');
  });
});

describe('stableApiUrl', () => {
  const two = found(B, 'b._liqo._tcp.mydomain.com.', {
    apiUrl: 'https://api1.mydomain.com:6443',
    target: 'api1.mydomain.com.',
    endpoints: [
      { target: 'api1.mydomain.com.', port: 6443, priority: 10, weight: 50 },
      { target: 'api2.mydomain.com.', port: 6443, priority: 10, weight: 50 },
      { target: 'backup.mydomain.com.', port: 6443, priority: 20, weight: 0 },
    ],
  });

  it('keeps the current URL while it is an SRV endpoint of the chosen priority (weighted choice is random per browse)', () => {
    expect(stableApiUrl(two, 'https://api2.mydomain.com:6443')).toBe('https://api2.mydomain.com:6443');
  });

  it('moves to the chosen endpoint when the current one is gone or only a lower-priority fallback', () => {
    expect(stableApiUrl(two, 'https://backup.mydomain.com:6443')).toBe('https://api1.mydomain.com:6443');
    expect(stableApiUrl(two, 'https://old.mydomain.com:6443')).toBe('https://api1.mydomain.com:6443');
    expect(stableApiUrl(two, undefined)).toBe('https://api1.mydomain.com:6443');
  });
});

describe('planSync: clusters that left the domain', () => {
  const before: SearchDomainStatus = {
    clusters: [
      { clusterID: B, foreignCluster: B, apiUrl: 'https://api-b.mydomain.com:6443', instance: 'b._liqo._tcp.mydomain.com.' },
      { clusterID: C, foreignCluster: C, apiUrl: 'https://api-c.mydomain.com:6443', instance: 'c._liqo._tcp.mydomain.com.' },
    ],
  };

  it('retires a WAN ForeignCluster that no SearchDomain lists any more (retireDiscovered decides delete or mark)', () => {
    const plan = planSync(input(sd('mine', before), browse([found(B, 'b._liqo._tcp.mydomain.com.')]), [fc(B), fc(C, { join: true })]));
    expect(plan.releases).toEqual([{ kind: 'retire', clusterID: C, why: 'no longer listed in mydomain.com. (SearchDomain mine)' }]);
  });

  it('finds the clusters it answered for through owner references and labels too, not only its status', () => {
    const plan = planSync(input(sd('mine'), browse([]), [fc(B, { owners: ['uid-mine'] }), fc(C, { label: 'mine' }), fc(D, { owners: ['uid-other'] })]));
    expect(plan.releases.map((r) => r.clusterID)).toEqual([B, C].sort());
  });

  it('keeps a cluster another SearchDomain still lists', () => {
    const other = sd('other', { clusters: [{ clusterID: C, instance: 'c._liqo._tcp.other.' }] });
    const plan = planSync(input(sd('mine', before), browse([found(B, 'b._liqo._tcp.mydomain.com.')]), [fc(B), fc(C, { owners: ['uid-mine', 'uid-other'] })], [other]));
    expect(plan.releases).toEqual([]);
  });

  it('only takes its label off a ForeignCluster that a person or LAN discovery made', () => {
    const plan = planSync(input(sd('mine', before), browse([found(B, 'b._liqo._tcp.mydomain.com.')]), [fc(B), fc(C, { discoveryType: 'Manual', label: 'mine', name: 'by-hand' })]));
    expect(plan.releases).toEqual([{ kind: 'unlabel', clusterID: C, foreignCluster: 'by-hand' }]);
    const unlabelled = planSync(input(sd('mine', before), browse([found(B, 'b._liqo._tcp.mydomain.com.')]), [fc(B), fc(C, { discoveryType: 'LAN' })]));
    expect(unlabelled.releases).toEqual([]);
  });

  it('keeps a cluster whose records could not be read this time (QueryFailed, DuplicateClusterID) and carries its entry', () => {
    const failures: InstanceFailure[] = [{ instance: 'c._liqo._tcp.mydomain.com.', reason: 'QueryFailed', message: 'SRV c._liqo._tcp.mydomain.com.: timeout' }];
    const plan = planSync(input(sd('mine', before), browse([found(B, 'b._liqo._tcp.mydomain.com.')], failures), [fc(B), fc(C)]));
    expect(plan.releases).toEqual([]);
    expect(plan.carried).toEqual([before.clusters![1]]);
  });

  it('retires a cluster whose records now say it is broken (TargetHasNoAddress)', () => {
    const failures: InstanceFailure[] = [{ instance: 'c._liqo._tcp.mydomain.com.', reason: 'TargetHasNoAddress', message: 'A api-c.mydomain.com.: NXDOMAIN' }];
    const plan = planSync(input(sd('mine', before), browse([found(B, 'b._liqo._tcp.mydomain.com.')], failures), [fc(B), fc(C)]));
    expect(plan.releases.map((r) => r.clusterID)).toEqual([C]);
    expect(plan.carried).toEqual([]);
  });

  it('retires nothing unresolved when the listing was cut at maxInstances', () => {
    const failures: InstanceFailure[] = [{ instance: 'mydomain.com.', reason: 'TooManyInstances', message: 'PTR mydomain.com.: 5000 instances listed' }];
    const plan = planSync(input(sd('mine', before), browse([found(B, 'b._liqo._tcp.mydomain.com.')], failures), [fc(B), fc(C)]));
    expect(plan.releases).toEqual([]);
    expect(plan.carried.map((c) => c.clusterID)).toEqual([C]);
  });
});

describe('nextStatus', () => {
  it('lists clusters and failures sorted by instance, with a Synced message that counts them', () => {
    const domain = sd('mine');
    const result = browse([found(C, 'c._liqo._tcp.mydomain.com.'), found(B, 'b._liqo._tcp.mydomain.com.')], [
      { instance: 'a._liqo._tcp.mydomain.com.', reason: 'TargetHasNoAddress', message: 'A x.: NXDOMAIN' },
    ]);
    const content = nextStatus(domain, result, planSync(input(domain, result)));
    expect(content.clusters.map((c) => c.clusterID)).toEqual([B, C]);
    expect(content.clusters[0]).toEqual({ clusterID: B, foreignCluster: B, apiUrl: 'https://api-b.mydomain.com:6443', instance: 'b._liqo._tcp.mydomain.com.' });
    expect(content.failures).toEqual([{ instance: 'a._liqo._tcp.mydomain.com.', reason: 'TargetHasNoAddress', message: 'A x.: NXDOMAIN' }]);
    expect(content.condition).toEqual({
      type: 'Synced',
      status: 'True',
      reason: 'Synced',
      message: '2 cluster(s) found in mydomain.com. (DNS server 127.0.0.1:5300); 1 instance(s) could not be used, see status.failures',
    });
  });

  it('moves a cluster the API server refused into failures (ForeignClusterRejected) and reports write errors as Synced=False', () => {
    const domain = sd('mine');
    const result = browse([found(B, 'b._liqo._tcp.mydomain.com.'), found(C, 'c._liqo._tcp.mydomain.com.')]);
    const plan = planSync(input(domain, result));
    const content = nextStatus(domain, result, plan, { rejected: new Map([[C, 'spec.apiUrl: Invalid value']]) });
    expect(content.clusters.map((c) => c.clusterID)).toEqual([B]);
    expect(content.failures).toEqual([{ instance: 'c._liqo._tcp.mydomain.com.', reason: 'ForeignClusterRejected', message: `ForeignCluster ${C}: spec.apiUrl: Invalid value` }]);
    const failing = nextStatus(domain, result, plan, { writeErrors: ['ForeignCluster for x: connection refused'] });
    expect(failing.condition).toMatchObject({ status: 'False', reason: 'ForeignClusterWriteFailed' });
    expect(failing.condition.message).toContain('connection refused');
  });
});

describe('statusPatch: write only what changed', () => {
  const domain = sd('mine');
  const result = browse([found(B, 'b._liqo._tcp.mydomain.com.')]);
  const content = nextStatus(domain, result, planSync(input(domain, result)));
  const first = statusPatch(domain, content, at(0))!;
  const written: SearchDomain = { ...domain, status: (first as { status: SearchDomainStatus }).status };

  it('writes clusters, failures, lastSync and Synced on the first sync', () => {
    expect(first).toEqual({
      status: {
        clusters: content.clusters,
        failures: [],
        lastSync: '2026-03-01T10:00:00Z',
        conditions: [expect.objectContaining({ type: 'Synced', status: 'True', reason: 'Synced', observedGeneration: 1, lastTransitionTime: '2026-03-01T10:00:00Z' })],
      },
    });
  });

  it('writes nothing for an unchanged resync, and refreshes lastSync alone only every few minutes', () => {
    expect(statusPatch(written, content, at(30))).toBeNull();
    expect(statusPatch(written, content, at(LAST_SYNC_REFRESH_MS / 1000 - 1))).toBeNull();
    const refresh = statusPatch(written, content, at(LAST_SYNC_REFRESH_MS / 1000)) as { status: SearchDomainStatus };
    expect(refresh.status.lastSync).toBe(new Date(T0 + LAST_SYNC_REFRESH_MS).toISOString().replace('.000Z', 'Z'));
    // The condition did not flip, so its transition time stays.
    expect(refresh.status.conditions![0]!.lastTransitionTime).toBe('2026-03-01T10:00:00Z');
  });

  it('writes at once, with a new lastSync, when the clusters change', () => {
    const more = browse([found(B, 'b._liqo._tcp.mydomain.com.'), found(C, 'c._liqo._tcp.mydomain.com.')]);
    const next = nextStatus(written, more, planSync(input(written, more)));
    const patch = statusPatch(written, next, at(10)) as { status: SearchDomainStatus };
    expect(patch.status.clusters).toHaveLength(2);
    expect(patch.status.lastSync).toBe('2026-03-01T10:00:10Z');
  });

  it('on a DNS failure writes only the condition, once, keeping clusters and lastSync', () => {
    const condition = failedSyncCondition(written, 'ConnectionRefused', 'PTR mydomain.com. @127.0.0.1:5300: connection refused');
    expect(condition.message).toBe('PTR mydomain.com. @127.0.0.1:5300: connection refused; the 1 cluster(s) found before are kept until the domain can be read again');
    const patch = statusPatch(written, { condition }, at(40)) as { status: SearchDomainStatus };
    expect(Object.keys(patch.status)).toEqual(['conditions']);
    expect(patch.status.conditions![0]).toMatchObject({ status: 'False', reason: 'ConnectionRefused', lastTransitionTime: '2026-03-01T10:00:40Z' });
    const failing: SearchDomain = { ...written, status: { ...written.status, conditions: patch.status.conditions } };
    expect(statusPatch(failing, { condition }, at(80))).toBeNull();
  });
});

describe('planEvents', () => {
  const domain = sd('mine');
  const result = browse([found(B, 'b._liqo._tcp.mydomain.com.')], [{ instance: 'x._liqo._tcp.mydomain.com.', reason: 'TargetHasNoAddress', message: 'A y.: NXDOMAIN' }]);
  const content = nextStatus(domain, result, planSync(input(domain, result)));
  const written: SearchDomain = { ...domain, status: (statusPatch(domain, content, at(0)) as { status: SearchDomainStatus }).status };

  it('announces new clusters and new failures, and nothing on a repeat', () => {
    expect(planEvents(domain, content)).toEqual([
      { type: 'Normal', reason: 'ClustersDiscovered', message: `1 new cluster(s) in mydomain.com: ${B} at https://api-b.mydomain.com:6443` },
      { type: 'Warning', reason: 'TargetHasNoAddress', message: 'x._liqo._tcp.mydomain.com.: A y.: NXDOMAIN' },
    ]);
    expect(planEvents(written, content)).toEqual([]);
  });

  it('warns once when the domain cannot be read and says when it recovers', () => {
    const condition = failedSyncCondition(written, 'Timeout', 'PTR mydomain.com. @127.0.0.1:5300: no answer');
    expect(planEvents(written, { condition })).toEqual([{ type: 'Warning', reason: 'SyncFailed', message: condition.message }]);
    const failing: SearchDomain = { ...written, status: { ...written.status, conditions: (statusPatch(written, { condition }, at(5)) as { status: SearchDomainStatus }).status.conditions } };
    expect(planEvents(failing, { condition })).toEqual([]);
    expect(planEvents(failing, content)).toEqual([expect.objectContaining({ type: 'Normal', reason: 'SyncRecovered' })]);
  });

  it('sums up failures beyond the per-instance limit in one Event', () => {
    const many: InstanceFailure[] = Array.from({ length: MAX_FAILURE_EVENTS + 5 }, (_, i) => ({ instance: `i${String(i).padStart(2, '0')}._liqo._tcp.mydomain.com.`, reason: 'MissingTXT', message: 'TXT: NXDOMAIN' }));
    const r = browse([], many);
    const events = planEvents(domain, nextStatus(domain, r, planSync(input(domain, r))));
    expect(events.filter((e) => e.reason === 'MissingTXT')).toHaveLength(MAX_FAILURE_EVENTS);
    expect(events.at(-1)).toEqual({ type: 'Warning', reason: 'InstancesFailed', message: '5 more instance(s) of mydomain.com could not be used; see status.failures' });
  });
});
