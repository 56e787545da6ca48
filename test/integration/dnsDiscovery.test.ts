/**
 * DNS discovery end to end: three real local control planes with their agents and a real named.
 * B and C are published in the zone of mydomain.com with the records `kubepeer dns records` prints
 * for them (B in the seed layout `PTR mydomain.com.` with its CA pin, C in the RFC 6763 layout
 * `PTR _liqo._tcp.mydomain.com.` without one), next to the first seed's broken example. The seed
 * SearchDomain (autojoin switched on) applied on A discovers both, peers with B (its TXT pins its
 * CA) and lists C (no pin) for a person to connect.
 *
 * Local API servers listen on 127.0.0.1 with random ports. B's API server is published under a
 * name only named knows (api-b.kubepeer.test, in B's serving certificate): A must connect to the
 * address named gave, with the name kept for TLS, since its system resolver does not know it. C's
 * certificate names `localhost`, so its SRV target is `localhost.` (served by named with A 127.0.0.1).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { lookup } from 'node:dns/promises';
import type { LocalCluster } from '../../src/localcluster/localCluster.js';
import { GVR, type ForeignCluster, type SearchDomain } from '../../src/api/crds.js';
import { Labels } from '../../src/api/constants.js';
import { Core, resourcePath, type KubeClient, type WatchEvent } from '../../src/k8s/rest.js';
import { getCondition } from '../../src/k8s/conditions.js';
import { certificateFingerprint } from '../../src/trust/pki.js';
import { publishRecords } from '../../src/discovery/dns/records.js';
import { LAST_SEEN_REFRESH_MS } from '../../src/discovery/foreignClusterUpsert.js';
import { LAST_SYNC_REFRESH_MS } from '../../src/discovery/dns/searchDomainPlan.js';
import { agentMetricsUrl, kubectl, kubepeer, startAgent, startCluster, type AgentProcess } from '../support/clusters.js';
import { startNamed, type NamedServer, type ZoneSpec } from '../support/bind9.js';
import { seedManifests } from '../support/seeds.js';
import { clusterIDOf, describeFC, foreignClusterByID, setClusterConfig, virtualNode, waitForReadyNode } from '../support/peering.js';
import { waitFor } from '../support/wait.js';

const DOMAIN = 'mydomain.com';
const AUTOJOIN = 'discovery.kubepeer.io/autojoin';
/** B's API server name: only named knows it (a zone of its own, under the .test TLD of RFC 6761). */
const B_HOST = 'api-b.kubepeer.test';
const OTHER = 'other.test';
/** The first seed's example: its SRV target (…api.server…) is not the name of its A record. */
const BROKEN_ID = 'ff5aa14a-dd6e-4fd2-80fe-eaecb827cf55';
/** A cluster published in OTHER that never peers (nothing listens at its URL). */
const D_ID = '0d0d0d0d-0000-4000-8000-00000000000d';
/** A cluster published in META, with a CA pin, whose API server name resolves to the metadata address. */
const E_ID = '0e0e0e0e-0000-4000-8000-00000000000e';
const META = 'meta.test';

let a: LocalCluster, b: LocalCluster, c: LocalCluster;
let A: KubeClient;
let agents: AgentProcess[] = [];
let metricsA: string;
let idA: string, idB: string, idC: string;
let dns: NamedServer | undefined;
let recordsB: string, recordsBOther: string, recordsC: string, recordsA: string;
/** A domain that only C browses (autojoin on): it lists A without a CA pin. */
const STRANGERS = 'strangers.test';

const port = (cluster: LocalCluster) => new URL(cluster.apiUrl).port;
const localUrl = (cluster: LocalCluster) => (cluster === b ? `https://${B_HOST}:${port(cluster)}` : `https://localhost:${port(cluster)}`);

/** Drops the PTR record at `owner` from `kubepeer dns records` output (to publish one layout only). */
function withoutPtrAt(records: string, owner: string): string {
  return records
    .split('\n')
    .filter((line) => {
      const [name, , , type] = line.trim().split(/\s+/);
      return !(name === owner && type === 'PTR');
    })
    .join('\n');
}

function recordsOf(cluster: LocalCluster, domain: string, name: string, extra: string[] = []): string {
  const r = kubepeer(['dns', 'records', '--domain', domain, '--name', name, '--api-url', localUrl(cluster), '--kubeconfig', cluster.kubeconfig, ...extra]);
  if (r.code !== 0) throw new Error(`kubepeer dns records failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

const brokenSeed = `
${DOMAIN}.                            PTR     liqo-cluster._liqo._tcp.${DOMAIN}.
liqo-cluster._liqo._tcp.${DOMAIN}.    SRV     0 0 6443 liqo-cluster-api.server.${DOMAIN}.
liqo-cluster._liqo._tcp.${DOMAIN}.    TXT     ( "id=${BROKEN_ID}"
                                                "namespace=liqo" )
liqo-cluster-api-server.${DOMAIN}.    A       127.0.0.1
`;

function zones(o: { withC: boolean; dPort: number | null; bAddress?: string | string[]; withMeta?: boolean }): ZoneSpec[] {
  const mine = [withoutPtrAt(recordsB, `_liqo._tcp.${DOMAIN}.`), brokenSeed];
  if (o.withC) mine.push(withoutPtrAt(recordsC, `${DOMAIN}.`));
  const other = [recordsBOther];
  if (o.dPort !== null) other.push(publishRecords({ domain: OTHER, instanceName: 'liqo-d', clusterID: D_ID, apiUrl: `https://localhost:${o.dPort}` }));
  return [
    { origin: DOMAIN, records: mine.join('\n') },
    { origin: OTHER, records: other.join('\n') },
    { origin: 'localhost', records: 'localhost. IN A 127.0.0.1' },
    { origin: 'kubepeer.test', records: [o.bAddress ?? '127.0.0.1'].flat().map((address) => `${B_HOST}. IN A ${address}`).join('\n') },
    { origin: STRANGERS, records: recordsA },
    ...(o.withMeta
      ? [
          {
            origin: META,
            records: publishRecords({ domain: META, instanceName: 'liqo-e', clusterID: E_ID, apiUrl: `https://api.${META}:6443`, caFingerprint: `sha256:${'e'.repeat(64)}`, addresses: ['169.254.169.254'] }),
          },
        ]
      : []),
  ];
}

const sdOf = (name: string) => A.getOrNull<SearchDomain>(resourcePath(GVR.searchDomain, { name }));
const describeSD = (name: string) => async () => {
  const sd = await sdOf(name);
  return { status: sd?.status, fcs: (await A.list<ForeignCluster>(resourcePath(GVR.foreignCluster))).items.map((f) => ({ name: f.metadata.name, labels: f.metadata.labels, conditions: f.status?.conditions?.map((x) => `${x.type}=${x.status} ${x.reason}`) })) };
};

async function metric(name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${metricsA}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

beforeAll(async () => {
  [a, b, c] = await Promise.all([startCluster('dns-a'), startCluster('dns-b', { extraSANs: [B_HOST] }), startCluster('dns-c')]);
  A = a.client();
  await Promise.all([
    setClusterConfig(b.client(), { peeringConfig: { acceptPolicy: 'AcceptAll', heartbeatSeconds: 2 } }),
    // C accepts only requesters it knows: its SearchDomain listing A without a pin must not make A known
    setClusterConfig(c.client(), { peeringConfig: { acceptPolicy: 'AutoAcceptKnown', heartbeatSeconds: 2 } }),
  ]);
  agents = [startAgent(a), startAgent(b), startAgent(c)];
  [metricsA] = await Promise.all(agents.map(agentMetricsUrl));
  [idA, idB, idC] = await Promise.all([clusterIDOf(A), clusterIDOf(b.client()), clusterIDOf(c.client())]);
  // B's pin needs its published CA: the agent writes liqo-cluster-info shortly after start.
  await waitFor("B's liqo-cluster-info", async () => (await b.client().getOrNull<{ data?: Record<string, string> }>(resourcePath(Core.configMaps, { namespace: 'liqo', name: 'liqo-cluster-info' })))?.data?.['ca.crt']);
  recordsB = recordsOf(b, DOMAIN, 'liqo-b');
  recordsBOther = recordsOf(b, OTHER, 'liqo-b');
  recordsC = recordsOf(c, DOMAIN, 'liqo-c', ['--no-ca-pin']);
  recordsA = recordsOf(a, STRANGERS, 'liqo-a', ['--no-ca-pin']);
  dns = await startNamed({ zones: zones({ withC: true, dPort: 1 }) });
  await Promise.all([
    setClusterConfig(A, { discoveryConfig: { dnsServer: dns.address, resyncSeconds: 3 } }),
    setClusterConfig(c.client(), { discoveryConfig: { dnsServer: dns.address, resyncSeconds: 3 } }),
  ]);
  const onC = kubepeer(['domain', 'add', STRANGERS, '--autojoin', '--kubeconfig', c.kubeconfig]);
  if (onC.code !== 0) throw new Error(`kubepeer domain add on C failed: ${onC.stderr}`);
});

afterAll(async () => {
  await Promise.all(agents.map((x) => x.stop()));
  await Promise.all([a?.stop(), b?.stop(), c?.stop()]);
  await dns?.stop();
});

describe('kubepeer dns records', () => {
  it('prints both browse layouts, SRV, TXT with the cluster ID and the CA pin of this cluster', () => {
    const ca = certificateFingerprint(readFileSync(b.caCert, 'utf8'));
    expect(recordsB).toMatch(new RegExp(`^mydomain\\.com\\.\\s+300 IN PTR\\s+liqo-b\\._liqo\\._tcp\\.mydomain\\.com\\.$`, 'm'));
    expect(recordsB).toMatch(new RegExp(`^_liqo\\._tcp\\.mydomain\\.com\\.\\s+300 IN PTR\\s+liqo-b\\._liqo\\._tcp\\.mydomain\\.com\\.$`, 'm'));
    expect(recordsB).toMatch(new RegExp(`IN SRV\\s+0 0 ${port(b)} ${B_HOST.replaceAll('.', '\\.')}\\.$`, 'm'));
    expect(recordsB).toContain(`"id=${idB}" "namespace=liqo" "name=dns-b" "ca=${ca}"`);
    expect(recordsC).not.toContain('ca=');
  });

  it('fails on stderr with a non-zero exit for a bad domain or URL', () => {
    const bad = kubepeer(['dns', 'records', '--domain', 'bad domain', '--kubeconfig', b.kubeconfig]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('domain "bad domain" is not valid');
    const http = kubepeer(['dns', 'records', '--domain', DOMAIN, '--api-url', 'http://x:1', '--kubeconfig', b.kubeconfig]);
    expect(http.code).not.toBe(0);
    expect(http.stderr).toContain('must use https');
    expect(http.stdout).toBe('');
  });
});

describe('the seed SearchDomain with autojoin', () => {
  it("discovers B and C as WAN ForeignClusters owned by the SearchDomain, and peers with B (its TXT pins its CA) at the address named gave for a name the system resolver does not know", async () => {
    // the premise: only named knows B's API server name
    await expect(lookup(B_HOST)).rejects.toMatchObject({ code: expect.stringMatching(/^(ENOTFOUND|EAI_AGAIN|EAI_NONAME)$/) });
    // B asks A first (a person's ForeignCluster on B): A holds a record made for that request, at
    // the URL B gives for itself, which is not the name the zone publishes.
    const toA = kubectl(b, ['apply', '-f', '-'], `apiVersion: discovery.liqo.io/v1
kind: ForeignCluster
metadata: { name: to-a }
spec: { clusterID: ${idA}, apiUrl: "${a.apiUrl}", join: true, allowUntrustedCA: true }
`);
    expect(toA.code, toA.stderr).toBe(0);
    const record = await waitFor("A's record for B's request", async () => {
      const f = await foreignClusterByID(A, idB);
      return f?.spec.discoveryType === 'IncomingPeering' ? f : undefined;
    }, { timeoutMs: 60_000, describe: describeFC(b.client(), 'to-a') });
    expect(record.spec.apiUrl).toBe(b.apiUrl);

    const seed = seedManifests().find((s) => s.kind === 'SearchDomain')!;
    expect(seed.apiVersion).toBe('discovery.liqo.io/v1');
    const applied = kubectl(a, ['apply', '-f', '-'], seed.yaml.replace('autojoin: false', 'autojoin: true'));
    expect(applied.code, applied.stderr).toBe(0);
    const sd = (await sdOf(DOMAIN))!;

    // The zone pins B's CA, so its listing takes the record over at the zone's URL.
    const [fcB, fcC] = await Promise.all(
      [idB, idC].map((id) =>
        waitFor(`WAN ForeignCluster for ${id}`, async () => {
          const f = await foreignClusterByID(A, id);
          return f?.spec.discoveryType === 'WAN' ? f : undefined;
        }, { timeoutMs: 60_000, describe: describeSD(DOMAIN) }),
      ),
    );
    expect(fcB!.metadata.name).toBe(idB);
    for (const [fc, cluster] of [[fcB!, b], [fcC!, c]] as const) {
      expect(fc.spec).toMatchObject({ discoveryType: 'WAN', apiUrl: localUrl(cluster), namespace: 'liqo', clusterName: cluster.name });
      expect(fc.metadata.labels).toMatchObject({ [Labels.searchDomain]: DOMAIN, [Labels.discoveryType]: 'WAN' });
      expect(fc.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'SearchDomain', name: DOMAIN, uid: sd.metadata.uid })]);
    }
    // B's TXT pin goes to spec.caFingerprint (the trust step checks it against the CA B presents)
    // and is why B is joined.
    expect(fcB!.spec).toMatchObject({ join: true, allowUntrustedCA: false, caFingerprint: certificateFingerprint(readFileSync(b.caCert, 'utf8')) });
    expect(fcB!.metadata.annotations?.[AUTOJOIN]).toBe('CAPin');
    expect(await foreignClusterByID(A, idA)).toBeUndefined();

    // What named resolved B's name to is on the ForeignCluster: the peering connects there.
    const withAddresses = await waitFor("B's addresses from named", async () => {
      const f = await foreignClusterByID(A, idB);
      return f?.status?.dnsAddresses ? f : undefined;
    });
    expect(withAddresses.status!.dnsAddresses).toEqual({ host: B_HOST, addresses: ['127.0.0.1'], server: dns!.address });
    await waitForReadyNode(A, idB, 150_000, describeFC(A, idB));
    const peered = (await foreignClusterByID(A, idB))!;
    expect(peered.status?.trustMode).toBe('Pinned');
    expect(peered.status?.apiUrl).toBe(localUrl(b));
    // A (AutoAcceptKnown) knows B by the pin its SearchDomain lists, which is the CA of B's request:
    // B's request, which came first, is accepted.
    await waitForReadyNode(b.client(), idA, 150_000, describeFC(b.client(), 'to-a'));
    // A writes its incoming state as it sends its Advertisement: B's node can be Ready a moment first
    await waitFor("A's incoming peering with B Established", async () => (await foreignClusterByID(A, idB))?.status?.incoming?.phase === 'Established', { timeoutMs: 30_000, describe: describeFC(A, idB) });
    expect((await A.list<ForeignCluster>(resourcePath(GVR.foreignCluster))).items.filter((f) => f.spec.clusterID === idB)).toHaveLength(1);
  });

  it('lists C, whose TXT has no CA pin, for a person to connect: no request, no virtual node, until kubepeer peer join', async () => {
    const fcC = await waitFor('C listed (join: false)', async () => {
      const f = await foreignClusterByID(A, idC);
      return f?.status?.outgoing?.reason === 'JoinDisabled' ? f : undefined;
    }, { describe: describeFC(A, idC) });
    expect(fcC.spec).toMatchObject({ join: false, allowUntrustedCA: false });
    expect(fcC.spec.caFingerprint).toBeUndefined();
    expect(fcC.metadata.annotations?.[AUTOJOIN]).toBe('NotProven');
    expect(await c.client().getOrNull(resourcePath(GVR.peeringRequest, { name: idA }))).toBeNull();
    expect(await A.getOrNull(resourcePath(Core.secrets, { namespace: 'liqo', name: `liqo-remote-${idC}` }))).toBeNull();
    expect(await virtualNode(A, idC)).toBeNull();
    // C's own SearchDomain lists A without a pin, with autojoin: C lists A too, and does not join it.
    const aOnC = await waitFor('A listed on C', () => foreignClusterByID(c.client(), idA), { describe: describeFC(c.client(), idA) });
    expect(aOnC.spec).toMatchObject({ discoveryType: 'WAN', join: false, allowUntrustedCA: false });
    expect(aOnC.metadata.annotations?.[AUTOJOIN]).toBe('NotProven');

    // A person's connect trusts C's CA on first use, as connecting a LAN stranger does.
    const joined = kubepeer(['peer', 'join', idC, '--kubeconfig', a.kubeconfig]);
    expect(joined.code, joined.stderr).toBe(0);
    // C (AutoAcceptKnown) does not know A by a DNS listing without a pin: A's request waits for a person on C.
    await waitFor("A's request waiting for approval on C", async () => (await foreignClusterByID(A, idC))?.status?.outgoing?.reason === 'WaitingForApproval', {
      timeoutMs: 120_000,
      describe: describeFC(A, idC),
    });
    expect(await virtualNode(A, idC)).toBeNull();
    const accepted = kubepeer(['peer', 'accept', idA, '--kubeconfig', c.kubeconfig]);
    expect(accepted.code, accepted.stderr).toBe(0);
    await waitForReadyNode(A, idC, 150_000, describeFC(A, idC));
    const peered = (await foreignClusterByID(A, idC))!;
    expect(peered.spec).toMatchObject({ join: true, allowUntrustedCA: true });
    expect(peered.metadata.annotations?.[AUTOJOIN]).toBeUndefined();
    expect(peered.status?.trustMode).toBe('Untrusted');
  });

  it('reports the clusters found and fails only the broken seed instance, with the reason in status', async () => {
    const sd = await waitFor('SearchDomain status with both clusters', async () => {
      const s = await sdOf(DOMAIN);
      return s?.status?.clusters?.length === 2 ? s : undefined;
    }, { describe: describeSD(DOMAIN) });
    expect(sd.status!.clusters).toEqual([
      { clusterID: idB, foreignCluster: idB, apiUrl: localUrl(b), instance: `liqo-b._liqo._tcp.${DOMAIN}.` },
      { clusterID: idC, foreignCluster: idC, apiUrl: localUrl(c), instance: `liqo-c._liqo._tcp.${DOMAIN}.` },
    ]);
    expect(sd.status!.failures).toEqual([
      {
        instance: `liqo-cluster._liqo._tcp.${DOMAIN}.`,
        reason: 'TargetHasNoAddress',
        message: expect.stringContaining(`A liqo-cluster-api.server.${DOMAIN}.: NXDOMAIN`),
      },
    ]);
    expect(await foreignClusterByID(A, BROKEN_ID)).toBeUndefined();
    expect(getCondition(sd.status!.conditions, 'Synced')).toMatchObject({ status: 'True', reason: 'Synced' });
    expect(sd.status!.lastSync).toBeDefined();

    const events = kubectl(a, ['get', 'events', '-n', 'default', '--field-selector', `involvedObject.name=${DOMAIN}`, '-o', 'json']);
    const reasons = (JSON.parse(events.stdout) as { items: { reason: string }[] }).items.map((e) => e.reason);
    expect(reasons).toEqual(expect.arrayContaining(['ClustersDiscovered', 'TargetHasNoAddress']));

    const listed = kubepeer(['domain', 'list', '--kubeconfig', a.kubeconfig]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(new RegExp(`^${DOMAIN.replace('.', '\\.')}\\s+${DOMAIN.replace('.', '\\.')}\\s+true\\s+True\\s+2\\s+1\\s+`, 'm'));
    const json = JSON.parse(kubepeer(['domain', 'list', '-o', 'json', '--kubeconfig', a.kubeconfig]).stdout) as { kind: string; items: SearchDomain[] };
    expect(json.kind).toBe('List');
    expect(json.items.map((d) => d.metadata.name)).toEqual([DOMAIN]);
  });
});

describe('a second SearchDomain and zone changes', () => {
  it('a second SearchDomain (kubepeer domain add) listing B as well shares B without relabelling or re-joining it, and finds D', async () => {
    const added = kubepeer(['domain', 'add', OTHER, '--name', 'other', '--wait', '--kubeconfig', a.kubeconfig]);
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toContain('searchdomain/other created (domain other.test, autojoin false)');
    expect(added.stdout).toContain(`found ${D_ID}`);
    const other = (await sdOf('other'))!;
    const fcD = await waitFor('ForeignCluster D', () => foreignClusterByID(A, D_ID));
    expect(fcD.spec).toMatchObject({ join: false, allowUntrustedCA: false, apiUrl: 'https://localhost:1' });
    expect(fcD.metadata.labels?.[Labels.searchDomain]).toBe('other');

    const fcB = await waitFor('B owned by both SearchDomains', async () => {
      const f = await foreignClusterByID(A, idB);
      return f?.metadata.ownerReferences?.length === 2 ? f : undefined;
    }, { describe: describeSD('other') });
    expect(fcB.metadata.ownerReferences!.map((o) => o.name).sort()).toEqual([DOMAIN, 'other']);
    expect(fcB.metadata.labels?.[Labels.searchDomain]).toBe(DOMAIN);
    expect(fcB.spec.join).toBe(true);
    expect(other.status?.clusters?.map((x) => x.clusterID).sort()).toEqual([idB, D_ID].sort());
  });

  it('after a zone change: a removed peered cluster is kept with Discovered=False, a never-peered one follows its new URL, then is deleted when removed', async () => {
    await dns!.reload(zones({ withC: false, dPort: 2 }));
    const fcC = await waitFor('C marked Discovered=False', async () => {
      const f = await foreignClusterByID(A, idC);
      return getCondition(f?.status?.conditions, 'Discovered')?.status === 'False' ? f : undefined;
    }, { describe: describeSD(DOMAIN) });
    expect(getCondition(fcC.status?.conditions, 'Discovered')).toMatchObject({ reason: 'NoLongerSeen', message: `no longer listed in ${DOMAIN}. (SearchDomain ${DOMAIN})` });
    expect(fcC.spec.join).toBe(true);
    expect(await virtualNode(A, idC)).not.toBeNull();
    await waitFor("D's new URL followed", async () => (await foreignClusterByID(A, D_ID))?.spec.apiUrl === 'https://localhost:2');
    const sd = await waitFor('status without C', async () => {
      const s = await sdOf(DOMAIN);
      return s?.status?.clusters?.length === 1 ? s : undefined;
    });
    expect(sd.status!.clusters![0]!.clusterID).toBe(idB);

    await dns!.reload(zones({ withC: false, dPort: null }));
    await waitFor('D deleted (never peered)', async () => (await foreignClusterByID(A, D_ID)) === undefined, { describe: describeSD('other') });
    // B is still listed by both and untouched.
    expect(getCondition((await foreignClusterByID(A, idB))!.status?.conditions, 'Discovered')?.status).toBe('True');
  });

  it('an unchanged resync makes no API writes (two resyncs of both SearchDomains watched)', async () => {
    // Let the syncs that follow the last change settle: both SearchDomains report the new zone.
    await waitFor('other without D', async () => (await sdOf('other'))?.status?.clusters?.length === 1);
    const fcPath = resourcePath(GVR.foreignCluster);
    const sdPath = resourcePath(GVR.searchDomain);
    const [fcList, sdList] = await Promise.all([A.list<ForeignCluster>(fcPath), A.list<SearchDomain>(sdPath)]);
    const previous = new Map<string, ForeignCluster | SearchDomain>([...fcList.items, ...sdList.items].map((o) => [`${o.kind ?? ''}/${o.metadata.name}`, o]));
    const writes: string[] = [];
    const allowedRefreshes: string[] = [];
    const abort = new AbortController();
    const onEvent = (kind: string) => (e: WatchEvent<ForeignCluster | SearchDomain>) => {
      if (e.type === 'BOOKMARK') return;
      const key = `${kind}/${e.object.metadata.name}`;
      const before = previous.get(key);
      previous.set(key, e.object);
      const what = discoveryChange(kind, before, e.object, e.type);
      if (what === 'refresh') allowedRefreshes.push(key);
      else if (what) writes.push(`${e.type} ${key}: ${what}`);
    };
    const watches = [
      A.watch(fcPath, { resourceVersion: fcList.metadata.resourceVersion, allowWatchBookmarks: true }, onEvent('ForeignCluster'), abort.signal).catch(() => {}),
      A.watch(sdPath, { resourceVersion: sdList.metadata.resourceVersion, allowWatchBookmarks: true }, onEvent('SearchDomain'), abort.signal).catch(() => {}),
    ];
    const syncs = () => metric('kubepeer_discovery_dns_syncs_total', 'result="success"');
    const start = await syncs();
    // Two resyncs of each of the two SearchDomains, counted by the agent itself.
    await waitFor('4 more successful syncs', async () => (await syncs()) >= start + 4, { timeoutMs: 60_000 });
    abort.abort();
    await Promise.all(watches);
    expect(writes, `writes seen during unchanged resyncs (refreshes allowed: ${allowedRefreshes.join(', ')})`).toEqual([]);
    expect(await metric('kubepeer_discovery_dns_queries_total')).toBeGreaterThan(0);
  });

  it('refuses to connect where a DNS answer points at the metadata address: Reachable=False/ForbiddenAddress and an Event, nothing sent', async () => {
    await dns!.reload(zones({ withC: false, dPort: null, withMeta: true }));
    const added = kubepeer(['domain', 'add', META, '--name', 'meta', '--autojoin', '--wait', '--kubeconfig', a.kubeconfig]);
    expect(added.code, added.stderr).toBe(0);
    try {
      // its TXT pins a CA, so the SearchDomain joins it: the address policy is what stops it
      const fcE = await waitFor('E refused', async () => {
        const f = await foreignClusterByID(A, E_ID);
        return getCondition(f?.status?.conditions, 'Reachable')?.reason === 'ForbiddenAddress' ? f : undefined;
      }, { timeoutMs: 120_000, describe: describeFC(A, E_ID) });
      expect(fcE.spec.join).toBe(true);
      expect(fcE.status?.dnsAddresses).toEqual({ host: `api.${META}`, addresses: ['169.254.169.254'], server: dns!.address });
      const reachable = getCondition(fcE.status?.conditions, 'Reachable')!;
      expect(reachable.status).toBe('False');
      expect(reachable.message).toBe(
        `api.${META} of https://api.${META}:6443 resolves (DNS server ${dns!.address}) to 169.254.169.254, a link-local address (where cloud metadata services live); refusing to connect to it; nothing was sent`,
      );
      expect(fcE.status?.outgoing).toMatchObject({ phase: 'Pending', reason: 'ForbiddenAddress' });
      const events = JSON.parse(kubectl(a, ['get', 'events', '-n', 'default', '--field-selector', `involvedObject.name=${E_ID}`, '-o', 'json']).stdout) as { items: { reason: string; message: string }[] };
      expect(events.items).toContainEqual(expect.objectContaining({ reason: 'ForbiddenAddress', message: reachable.message }));
      expect(await A.getOrNull(resourcePath(Core.secrets, { namespace: 'liqo', name: `liqo-remote-${E_ID}` }))).toBeNull();
    } finally {
      expect(kubepeer(['domain', 'remove', 'meta', '--kubeconfig', a.kubeconfig]).code).toBe(0);
      await A.delete(resourcePath(GVR.foreignCluster, { name: E_ID }));
      await dns!.reload(zones({ withC: false, dPort: null }));
    }
  });

  it("follows B's address when named changes it: the peering is checked again at the new address, from the same server", async () => {
    const reachable = (f: ForeignCluster | undefined) => getCondition(f?.status?.conditions, 'Reachable');
    await dns!.reload(zones({ withC: false, dPort: null, bAddress: '127.0.0.9' }));
    const moved = await waitFor('B unreachable at 127.0.0.9', async () => {
      const f = await foreignClusterByID(A, idB);
      return f?.status?.dnsAddresses?.addresses.join() === '127.0.0.9' && reachable(f)?.status === 'False' ? f : undefined;
    }, { timeoutMs: 120_000, describe: describeFC(A, idB) });
    expect(reachable(moved)).toMatchObject({ reason: 'Unreachable', message: expect.stringContaining(`${localUrl(b)} (at 127.0.0.9, from DNS server ${dns!.address}) is not reachable`) });

    // Two A records, the first dead (an HA control plane with a member down; discovery keeps them
    // sorted, so 127.0.0.0 comes first): the trust step passes on to the one that answers
    await dns!.reload(zones({ withC: false, dPort: null, bAddress: ['127.0.0.1', '127.0.0.0'] }));
    const both = await waitFor('B reachable again at its second address', async () => {
      const f = await foreignClusterByID(A, idB);
      return f?.status?.dnsAddresses?.addresses.join() === '127.0.0.0,127.0.0.1' && reachable(f)?.status === 'True' ? f : undefined;
    }, { timeoutMs: 120_000, describe: describeFC(A, idB) });
    expect(getCondition(both.status?.conditions, 'Reachable')?.message).toBe(`${localUrl(b)} answered over verified TLS at 127.0.0.1`);
    await waitForReadyNode(A, idB, 120_000, describeFC(A, idB));
    expect((await foreignClusterByID(A, idB))!.status?.outgoing?.phase).toBe('Established');
  });

  it('a DNS server that does not answer sets Synced=False naming the failing query, and keeps every ForeignCluster', async () => {
    const address = dns!.address;
    await dns!.stop();
    dns = undefined;
    const sd = await waitFor('Synced=False', async () => {
      const s = await sdOf(DOMAIN);
      return getCondition(s?.status?.conditions, 'Synced')?.status === 'False' ? s : undefined;
    }, { timeoutMs: 60_000, describe: describeSD(DOMAIN) });
    const synced = getCondition(sd.status!.conditions, 'Synced')!;
    expect(['ConnectionRefused', 'Timeout']).toContain(synced.reason);
    expect(synced.message).toContain(`PTR `);
    expect(synced.message).toContain(`${DOMAIN}. @${address}`);
    expect(synced.message).toContain('found before are kept');
    expect(sd.status!.clusters!.map((x) => x.clusterID)).toEqual([idB]);
    // A few more failed resyncs later, nothing was retired.
    const failedBefore = await metric('kubepeer_discovery_dns_syncs_total', 'result="dns_error"');
    await waitFor('2 more failed syncs', async () => (await metric('kubepeer_discovery_dns_syncs_total', 'result="dns_error"')) >= failedBefore + 2, { timeoutMs: 60_000 });
    const fcB = (await foreignClusterByID(A, idB))!;
    expect(getCondition(fcB.status?.conditions, 'Discovered')?.status).toBe('True');
    expect(await foreignClusterByID(A, idC)).toBeDefined();
    expect(await virtualNode(A, idB)).not.toBeNull();
    const listed = kubepeer(['domain', 'list', '-o', 'wide', '--kubeconfig', a.kubeconfig]);
    // NAME DOMAIN AUTOJOIN SYNCED REASON CLUSTERS ...: the reason says why it is not synced.
    expect(listed.stdout).toMatch(new RegExp(`^${DOMAIN.replace('.', '\\.')}\\s+${DOMAIN.replace('.', '\\.')}\\s+true\\s+False\\s+(ConnectionRefused|Timeout)\\s+1\\s+`, 'm'));
  });

  it('kubepeer domain remove deletes the SearchDomain and says which ForeignClusters go with it', async () => {
    const removed = kubepeer(['domain', 'remove', 'other', '--kubeconfig', a.kubeconfig]);
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stdout).toContain('searchdomain/other deleted');
    expect(await sdOf('other')).toBeNull();
    // B is still owned by the seed SearchDomain: the garbage collector keeps it.
    const missing = kubepeer(['domain', 'remove', 'nope', '--kubeconfig', a.kubeconfig]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('no SearchDomain "nope"');
    expect(await foreignClusterByID(A, idB)).toBeDefined();
  });
});

/**
 * What a watch event changed that discovery owns, or undefined when nothing of discovery's moved
 * (other controllers write their own status fields). 'refresh' is the periodic lastSeen stamp,
 * allowed only once the previous one is LAST_SEEN_REFRESH_MS old.
 */
function discoveryChange(kind: string, before: ForeignCluster | SearchDomain | undefined, after: ForeignCluster | SearchDomain, type: string): string | 'refresh' | undefined {
  if (type !== 'MODIFIED' || !before) return `${type} (no earlier version)`;
  if (kind === 'SearchDomain') {
    // Only the agent writes SearchDomain status: any change counts, but the periodic lastSync stamp.
    const x = before as SearchDomain;
    const y = after as SearchDomain;
    const rest = (d: SearchDomain) => JSON.stringify({ spec: d.spec, status: { ...d.status, lastSync: undefined } });
    if (rest(x) !== rest(y)) return `spec or status changed: ${rest(x)} -> ${rest(y)}`;
    if (x.status?.lastSync === y.status?.lastSync) return undefined;
    return Date.parse(y.status?.lastSync ?? '') - Date.parse(x.status?.lastSync ?? '') >= LAST_SYNC_REFRESH_MS ? 'refresh' : `lastSync ${x.status?.lastSync} -> ${y.status?.lastSync}`;
  }
  const x = before as ForeignCluster;
  const y = after as ForeignCluster;
  const owned = (f: ForeignCluster) =>
    JSON.stringify({ spec: f.spec, labels: f.metadata.labels, owners: f.metadata.ownerReferences, discovered: getCondition(f.status?.conditions, 'Discovered') });
  if (owned(x) !== owned(y)) return `spec, labels, owners or Discovered changed: ${owned(x)} -> ${owned(y)}`;
  const seenX = x.status?.lastSeen?.WAN;
  const seenY = y.status?.lastSeen?.WAN;
  if (seenX === seenY) return undefined;
  return seenX && Date.parse(seenY ?? '') - Date.parse(seenX) >= LAST_SEEN_REFRESH_MS ? 'refresh' : `lastSeen.WAN ${seenX} -> ${seenY}`;
}
